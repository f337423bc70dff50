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
// symbolic link at rel (a slash path), as paths under rel, following
// further links to directories not walked yet. Hidden directories are
// skipped, as listFiles skips them.
func (w *walkedDirs) linked(dir, rel string) []string {
	fi, err := os.Stat(dir)
	if err != nil || w.seen(fi) {
		return nil
	}
	*w = append(*w, fi)
	var files []string
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
		case d.Type()&fs.ModeSymlink != 0:
			if t, err := os.Stat(p); err == nil && t.IsDir() {
				files = append(files, w.linked(p, name)...)
			} else if err == nil && t.Mode().IsRegular() {
				files = append(files, name)
			}
		case d.Type().IsRegular():
			files = append(files, name)
		}
		return nil
	})
	return files
}
