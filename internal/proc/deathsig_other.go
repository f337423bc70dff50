//go:build unix && !linux

package proc

import "syscall"

// dieWithParent has no portable equivalent outside Linux: a compiler
// outlives a daemon killed with -9 there and finishes on its own.
func dieWithParent(*syscall.SysProcAttr) {}
