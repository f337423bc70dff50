package orchestrator

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// debounce is how long Watch waits after the last change before building:
// an editor's save is often several events (write, chmod, rename) within a
// few milliseconds, and a checkout touches many files at once.
const debounce = 150 * time.Millisecond

// Watch builds once, then again after every burst of changes under the
// project, until ctx ends. It reports each build as a "rebuild" event and
// returns how many builds ran. fsnotify is not recursive, so every
// directory (but the build dir, .git and hidden ones) is added, and new
// directories as they appear.
func Watch(ctx context.Context, p *Pipeline, req BuildRequest, progress func(Event)) (int, error) {
	root, err := filepath.Abs(req.Path)
	if err != nil {
		return 0, err
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return 0, fmt.Errorf("watch %s: %w", root, err)
	}
	defer w.Close()
	skip := filepath.Join(root, "build")
	addTree := func(dir string) error {
		return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if path != root && (strings.HasPrefix(d.Name(), ".") || path == skip) {
				return filepath.SkipDir
			}
			return w.Add(path)
		})
	}
	if err := addTree(root); err != nil {
		return 0, fmt.Errorf("watch %s: %w", root, err)
	}
	builds := 0
	run := func(why string) {
		res, err := p.Build(ctx, req, progress)
		builds++
		msg := ""
		switch {
		case err != nil && res != nil && res.Diagnostics != "":
			msg = fmt.Sprintf("build failed (%s):\n%s", why, res.Diagnostics)
		case err != nil:
			msg = fmt.Sprintf("build failed (%s): %v", why, err)
		default:
			msg = fmt.Sprintf("built %s (%s): %d units, %d compiled, %d from cache, %.3f s",
				res.Output, why, res.Units, res.Compiled, res.Cached, res.ElapsedSeconds)
		}
		progress(Event{Event: "rebuild", Msg: msg, Done: builds})
	}
	run("start")
	var timer <-chan time.Time
	changed := ""
	for {
		select {
		case <-ctx.Done():
			return builds, nil
		case err := <-w.Errors:
			return builds, fmt.Errorf("watch %s: %w", root, err)
		case ev := <-w.Events:
			if strings.HasPrefix(ev.Name, skip+string(filepath.Separator)) || ev.Name == skip ||
				strings.HasPrefix(filepath.Base(ev.Name), ".") {
				continue
			}
			if ev.Has(fsnotify.Create) {
				if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
					addTree(ev.Name)
				}
			}
			if rel, err := filepath.Rel(root, ev.Name); err == nil {
				changed = rel
			}
			timer = time.After(debounce)
		case <-timer:
			timer = nil
			run(changed + " changed")
		}
	}
}
