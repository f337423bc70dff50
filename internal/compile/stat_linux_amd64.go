package compile

import (
	"syscall"
	"unsafe"
)

// atFDCWD is AT_FDCWD: resolve a relative path against the working directory.
const atFDCWD = -100

// rawStat is stat(2) through newfstatat on a NUL-terminated path, without
// the copy syscall.Stat makes of its string argument.
func rawStat(path string, cpath []byte, st *syscall.Stat_t) error {
	if len(cpath) == 0 || cpath[len(cpath)-1] != 0 {
		return syscall.Stat(path, st)
	}
	fd := atFDCWD
	_, _, errno := syscall.Syscall6(syscall.SYS_NEWFSTATAT, uintptr(fd),
		uintptr(unsafe.Pointer(&cpath[0])), uintptr(unsafe.Pointer(st)), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
