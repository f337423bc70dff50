package change

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// Tree reports the changes under a directory tree as they happen, for a
// loop that rebuilds after each (jmake build --watch). fsnotify is not
// recursive, so every directory under the root is watched, and new ones as
// they appear, except hidden ones (.git) and the skipped ones: a build's
// own output must not trigger the next build.
type Tree struct {
	root string
	w    *fsnotify.Watcher
	c    chan string
	done chan struct{} // closed by Close
	once sync.Once
	err  error // why c was closed, set before it is

	mu   sync.Mutex // guards skip
	skip map[string]bool
}

// NewTree watches root (absolute) and every directory under it but
// hidden ones and skip (absolute or relative to root).
func NewTree(root string, skip ...string) (*Tree, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", root, err)
	}
	t := &Tree{root: root, w: w, c: make(chan string), done: make(chan struct{})}
	t.Skip(skip...)
	if err := t.add(root); err != nil {
		w.Close()
		return nil, fmt.Errorf("watch %s: %w", root, err)
	}
	go t.run()
	return t, nil
}

// Skip replaces the directories whose changes are not reported (absolute
// or relative to the root), as when jmake.toml names another build
// directory.
func (t *Tree) Skip(dirs ...string) {
	skip := make(map[string]bool, len(dirs))
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(t.root, d)
		}
		if d = filepath.Clean(d); d != t.root {
			skip[d] = true
		}
	}
	t.mu.Lock()
	t.skip = skip
	t.mu.Unlock()
}

// skipped reports whether changes to path are not reported: it is hidden,
// or is or lies under a skipped directory.
func (t *Tree) skipped(path string) bool {
	if path == t.root {
		return false
	}
	if strings.HasPrefix(filepath.Base(path), ".") {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for p := path; p != t.root && len(p) > len(t.root); p = filepath.Dir(p) {
		if t.skip[p] {
			return true
		}
	}
	return false
}

// add watches dir and every directory under it that is not skipped.
func (t *Tree) add(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if t.skipped(path) {
			return filepath.SkipDir
		}
		return t.w.Add(path)
	})
}

// run forwards the changes that are not skipped to C until the watch is
// closed or fails.
func (t *Tree) run() {
	defer close(t.c)
	for {
		select {
		case err, ok := <-t.w.Errors:
			if ok {
				t.err = fmt.Errorf("watch %s: %w", t.root, err)
			}
			return
		case ev, ok := <-t.w.Events:
			if !ok {
				return
			}
			if t.skipped(ev.Name) {
				continue
			}
			if ev.Has(fsnotify.Create) {
				if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
					t.add(ev.Name)
				}
			}
			rel, err := filepath.Rel(t.root, ev.Name)
			if err != nil {
				rel = ev.Name
			}
			select {
			case t.c <- rel:
			case <-t.done:
				return
			}
		}
	}
}

// C delivers each change, as a path relative to the root. It is closed
// when the watch is closed or fails (then Err says why).
func (t *Tree) C() <-chan string { return t.c }

// Err is why C was closed, once it is: nil after Close.
func (t *Tree) Err() error { return t.err }

// Close stops the watch.
func (t *Tree) Close() error {
	var err error
	t.once.Do(func() {
		close(t.done)
		err = t.w.Close()
	})
	return err
}
