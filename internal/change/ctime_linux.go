package change

import "syscall"

// ctimeNS is the status change time of st in unix nanoseconds.
func ctimeNS(st *syscall.Stat_t) int64 { return st.Ctim.Nano() }
