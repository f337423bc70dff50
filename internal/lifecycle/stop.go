package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/jmake/jmake/internal/pidfile"
	"github.com/jmake/jmake/internal/proc"
)

// KillWait bounds the wait for a process to vanish after SIGKILL, which
// the kernel delivers at once: only a process stuck in uninterruptible
// sleep (a hung NFS read) takes longer, and then the caller must know.
const KillWait = 5 * time.Second

// StopResult is what Stop did for one daemon.
type StopResult struct {
	Name    string
	PID     int
	Killed  bool   // it did not stop within the timeout and was SIGKILLed
	Stale   string // the PID file was stale (and removed), with the reason
	Running bool   // false when there was nothing to stop
	Took    time.Duration
}

// Stop stops the named daemons in parallel: SIGTERM, wait up to timeout for
// the process to exit, then SIGKILL its process group. Only processes whose
// PID file verifies as our daemon are signalled. PID files are removed.
// Stopping a stopped daemon is not an error.
func (e Env) Stop(ctx context.Context, names []string, timeout time.Duration) ([]StopResult, error) {
	return inParallel(names, func(name string) (StopResult, error) { return e.stopOne(ctx, name, timeout) })
}

func (e Env) stopOne(ctx context.Context, name string, timeout time.Duration) (StopResult, error) {
	begin := time.Now()
	st := StopResult{Name: name}
	info, stale := e.Inspect(name)
	if stale != "" {
		st.Stale = stale
		os.Remove(e.PIDFile(name))
		return st, nil
	}
	if info.PID == 0 {
		return st, nil
	}
	st.PID, st.Running = info.PID, true
	if err := syscall.Kill(info.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return st, fmt.Errorf("%s: signal pid %d: %w", name, info.PID, err)
	}
	if !proc.WaitGone(ctx, info.Proc(), timeout) {
		st.Killed = true
		proc.KillGroup(info.Proc())
		if !proc.WaitGone(ctx, info.Proc(), KillWait) {
			return st, fmt.Errorf("%s: pid %d still alive after SIGKILL", name, info.PID)
		}
	}
	// A daemon removes its own PID file; after a SIGKILL nobody did.
	if cur, err := pidfile.Read(e.PIDFile(name)); err == nil && cur.PID == info.PID {
		os.Remove(e.PIDFile(name))
	}
	st.Took = time.Since(begin)
	return st, nil
}
