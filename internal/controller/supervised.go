package controller

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jmake/jmake/internal/lifecycle"
	"github.com/jmake/jmake/internal/proc"
	"github.com/jmake/jmake/internal/settings"
	"github.com/jmake/jmake/internal/supervisor"
)

// supervisorStopSlack is how much longer than drain_timeout stopping the
// supervisor may take: it stops its daemons one after another, each within
// drain_timeout, and SIGKILLs a group that does not.
const supervisorStopSlack = 20 * time.Second

// supervisorPoll is how often Start looks for a spawned supervisor's
// control socket: it answers within milliseconds of starting.
const supervisorPoll = 5 * time.Millisecond

// Supervised controls the daemons through a supervisor, which is their
// parent and must not take a stop or a replacement for a crash.
type Supervised struct {
	Env lifecycle.Env
	// Options is how a supervisor that Start spawns starts daemons.
	Options lifecycle.StartOptions

	ctl *supervisor.Control // nil until a supervisor answers
}

var _ Controller = (*Supervised)(nil)

// Supervise returns a controller that starts daemons under env's
// supervisor, spawning one on Start when none runs.
func Supervise(env lifecycle.Env, opts lifecycle.StartOptions) *Supervised {
	return &Supervised{Env: env, Options: opts, ctl: supervisor.Dial(env)}
}

// Start starts the named daemons under the supervisor: the running one is
// asked to start them; without one, `jmake supervise` is spawned detached
// (its own session, logging to logs/supervisor.log) and adopts the daemons
// already running. It returns once each daemon is running, or has failed a
// start (the supervisor keeps retrying it).
func (s *Supervised) Start(ctx context.Context, w io.Writer, names []string) error {
	env := s.Env
	begin := time.Now()
	// Refuse before anything starts when another state dir's daemons hold
	// the ports (the supervisor would only retry into FATAL).
	if err := env.ClaimAll(ctx, names); err != nil {
		return err
	}
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
	if s.ctl != nil {
		if st, err := s.ctl.Status(ctx); err == nil {
			for _, d := range st.Daemons {
				if pid, ok := already[d.Name]; ok && (d.State != "running" || d.PID != pid) {
					delete(already, d.Name)
				}
			}
		}
	} else {
		ctl, err := spawnSupervisor(ctx, env, names, s.Options.NoPersist)
		if err != nil {
			return err
		}
		s.ctl = ctl
	}
	for _, n := range names {
		if err := s.ctl.Do(ctx, "start", n); err != nil {
			return err
		}
	}
	err := s.ctl.WaitSettled(ctx, names, lifecycle.StartTimeout)
	st, serr := s.ctl.Status(ctx)
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
	var logFrom int64 // where this supervisor's lines begin
	if st, err := logf.Stat(); err == nil {
		logFrom = st.Size()
	}
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
			if why := lastLine(logPath, logFrom); why != "" {
				return nil, fmt.Errorf("supervisor (pid %d) exited at start: %s (see %s)", cmd.Process.Pid, why, logPath)
			}
			return nil, fmt.Errorf("supervisor (pid %d) exited at start (%v); see %s", cmd.Process.Pid, err, logPath)
		case <-deadline:
			return nil, fmt.Errorf("supervisor (pid %d) not answering on %s after %s", cmd.Process.Pid, env.SupervisorSocket(), lifecycle.StartTimeout)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(supervisorPoll):
		}
	}
}

// Stop stops daemons that the supervisor keeps: all of them by stopping
// the supervisor (SIGTERM: it stops each gracefully and exits), some by
// asking it.
func (s *Supervised) Stop(ctx context.Context, w io.Writer, names []string, timeout time.Duration) error {
	env, ctl := s.Env, s.ctl
	if ctl == nil {
		return fmt.Errorf("no supervisor is running for %s", env.StateDir)
	}
	pids := map[string]int{}
	for _, n := range names {
		pids[n] = lookupPID(env, n)
	}
	begin := time.Now()
	if len(names) == len(settings.Names()) {
		info := env.InspectSupervisor()
		if info.PID != 0 {
			syscall.Kill(info.PID, syscall.SIGTERM)
			if !proc.WaitGone(ctx, info.Proc(), env.Settings.DrainTimeout.Duration+supervisorStopSlack) {
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
	if st, err := ctl.Status(ctx); err == nil && len(names) < len(settings.Names()) {
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

// Restart restarts daemons through the supervisor, deleting their caches
// in between with clean. The supervisor's own stop timeout applies.
func (s *Supervised) Restart(ctx context.Context, w io.Writer, names []string, clean bool, _ time.Duration) error {
	env, ctl := s.Env, s.ctl
	if ctl == nil {
		return fmt.Errorf("no supervisor is running for %s", env.StateDir)
	}
	for _, n := range names {
		old := lookupPID(env, n)
		if clean {
			if err := ctl.Do(ctx, "stop", n); err != nil {
				return err
			}
			if err := removeCaches(w, env, n); err != nil {
				return err
			}
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

// Rolling has the supervisor replace the named daemons one by one, in
// the order of settings.Names().
func (s *Supervised) Rolling(ctx context.Context, w io.Writer, names []string, _ time.Duration) error {
	if s.ctl == nil {
		return fmt.Errorf("no supervisor is running for %s", s.Env.StateDir)
	}
	for _, n := range settings.Names() {
		if !containsName(names, n) {
			continue
		}
		begin := time.Now()
		if err := s.ctl.Do(ctx, "rolling", n); err != nil {
			return err
		}
		fmt.Fprintf(w, "%-12s replaced (pid %d) in %d ms\n", n, lookupPID(s.Env, n), time.Since(begin).Milliseconds())
	}
	return nil
}

// Revive has the supervisor bring the named daemons back: reset clears a
// FATAL state, restart replaces a hung instance.
func (s *Supervised) Revive(ctx context.Context, w io.Writer, names []string) error {
	if s.ctl == nil {
		return fmt.Errorf("no supervisor is running for %s", s.Env.StateDir)
	}
	for _, n := range names {
		s.ctl.Do(ctx, "reset", n)
		if err := s.ctl.Do(ctx, "restart", n); err != nil {
			return err
		}
	}
	return s.ctl.WaitSettled(ctx, names, lifecycle.StartTimeout)
}

// lastLine is the last line written to the file at path past offset from,
// without the "jmake: supervisor: " its errors start with: what a
// supervisor that exited said last.
func lastLine(path string, from int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	from = max(from, st.Size()-4<<10) // a line is far shorter
	b, err := io.ReadAll(io.NewSectionReader(f, from, st.Size()-from))
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	line := strings.TrimPrefix(strings.TrimSpace(lines[len(lines)-1]), "jmake: ")
	return strings.TrimPrefix(line, "supervisor: ")
}
