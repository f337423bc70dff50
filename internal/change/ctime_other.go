//go:build !linux

package change

import "syscall"

// ctimeNS is 0 where the platform's Stat_t is not Linux's: ID then falls
// back to size, mtime, inode and device.
func ctimeNS(*syscall.Stat_t) int64 { return 0 }
