package proc

import (
	"os"
	"os/exec"

	"golang.org/x/sys/unix"
)

// awaitExit returns once p has exited (or at once if that cannot be
// watched), without reaping it: it waits on a pidfd in the runtime's
// poller. exec.Cmd.Wait alone blocks its thread in waitid for the whole
// run of the child, and the Go runtime, seeing a thread stuck in a system
// call, takes its P away and keeps its monitor thread polling every 20 µs
// while any is: for a daemon that spends its life waiting for compilers,
// a quarter of its CPU time went to those wake-ups. Waited for here, the
// child's exit leaves Wait a waitid that returns at once.
func awaitExit(p *os.Process) {
	fd, err := unix.PidfdOpen(p.Pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	// A pidfd polls as readable once its process has exited. Each call
	// asks the kernel; false has the poller wait for the next edge (one
	// that came before the call may have been consumed: hence the ask).
	rc.Read(func(fd uintptr) bool {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 0)
		return err != nil && err != unix.EINTR || n > 0
	})
}

// Wait waits for cmd, started, to exit, and reaps it (exec.Cmd.Wait).
func Wait(cmd *exec.Cmd) error {
	awaitExit(cmd.Process)
	return cmd.Wait()
}
