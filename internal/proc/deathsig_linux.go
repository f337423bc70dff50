package proc

import "syscall"

// dieWithParent has the kernel SIGKILL the compiler when the daemon dies
// (kill -9, a crash): in its own process group it would otherwise go on
// writing temp files into the build directory while a new daemon builds
// there. Go forks from a thread that lives as long as the process (jmake
// never exits a locked thread), so the signal comes with the process's
// death, not a thread's.
func dieWithParent(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGKILL }
