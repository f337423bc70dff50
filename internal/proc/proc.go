// Package proc identifies processes across PID reuse and ends them: a PID
// with the start time /proc records for it, whether that process still
// runs, and a kill of the process group it leads. Linux only (/proc).
package proc

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ID is one process: its PID and its start time. PIDs are reused, so a live
// PID alone proves nothing; the pair does.
type ID struct {
	PID   int
	Start uint64 // start time in clock ticks since boot; 0 if unknown
}

// Of returns the ID of the running process pid.
func Of(pid int) (ID, error) {
	start, err := StartTicks(pid)
	if err != nil {
		return ID{}, err
	}
	return ID{PID: pid, Start: start}, nil
}

// Exists reports whether a process with this PID exists now (any process:
// use Alive to know it is the one an ID names).
func Exists(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

// StartTicks is the start time of process pid in clock ticks since boot
// (field 22 of /proc/<pid>/stat).
func StartTicks(pid int) (uint64, error) {
	fields, err := stat(pid)
	if err != nil {
		return 0, err
	}
	// fields[0] is field 3 (state); starttime is field 22.
	if len(fields) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// stat reads /proc/<pid>/stat and returns its fields after the command
// name: fields[0] is field 3, the state.
func stat(pid int) ([]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	return statFields(pid, data)
}

// statFields splits /proc/<pid>/stat after the command name (field 2),
// which is in parentheses and may hold spaces or parentheses itself.
func statFields(pid int, data []byte) ([]string, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return strings.Fields(string(data[i+1:])), nil
}

// Alive reports whether the process id names still runs: it exists, its
// start time is the recorded one (when recorded), and it is not a zombie.
func Alive(id ID) bool {
	fields, err := stat(id.PID)
	if err != nil || len(fields) < 20 {
		return false
	}
	if start, err := strconv.ParseUint(fields[19], 10, 64); err != nil || id.Start != 0 && start != id.Start {
		return false
	}
	return fields[0] != "Z"
}

// Dying reports whether the process id names, though not yet gone, has a
// SIGKILL pending or is exiting. kill(2) returns before its target dies: on
// a loaded machine a process killed with -9 goes on looking alive for
// milliseconds, and must not be taken for a running daemon meanwhile.
func Dying(id ID) bool {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", id.PID))
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
	fields, err := stat(id.PID)
	if err != nil {
		return true
	}
	// fields[0] is field 3 (state); flags is field 9.
	if len(fields) < 7 {
		return false
	}
	const pfExiting = 0x4 // PF_EXITING, include/linux/sched.h
	flags, err := strconv.ParseUint(fields[6], 10, 64)
	return err == nil && flags&pfExiting != 0
}

// KillGroup SIGKILLs the process group id leads (a daemon leads one: it is
// started in its own session), taking its compilers with it; or the
// process alone when it leads none (started by hand). Nothing is signalled
// when the PID no longer names the process id recorded.
func KillGroup(id ID) {
	if id.Start != 0 {
		if st, err := StartTicks(id.PID); err != nil || st != id.Start {
			return
		}
	}
	if pgid, err := syscall.Getpgid(id.PID); err == nil && pgid == id.PID {
		syscall.Kill(-id.PID, syscall.SIGKILL)
		return
	}
	syscall.Kill(id.PID, syscall.SIGKILL)
}

// goneInterval is how often WaitGone looks: a stopping daemon exits within
// milliseconds of its last request, and /proc reads cost microseconds.
const goneInterval = 2 * time.Millisecond

// WaitGone polls until the process id names is gone, ctx ends or timeout
// passes, and reports whether it is gone.
func WaitGone(ctx context.Context, id ID, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for Alive(id) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(goneInterval)
	}
	return true
}

// Run starts cmd and waits for it (Wait).
func Run(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	return Wait(cmd)
}
