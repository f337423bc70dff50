package compile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// A clean build (Request.Clean) moves the build directory aside instead of
// removing it, and the objects it restores from the cache are written over
// the old files and renamed into place (store.Objects.CopyToReusing): a
// clean tree with a warm cache then costs the file system no inode
// allocations, which after a removal of a thousand files are slow on ext4.
// What no restore took is removed at the end of the build. Only object
// files (*.o) are reused: the library or program in the old directory may
// be mapped by a running process, which must keep seeing its old content.

// recycler hands out the regular files of a moved-aside build directory.
type recycler struct {
	dir string

	mu    sync.Mutex
	files []string
}

// recycleDir is where root's build directory goes during a clean build: a
// hidden sibling, on the same file system, so the move is a rename.
func recycleDir(buildDir string) string {
	return filepath.Join(filepath.Dir(buildDir), "."+filepath.Base(buildDir)+".jmake-old")
}

// moveAside renames buildDir to its recycle directory and returns a
// recycler over its files; ok is false when there was nothing to move or
// it could not be moved (a mount point, say), and then buildDir is as it
// was.
func moveAside(buildDir string) (r *recycler, ok bool) {
	dir := recycleDir(buildDir)
	if err := os.RemoveAll(dir); err != nil { // left by a build that did not finish
		return nil, false
	}
	if err := os.Rename(buildDir, dir); err != nil {
		return nil, false
	}
	r = &recycler{dir: dir}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && strings.HasSuffix(p, ".o") {
			r.files = append(r.files, p)
		}
		return nil
	})
	return r, true
}

// take returns a file to overwrite, or "" when none is left (or r is nil).
func (r *recycler) take() string {
	if r == nil {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.files) == 0 {
		return ""
	}
	f := r.files[len(r.files)-1]
	r.files = r.files[:len(r.files)-1]
	return f
}

// discard removes what is left of the old build directory.
func (r *recycler) discard() error {
	if r == nil {
		return nil
	}
	if err := os.RemoveAll(r.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
