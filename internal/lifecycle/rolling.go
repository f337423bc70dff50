package lifecycle

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/jmake/jmake/internal/pidfile"
	"github.com/jmake/jmake/internal/proc"
	"github.com/jmake/jmake/internal/settings"
)

// RollResult is what a rolling restart did for one daemon.
type RollResult struct {
	Name           string
	OldPID, NewPID int
	Took           time.Duration
}

// Replace puts a new instance of daemon name in place of old with no
// refused or reset connection: the new process binds the same port
// (SO_REUSEPORT; from then on the kernel steers new connections to it, see
// daemon.Listen), loads its caches and answers /healthz as itself; only
// then is old sent SIGTERM, and it drains its accept queue and calls in
// flight before it exits. If the new instance does not come up, it is
// killed and old keeps serving. A stop that outlasts stopTimeout ends in
// SIGKILL of old's group.
func (e Env) Replace(ctx context.Context, name string, old pidfile.Info, opts StartOptions, stopTimeout time.Duration) (*Proc, error) {
	p, err := e.Spawn(name, opts)
	if err != nil {
		return nil, err
	}
	if err := e.AwaitReady(ctx, name, p.PID, p.Done(), StartTimeout); err != nil {
		proc.KillGroup(p.Info().Proc())
		<-p.Done()
		return nil, fmt.Errorf("%s: new instance (pid %d) did not come up, pid %d keeps serving: %w%s", name, p.PID, old.PID, err, p.LogTail(10))
	}
	if old.PID != 0 {
		if _, err := e.StopProcess(ctx, old, stopTimeout); err != nil {
			return p, err
		}
	}
	return p, nil
}

// StopProcess stops one verified daemon process: SIGTERM, wait up to
// timeout, then SIGKILL of its group. It reports whether it had to kill.
func (e Env) StopProcess(ctx context.Context, info pidfile.Info, timeout time.Duration) (killed bool, err error) {
	if err := syscall.Kill(info.PID, syscall.SIGTERM); err != nil {
		return false, nil // already gone
	}
	if !proc.WaitGone(ctx, info.Proc(), timeout) {
		proc.KillGroup(info.Proc())
		if !proc.WaitGone(ctx, info.Proc(), KillWait) {
			return true, fmt.Errorf("pid %d still alive after SIGKILL", info.PID)
		}
		// A daemon removes its own PID file; after a SIGKILL nobody did.
		if info.Name != "" {
			if cur, err := pidfile.Read(e.PIDFile(info.Name)); err == nil && cur.PID == info.PID {
				os.Remove(e.PIDFile(info.Name))
			}
		}
		return true, nil
	}
	return false, nil
}

// RollingRestart replaces the named daemons one after another, in start
// order (discovery, setup, compilation, orchestrator), each new instance
// healthy before the next daemon is touched. A daemon not running is
// started. It stops at the first failure, leaving the old instance serving.
func (e Env) RollingRestart(ctx context.Context, names []string, opts StartOptions, stopTimeout time.Duration) ([]RollResult, error) {
	if err := settings.EnsureStateDir(e.StateDir); err != nil {
		return nil, err
	}
	var out []RollResult
	for _, name := range settings.Names() {
		if !contains(names, name) {
			continue
		}
		begin := time.Now()
		old, _ := e.Inspect(name)
		p, err := e.Replace(ctx, name, old, opts, stopTimeout)
		if err != nil {
			return out, err
		}
		out = append(out, RollResult{Name: name, OldPID: old.PID, NewPID: p.PID, Took: time.Since(begin)})
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
