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

	"github.com/jmake/jmake/internal/lifecycle"
	"github.com/jmake/jmake/internal/settings"
	"github.com/jmake/jmake/internal/store"
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
		RunE: func(cmd *cobra.Command, args []string) error {
			names, env, err := g.daemons(args)
			if err != nil {
				return err
			}
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
		},
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
		RunE: func(cmd *cobra.Command, args []string) error {
			names, env, err := g.daemons(args)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			down := checkHealth(cmd.Context(), w, env, names, timeout, !restart)
			if len(down) > 0 && restart {
				fmt.Fprintf(w, "restarting %s\n", strings.Join(down, ", "))
				if err := restartDown(cmd.Context(), w, env, down); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "jmake:", err)
				}
				down = checkHealth(cmd.Context(), w, env, names, timeout, true)
			}
			if len(down) > 0 {
				return &exitError{code: 1, msg: fmt.Sprintf("%d of %d daemons unhealthy: %s", len(down), len(names), strings.Join(down, ", "))}
			}
			return nil
		},
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
			line = "DOWN (not running)"
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

// restartDown brings the named daemons back: through the supervisor when
// one runs (reset clears FATAL, restart replaces a hung one), else by a
// plain stop (which SIGKILLs a hung daemon after the timeout) and start.
func restartDown(ctx context.Context, w io.Writer, env lifecycle.Env, names []string) error {
	if ctl := supervisor.Dial(env); ctl != nil {
		for _, n := range names {
			ctl.Do(ctx, "reset", n)
			if err := ctl.Do(ctx, "restart", n); err != nil {
				return err
			}
		}
		return ctl.WaitSettled(ctx, names, lifecycle.StartTimeout)
	}
	if _, err := env.Stop(ctx, names, 2*time.Second); err != nil {
		return err
	}
	res, err := env.Start(ctx, names, lifecycle.StartOptions{})
	printStarted(w, res)
	return err
}

func reloadCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "reload [name...]",
		Short: "Re-read config.toml in the running daemons, keeping their caches (a bad config is rejected)",
		RunE: func(cmd *cobra.Command, args []string) error {
			names, env, err := g.daemons(args)
			if err != nil {
				return err
			}
			failed := 0
			for _, n := range names {
				ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
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
		},
	}
}

func resetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "reset [name...]",
		Short: "Clear a daemon's FATAL state and failure count in the supervisor, and start it again",
		RunE: func(cmd *cobra.Command, args []string) error {
			names, env, err := g.daemons(args)
			if err != nil {
				return err
			}
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
		},
	}
}

// rollingRestart replaces the named daemons one by one with no failed
// request: through the supervisor when one runs (it is their parent and
// must not take the old instance's exit for a crash), else directly.
func rollingRestart(ctx context.Context, w io.Writer, env lifecycle.Env, names []string, timeout time.Duration) error {
	if ctl := supervisor.Dial(env); ctl != nil {
		for _, n := range settings.Names {
			if !containsName(names, n) {
				continue
			}
			begin := time.Now()
			if err := ctl.Do(ctx, "rolling", n); err != nil {
				return err
			}
			fmt.Fprintf(w, "%-12s replaced (pid %d) in %d ms\n", n, lookupPID(env, n), time.Since(begin).Milliseconds())
		}
		return nil
	}
	res, err := env.RollingRestart(ctx, names, lifecycle.StartOptions{}, timeout)
	for _, r := range res {
		if r.OldPID == 0 {
			fmt.Fprintf(w, "%-12s started (pid %d) in %d ms\n", r.Name, r.NewPID, r.Took.Milliseconds())
		} else {
			fmt.Fprintf(w, "%-12s replaced pid %d with pid %d in %d ms\n", r.Name, r.OldPID, r.NewPID, r.Took.Milliseconds())
		}
	}
	return err
}

func lookupPID(env lifecycle.Env, name string) int {
	info, _ := env.Inspect(name)
	return info.PID
}

func containsName(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func upgradeCmd(g *globals) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Put the jmake binary now on disk in place of the running daemons, one by one, with no failed request",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := g.env()
			if err != nil {
				return err
			}
			// Refuse a binary that does not run: the old daemons keep serving.
			out, err := exec.CommandContext(cmd.Context(), env.Exe, "--version").CombinedOutput()
			if err != nil {
				return fmt.Errorf("upgrade: %s --version: %v: %s", env.Exe, err, out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "upgrading to %s", out)
			return rollingRestart(cmd.Context(), cmd.OutOrStdout(), env, settings.Names, timeout)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 15*time.Second, "how long an old instance may take to drain before SIGKILL")
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
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := g.env()
			if err != nil {
				return err
			}
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
		},
	}
	systemd.Flags().BoolVar(&user, "user", false, "a user unit (~/.config/systemd/user) instead of a system one")
	systemd.Flags().BoolVar(&install, "install", false, "write the unit file instead of printing it")
	supervisord := &cobra.Command{
		Use:   "supervisor",
		Short: "Print a supervisord config: one [program:jmake-<name>] per daemon, in the foreground",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := g.env()
			if err != nil {
				return err
			}
			// supervisord refuses a config whose log directory is missing.
			if err := settings.EnsureStateDir(env.StateDir); err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Join(env.StateDir, "logs"), 0o700); err != nil {
				return err
			}
			_, err = io.WriteString(cmd.OutOrStdout(), supervisor.SupervisordConfig(serviceOpts(env)))
			return err
		},
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
		StopTimeout: env.Settings.DrainTimeout.Duration + 5*time.Second}
}

// startSupervised starts the named daemons under the supervisor: the
// running one is asked to start them; without one, `jmake supervise` is
// spawned detached (its own session, logging to logs/supervisor.log) and
// adopts the daemons already running. It returns once each daemon is
// running, or has failed a start (the supervisor keeps retrying it).
func startSupervised(ctx context.Context, w io.Writer, env lifecycle.Env, names []string, noPersist bool) error {
	begin := time.Now()
	// already: the PID of each daemon that was up before this command. A
	// running supervisor must say so too: a PID file it has not reported
	// running is a process it is (re)starting, which this command then
	// waits for and reports as started.
	already := map[string]int{}
	for _, n := range names {
		if info, _ := env.Inspect(n); info.PID != 0 {
			already[n] = info.PID
		}
	}
	ctl := supervisor.Dial(env)
	if ctl != nil {
		if st, err := ctl.Status(ctx); err == nil {
			for _, d := range st.Daemons {
				if pid, ok := already[d.Name]; ok && (d.State != "running" || d.PID != pid) {
					delete(already, d.Name)
				}
			}
		}
	} else {
		var err error
		if ctl, err = spawnSupervisor(ctx, env, names, noPersist); err != nil {
			return err
		}
	}
	for _, n := range names {
		if err := ctl.Do(ctx, "start", n); err != nil {
			return err
		}
	}
	err := ctl.WaitSettled(ctx, names, lifecycle.StartTimeout)
	st, serr := ctl.Status(ctx)
	if serr != nil {
		return serr
	}
	for _, d := range st.Daemons {
		if !containsName(names, d.Name) || d.State != "running" {
			continue
		}
		if already[d.Name] == d.PID {
			fmt.Fprintf(w, "%-12s already running (pid %d, port %d)\n", d.Name, d.PID, env.Port(d.Name))
		} else {
			fmt.Fprintf(w, "%-12s started (pid %d, port %d) in %d ms\n", d.Name, d.PID, env.Port(d.Name), time.Since(begin).Milliseconds())
		}
	}
	return err
}

// spawnSupervisor runs `jmake supervise` detached and waits until its
// control socket answers.
func spawnSupervisor(ctx context.Context, env lifecycle.Env, names []string, noPersist bool) (*supervisor.Control, error) {
	if err := settings.EnsureStateDir(env.StateDir); err != nil {
		return nil, err
	}
	os.MkdirAll(filepath.Join(env.StateDir, "logs"), 0o700)
	logPath := filepath.Join(env.StateDir, "logs", "supervisor.log")
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	args := []string{"supervise", "--port-offset", fmt.Sprint(env.Offset)}
	if noPersist {
		args = append(args, "--no-persist")
	}
	args = append(args, names...)
	cmd := exec.Command(env.Exe, args...)
	cmd.Env = append(os.Environ(), "JMAKE_HOME="+env.StateDir)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start supervisor: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(lifecycle.StartTimeout)
	for {
		if ctl := supervisor.Dial(env); ctl != nil {
			if _, err := ctl.Status(ctx); err == nil {
				return ctl, nil
			}
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("supervisor (pid %d) exited at start (%v); see %s", cmd.Process.Pid, err, logPath)
		case <-deadline:
			return nil, fmt.Errorf("supervisor (pid %d) not answering on %s after %s", cmd.Process.Pid, env.SupervisorSocket(), lifecycle.StartTimeout)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// stopSupervised stops daemons that a supervisor keeps: all of them by
// stopping the supervisor (SIGTERM: it stops each gracefully and exits),
// some by asking it.
func stopSupervised(ctx context.Context, w io.Writer, env lifecycle.Env, ctl *supervisor.Control, names []string, timeout time.Duration) error {
	pids := map[string]int{}
	for _, n := range names {
		pids[n] = lookupPID(env, n)
	}
	begin := time.Now()
	if len(names) == len(settings.Names) {
		info := env.InspectSupervisor()
		if info.PID != 0 {
			syscall.Kill(info.PID, syscall.SIGTERM)
			// Each daemon drains within drain_timeout; the supervisor
			// SIGKILLs a group that does not. Bound the wait beyond both.
			if !lifecycle.WaitGone(ctx, info, env.Settings.DrainTimeout.Duration+20*time.Second) {
				return fmt.Errorf("supervisor (pid %d) did not stop", info.PID)
			}
		}
	} else {
		for _, n := range names {
			if err := ctl.DoTimeout(ctx, "stop", n, timeout); err != nil {
				return err
			}
		}
	}
	killed := map[string]bool{}
	if st, err := ctl.Status(ctx); err == nil && len(names) < len(settings.Names) {
		for _, d := range st.Daemons {
			killed[d.Name] = strings.HasPrefix(d.Reason, "killed")
		}
	}
	for _, n := range names {
		switch {
		case pids[n] == 0:
			fmt.Fprintf(w, "%-12s not running\n", n)
		case killed[n]:
			fmt.Fprintf(w, "%-12s killed (pid %d did not stop in time)\n", n, pids[n])
		default:
			fmt.Fprintf(w, "%-12s stopped (pid %d) in %d ms\n", n, pids[n], time.Since(begin).Milliseconds())
		}
	}
	return nil
}

// restartSupervised restarts daemons through the supervisor, deleting
// their caches in between with --clean.
func restartSupervised(ctx context.Context, w io.Writer, env lifecycle.Env, ctl *supervisor.Control, names []string, clean bool) error {
	for _, n := range names {
		old := lookupPID(env, n)
		if clean {
			if err := ctl.Do(ctx, "stop", n); err != nil {
				return err
			}
			dir := filepath.Join(env.StateDir, "cache", n)
			if err := store.RemoveCache(dir); err != nil {
				return fmt.Errorf("%s: delete caches: %w", n, err)
			}
			fmt.Fprintf(w, "%-12s caches deleted (%s)\n", n, dir)
			if err := ctl.Do(ctx, "start", n); err != nil {
				return err
			}
		} else if err := ctl.Do(ctx, "restart", n); err != nil {
			return err
		}
		if err := ctl.WaitSettled(ctx, []string{n}, lifecycle.StartTimeout); err != nil {
			return err
		}
		fmt.Fprintf(w, "%-12s restarted (pid %d -> %d)\n", n, old, lookupPID(env, n))
	}
	return nil
}
