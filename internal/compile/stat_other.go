//go:build unix && !linux

package compile

import (
	"io/fs"
	"os"
	"syscall"
)

// statPath stats path through os.Stat.
func statPath(path string) (fileStat, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStat{}, err
	}
	if fi.IsDir() {
		return fileStat{}, &fs.PathError{Op: "stat", Path: path, Err: syscall.EISDIR}
	}
	return statOf(fi), nil
}

// statOf converts an os.FileInfo to a fileStat, with the inode where the
// platform has one.
func statOf(fi os.FileInfo) fileStat {
	st := fileStat{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = uint64(sys.Ino)
	}
	return st
}

// statCPath is statPath; cpath is for the Linux fast path.
func statCPath(path string, _ []byte) (fileStat, error) { return statPath(path) }
