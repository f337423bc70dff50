package project

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// walkedDirs are the directories a listing went through, so that a
// symbolic link to one of them (an ancestor: a loop) is not followed.
type walkedDirs []os.FileInfo

// add records the directory p.
func (w *walkedDirs) add(p string) {
	if fi, err := os.Stat(p); err == nil {
		*w = append(*w, fi)
	}
}

// seen reports whether fi is a directory already walked.
func (w walkedDirs) seen(fi os.FileInfo) bool {
	for _, d := range w {
		if os.SameFile(d, fi) {
			return true
		}
	}
	return false
}

// linked lists the files under dir, a directory reached through a
// symbolic link at rel (a slash path), as paths under rel, and the
// directories it went through (absolute, by the link's path), following
// further links to directories not walked yet. Hidden directories are
// skipped, as listFiles skips them.
func (w *walkedDirs) linked(dir, rel string) (files, dirs []string) {
	fi, err := os.Stat(dir)
	if err != nil || w.seen(fi) {
		return nil, nil
	}
	*w = append(*w, fi)
	dirs = append(dirs, dir)
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		sub, _ := filepath.Rel(dir, p)
		name := rel + "/" + filepath.ToSlash(sub)
		switch {
		case p == dir:
			return nil
		case d.IsDir() && strings.HasPrefix(d.Name(), "."):
			return fs.SkipDir
		case d.IsDir():
			w.add(p)
			dirs = append(dirs, p)
		case d.Type()&fs.ModeSymlink != 0:
			if t, err := os.Stat(p); err == nil && t.IsDir() {
				lf, ld := w.linked(p, name)
				files, dirs = append(files, lf...), append(dirs, ld...)
			} else if err == nil && t.Mode().IsRegular() {
				files = append(files, name)
			}
		case d.Type().IsRegular():
			files = append(files, name)
		}
		return nil
	})
	return files, dirs
}
