//go:build linux && !amd64

package compile

import "syscall"

// rawStat is syscall.Stat; only amd64 has the allocation-free variant.
func rawStat(path string, _ []byte, st *syscall.Stat_t) error {
	return syscall.Stat(path, st)
}
