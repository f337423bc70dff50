//go:build linux

package compile

import (
	"io/fs"
	"os"
	"syscall"
)

// statPath stats path (following symlinks) with one system call.
func statPath(path string) (fileStat, error) {
	var st syscall.Stat_t
	err := ignoringEINTR(func() error { return syscall.Stat(path, &st) })
	return fromStatT(path, &st, err)
}

// statCPath is statPath for a path also given NUL-terminated (cpath), which
// saves converting it on every call where the architecture allows: the
// no-op build stats every file of a project this way.
func statCPath(path string, cpath []byte) (fileStat, error) {
	var st syscall.Stat_t
	err := ignoringEINTR(func() error { return rawStat(path, cpath, &st) })
	return fromStatT(path, &st, err)
}

func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != syscall.EINTR {
			return err
		}
	}
}

func fromStatT(path string, st *syscall.Stat_t, err error) (fileStat, error) {
	if err != nil {
		return fileStat{}, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		return fileStat{}, &fs.PathError{Op: "stat", Path: path, Err: syscall.EISDIR}
	}
	return fileStat{
		size:  st.Size,
		mtime: st.Mtim.Sec*1e9 + st.Mtim.Nsec,
		ino:   st.Ino,
	}, nil
}

// statOf converts an os.FileInfo (from an open file) to a fileStat.
func statOf(fi os.FileInfo) fileStat {
	out := fileStat{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		out.ino = st.Ino
	}
	return out
}
