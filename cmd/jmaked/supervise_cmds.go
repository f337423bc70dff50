package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/jmake/jmake/internal/controller"
	"github.com/jmake/jmake/internal/lifecycle"
	"github.com/jmake/jmake/internal/settings"
	"github.com/jmake/jmake/internal/supervisor"
)

// superviseCommands are the commands that keep the daemons up.
func superviseCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{superviseCmd(g), healthCmd(g), reloadCmd(g), resetCmd(g), upgradeCmd(g), serviceCmd(g)}
}

func superviseCmd(g *globals) *cobra.Command {
	var noPersist bool
	cmd := &cobra.Command{
		Use:   "supervise [name...]",
		Short: "Run the daemons in the foreground and keep them up (restart on death or hang; SIGHUP reloads)",
		RunE: g.onDaemons(func(cmd *cobra.Command, names []string, env lifecycle.Env) error {
			logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
			s := supervisor.New(supervisor.Options{Env: env, Names: names, Logger: logger,
				Start: lifecycle.StartOptions{NoPersist: noPersist}})
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			ctx := cmd.Context() // ends on SIGTERM or SIGINT (main)
			go func() {
				for {
					select {
					case <-hup:
						s.ReloadAll(ctx)
					case <-ctx.Done():
						return
					}
				}
			}()
			return s.Run(ctx)
		}),
	}
	cmd.Flags().BoolVar(&noPersist, "no-persist", false, "keep caches in memory only")
	return cmd
}

func healthCmd(g *globals) *cobra.Command {
	var restart bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "health [name...]",
		Short: "One-shot health check (process alive and /healthz answering); exit 0 only when all are healthy",
		RunE: g.onDaemons(func(cmd *cobra.Command, names []string, env lifecycle.Env) error {
			w := cmd.OutOrStdout()
			down := checkHealth(cmd.Context(), w, env, names, timeout, !restart)
			if len(down) > 0 && restart {
				fmt.Fprintf(w, "restarting %s\n", strings.Join(down, ", "))
				if err := controller.For(env).Revive(cmd.Context(), w, down); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "jmake:", err)
				}
				down = checkHealth(cmd.Context(), w, env, names, timeout, true)
			}
			if len(down) > 0 {
				return &exitError{code: 1, msg: fmt.Sprintf("%d of %d daemons unhealthy: %s", len(down), len(names), strings.Join(down, ", "))}
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&restart, "restart", false, "restart the daemons that are down or not answering")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Second, "how long /healthz may take")
	return cmd
}

// checkHealth prints one line per daemon and returns those unhealthy.
func checkHealth(ctx context.Context, w io.Writer, env lifecycle.Env, names []string, timeout time.Duration, print bool) []string {
	var down []string
	for _, n := range names {
		info, stale := env.Inspect(n)
		line := ""
		switch {
		case info.PID == 0 && stale != "":
			line = "DOWN (stale PID file: " + stale + ")"
		case info.PID == 0:
			line = holderLine(ctx, env, n)
		default:
			begin := time.Now()
			h, err := env.Probe(ctx, n, timeout)
			switch {
			case err != nil:
				line = fmt.Sprintf("UNHEALTHY (pid %d alive, /healthz: %v)", info.PID, err)
			default:
				line = fmt.Sprintf("ok (pid %d, port %d, /healthz in %.1f ms)", h.PID, env.Port(n), float64(time.Since(begin).Microseconds())/1000)
			}
		}
		if !strings.HasPrefix(line, "ok") {
			down = append(down, n)
		}
		if print {
			fmt.Fprintf(w, "%-12s %s\n", n, line)
		}
	}
	return down
}

// holderLine describes daemon n when no PID file names it: down, or
// running without its PID file, or its port held by a daemon not ours.
func holderLine(ctx context.Context, env lifecycle.Env, n string) string {
	h, answered, err := env.PortOwner(ctx, n)
	switch {
	case !answered:
		return "DOWN (not running)"
	case err != nil:
		return "NOT OURS (" + err.Error() + ")"
	}
	return fmt.Sprintf("ok (pid %d, port %d; its PID file is missing: the daemon writes it again)", h.PID, env.Port(n))
}

func reloadCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "reload [name...]",
		Short: "Re-read config.toml in the running daemons, keeping their caches (a bad config is rejected)",
		RunE: g.onDaemons(func(cmd *cobra.Command, names []string, env lifecycle.Env) error {
			failed := 0
			for _, n := range names {
				ctx, cancel := context.WithTimeout(cmd.Context(), lifecycle.ReloadTimeout)
				err := env.Client(n).Reload(ctx)
				cancel()
				if err != nil {
					failed++
					fmt.Fprintf(cmd.OutOrStdout(), "%-12s reload failed: %v\n", n, err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-12s reloaded (caches kept)\n", n)
			}
			if failed > 0 {
				return &exitError{code: 1, msg: fmt.Sprintf("%d reload(s) failed", failed)}
			}
			return nil
		}),
	}
}

func resetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "reset [name...]",
		Short: "Clear a daemon's FATAL state and failure count in the supervisor, and start it again",
		RunE: g.onDaemons(func(cmd *cobra.Command, names []string, env lifecycle.Env) error {
			ctl := supervisor.Dial(env)
			if ctl == nil {
				return fmt.Errorf("no supervisor is running for %s (start one with `jmake supervise` or `jmake start`)", env.StateDir)
			}
			for _, n := range names {
				if err := ctl.Do(cmd.Context(), "reset", n); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-12s reset\n", n)
			}
			return ctl.WaitSettled(cmd.Context(), names, lifecycle.StartTimeout)
		}),
	}
}

func upgradeCmd(g *globals) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Put the jmake binary now on disk in place of the running daemons, one by one, with no failed request",
		Args:  cobra.NoArgs,
		RunE: g.onEnv(func(cmd *cobra.Command, args []string, env lifecycle.Env) error {
			// Refuse a binary that does not run: the old daemons keep serving.
			out, err := exec.CommandContext(cmd.Context(), env.Exe, "--version").CombinedOutput()
			if err != nil {
				return fmt.Errorf("upgrade: %s --version: %v: %s", env.Exe, err, out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "upgrading to %s", out)
			return controller.For(env).Rolling(cmd.Context(), cmd.OutOrStdout(), settings.Names(), timeout)
		}),
	}
	cmd.Flags().DurationVar(&timeout, "timeout", lifecycle.StopTimeout, "how long an old instance may take to drain before SIGKILL")
	return cmd
}

func serviceCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "service",
		Short: "Print or install a systemd unit or a supervisord config that keeps the daemons up",
	}
	var user, install bool
	systemd := &cobra.Command{
		Use:   "systemd",
		Short: "Print (or --install) a systemd unit running `jmake supervise` (Type=notify)",
		Args:  cobra.NoArgs,
		RunE: g.onEnv(func(cmd *cobra.Command, args []string, env lifecycle.Env) error {
			unit := supervisor.SystemdUnit(serviceOpts(env))
			if !install {
				_, err := io.WriteString(cmd.OutOrStdout(), unit)
				return err
			}
			path, err := supervisor.UnitPath(user)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
				return err
			}
			scope := ""
			if user {
				scope = "--user "
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\nnow run: systemctl %sdaemon-reload && systemctl %senable --now jmake.service\n", path, scope, scope)
			return nil
		}),
	}
	systemd.Flags().BoolVar(&user, "user", false, "a user unit (~/.config/systemd/user) instead of a system one")
	systemd.Flags().BoolVar(&install, "install", false, "write the unit file instead of printing it")
	supervisord := &cobra.Command{
		Use:   "supervisor",
		Short: "Print a supervisord config: one [program:jmake-<name>] per daemon, in the foreground",
		Args:  cobra.NoArgs,
		RunE: g.onEnv(func(cmd *cobra.Command, args []string, env lifecycle.Env) error {
			// supervisord refuses a config whose log directory is missing.
			if err := settings.EnsureStateDir(env.StateDir); err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Join(env.StateDir, "logs"), 0o700); err != nil {
				return err
			}
			_, err := io.WriteString(cmd.OutOrStdout(), supervisor.SupervisordConfig(serviceOpts(env)))
			return err
		}),
	}
	cmd.AddCommand(systemd, supervisord)
	return cmd
}

func serviceOpts(env lifecycle.Env) supervisor.ServiceOptions {
	exe := env.Exe
	if p, err := filepath.EvalSymlinks(exe); err == nil {
		exe = p
	}
	return supervisor.ServiceOptions{Exe: exe, StateDir: env.StateDir, Offset: env.Offset,
		StopTimeout: env.Settings.DrainTimeout.Duration + lifecycle.KillWait}
}
