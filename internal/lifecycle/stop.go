package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jmake/jmake/internal/pidfile"
)

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
	out := make([]StopResult, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = e.stopOne(ctx, name, timeout)
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
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
	if !waitGone(ctx, info, timeout) {
		st.Killed = true
		killGroup(info)
		if !waitGone(ctx, info, 5*time.Second) {
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

// killGroup SIGKILLs the daemon's process group (it leads one: Start gives
// it its own session), taking its compilers with it; when it does not lead
// a group (started by hand), only the daemon.
func killGroup(info pidfile.Info) {
	if pgid, err := syscall.Getpgid(info.PID); err == nil && pgid == info.PID {
		syscall.Kill(-info.PID, syscall.SIGKILL)
		return
	}
	syscall.Kill(info.PID, syscall.SIGKILL)
}

// alive reports whether the process of info still exists and is the same
// process (its start time unchanged); a zombie counts as gone.
func alive(info pidfile.Info) bool {
	start, err := pidfile.StartTicks(info.PID)
	if err != nil || (info.Start != 0 && start != info.Start) {
		return false
	}
	state, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", info.PID))
	if err != nil {
		return false
	}
	return !isZombie(state)
}

// Dying reports whether the process of info, though not yet gone, has a
// SIGKILL pending or is exiting. kill(2) returns before its target dies: on
// a loaded machine a process killed with -9 goes on looking alive for
// milliseconds, and must not be taken for a running daemon meanwhile.
func Dying(info pidfile.Info) bool {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", info.PID))
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(status), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "ShdPnd" && key != "SigPnd") {
			continue
		}
		if mask, err := strconv.ParseUint(strings.TrimSpace(val), 16, 64); err == nil && mask&(1<<(syscall.SIGKILL-1)) != 0 {
			return true
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", info.PID))
	if err != nil {
		return true
	}
	// Field 9, flags, counted from the state after the command's ")".
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 {
		if f := strings.Fields(string(stat[i+1:])); len(f) > 6 {
			const pfExiting = 0x4 // PF_EXITING, include/linux/sched.h
			if flags, err := strconv.ParseUint(f[6], 10, 64); err == nil && flags&pfExiting != 0 {
				return true
			}
		}
	}
	return false
}

func isZombie(stat []byte) bool {
	for i := len(stat) - 1; i >= 0; i-- {
		if stat[i] == ')' {
			return i+2 < len(stat) && stat[i+2] == 'Z'
		}
	}
	return false
}

// waitGone polls every 2 ms until the process is gone or timeout passes.
func waitGone(ctx context.Context, info pidfile.Info, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for alive(info) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}
