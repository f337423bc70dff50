// Command jmake builds C and C++ projects through four long-lived daemons
// (discovery, setup, compilation, orchestrator) and manages their lifecycle.
// Every subcommand is thin: it parses flags and calls a package.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/jmake/jmake/internal/daemon"
	"github.com/jmake/jmake/internal/lifecycle"
	"github.com/jmake/jmake/internal/settings"
)

// exitError carries an exit status other than 1 (status exits 3 when a
// daemon is not running, as LSB init scripts do). An empty message prints
// nothing.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// globals are the flags every subcommand shares.
type globals struct {
	portOffset int
}

func (g *globals) env() (lifecycle.Env, error) {
	return lifecycle.NewEnv(g.portOffset)
}

// daemons checks the daemon names a command was given (all four when none)
// and resolves the environment they live in.
func (g *globals) daemons(args []string) ([]string, lifecycle.Env, error) {
	names, err := lifecycle.CheckNames(args)
	if err != nil {
		return nil, lifecycle.Env{}, err
	}
	env, err := g.env()
	return names, env, err
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "jmake",
		Short:         "Build C and C++ projects through long-lived daemons that keep every cache warm",
		Version:       daemon.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	offset, err := settings.PortOffset()
	if err != nil {
		fmt.Fprintln(os.Stderr, "jmake: warning:", err)
	}
	root.PersistentFlags().IntVar(&g.portOffset, "port-offset", offset, "shift all four daemon ports by N (env PORT_OFFSET)")
	root.AddCommand(
		daemonCmd(g),
		startCmd(g), stopCmd(g), statusCmd(g), restartCmd(g), logsCmd(g),
		callCmd(g), metricsCmd(g),
	)
	root.AddCommand(superviseCommands(g)...)
	addProjectCommands(root, g)
	return root
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err == nil {
		return
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, "jmake:", ee.msg)
		}
		os.Exit(ee.code)
	}
	fmt.Fprintln(os.Stderr, "jmake:", err)
	os.Exit(1)
}
