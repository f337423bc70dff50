package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/jmake/jmake/internal/daemon"
	"github.com/jmake/jmake/internal/lifecycle"
	"github.com/jmake/jmake/internal/server"
	"github.com/jmake/jmake/internal/settings"
	"github.com/jmake/jmake/internal/statedir"
)

func daemonCmd(g *globals) *cobra.Command {
	var noPersist bool
	cmd := &cobra.Command{
		Use:   "daemon <discovery|setup|compilation|orchestrator>",
		Short: "Run one daemon in the foreground (what start, supervise, systemd and supervisord run)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if _, err := lifecycle.CheckNames(args); err != nil {
				return err
			}
			return runDaemon(g, name, noPersist)
		},
	}
	cmd.Flags().BoolVar(&noPersist, "no-persist", false, "keep caches in memory only")
	return cmd
}

// orchestratorProcs is the orchestrator's GOMAXPROCS: its work is relaying
// calls and answering no-op builds from its watch, a few hundred
// microseconds each, and with one P per core a request that finds the
// daemon idle wakes a chain of its threads across cores. A 200-unit no-op
// after 50 ms of quiet, 41 runs interleaved with ninja, three rounds: 2.72–
// 2.92 ms with one P, 2.92–3.20 ms with two. An explicit GOMAXPROCS in the
// environment is obeyed.
const orchestratorProcs = 1

// runDaemon serves until SIGTERM, SIGINT or /v1/shutdown, then shuts down
// gracefully; a second SIGTERM or SIGINT exits at once. SIGHUP reloads.
func runDaemon(g *globals, name string, noPersist bool) error {
	env, err := g.env()
	if err != nil {
		return err
	}
	if err := settings.EnsureStateDir(env.StateDir); err != nil {
		return err
	}
	s := env.Settings
	if noPersist {
		s.Persist = false
	}
	if name == settings.Orchestrator && os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(orchestratorProcs)
	}
	level := new(slog.LevelVar)
	if l, err := settings.ParseLevel(s.LogLevel); err == nil {
		level.Set(l)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	token, err := daemon.LoadOrCreateToken(env.StateDir)
	if err != nil {
		return err
	}
	d, err := server.New(daemon.Options{
		Name:     name,
		Addr:     env.Addr(name),
		Socket:   statedir.SocketPath(env.StateDir, name),
		StateDir: env.StateDir,
		Token:    token,
		Settings: s,
		Logger:   logger,
		LogLevel: level,
	}, env.Client)
	if err != nil {
		return err
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		stopping := false
		for {
			select {
			case sig := <-sigs:
				switch {
				case sig == syscall.SIGHUP:
					d.Reload()
				case stopping:
					logger.Warn("shutdown: second signal, exiting at once", "daemon", name, "signal", sig.String())
					os.Exit(1)
				default:
					stopping = true
					logger.Info("shutdown: signal received, draining", "daemon", name, "signal", sig.String())
					d.Shutdown()
				}
			case <-d.Done():
				return
			}
		}
	}()
	// Serve's context is not the command's: signals are handled above so
	// that the second one can exit at once.
	return d.Serve(context.Background())
}
