//go:build unix

package proc

import (
	"os/exec"
	"syscall"
)

// KillGroupOnCancel starts cmd in its own process group and makes ctx
// cancellation kill the whole group: gcc runs cc1 and as as children, which
// would otherwise go on running (and holding the output pipe) after gcc is
// killed.
func KillGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	dieWithParent(cmd.SysProcAttr)
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
