// Command jmake builds C and C++ projects through four long-lived daemons
// (discovery, setup, compilation, orchestrator) and manages their lifecycle.
// Every subcommand is thin: it parses flags and calls a package.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/jmake/jmake/internal/daemon"
	"github.com/jmake/jmake/internal/interrupt"
	"github.com/jmake/jmake/internal/lifecycle"
	"github.com/jmake/jmake/internal/render"
	"github.com/jmake/jmake/internal/settings"
)

// globals are the flags every subcommand shares, and what main needs to
// know about the run.
type globals struct {
	portOffset int
	// parsed is set once cobra has parsed the command line and is about
	// to run a command: an error before that is a usage error.
	parsed bool
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

// onDaemons makes a command body that works on the daemons named in its
// arguments (all four when none) the command's RunE: the names are checked
// and their environment resolved before run is called.
func (g *globals) onDaemons(run func(cmd *cobra.Command, names []string, env lifecycle.Env) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		names, env, err := g.daemons(args)
		if err != nil {
			return err
		}
		return run(cmd, names, env)
	}
}

// onEnv makes a command body that needs the daemons' environment the
// command's RunE: the environment is resolved before run is called.
func (g *globals) onEnv(run func(cmd *cobra.Command, args []string, env lifecycle.Env) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		env, err := g.env()
		if err != nil {
			return err
		}
		return run(cmd, args, env)
	}
}

// onProject makes a command body that works on a project, [dir] [name...],
// the command's RunE: the arguments are split by projectArgs (dir made
// absolute) before run is called.
func onProject(run func(cmd *cobra.Command, dir string, names []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		dir, names, err := projectArgs(args)
		if err != nil {
			return err
		}
		return run(cmd, dir, names)
	}
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "jmake",
		Short:         "Build C and C++ projects through long-lived daemons that keep every cache warm",
		Version:       daemon.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(*cobra.Command, []string) {
			g.parsed = true
		},
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
	ctx, cancel := context.WithCancel(context.Background())
	// Signals stay caught until the command returns (a supervisor
	// stopping its daemons is not cut short by a second one).
	sigs := interrupt.Catch(cancel)
	g := &globals{}
	err := newRoot(g).ExecuteContext(ctx)
	sigs.Stop()
	cancel()
	code := exitStatus(err, g.parsed, sigs.Interrupted())
	render.FinalError(os.Stderr, err, code, !g.parsed)
	os.Exit(code)
}
