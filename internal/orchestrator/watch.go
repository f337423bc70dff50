package orchestrator

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/jmake/jmake/internal/change"
	"github.com/jmake/jmake/internal/project"
)

// debounce is how long Watch waits after the last change before building:
// an editor's save is often several events (write, chmod, rename) within a
// few milliseconds, and a checkout touches many files at once.
const debounce = 150 * time.Millisecond

// Watch builds once, then again after every burst of changes under the
// project, until ctx ends. It reports each build as a "rebuild" event and
// returns how many builds ran. Changes in the build and output directories
// of the project's jmake.toml ([paths] build and output, read again when
// jmake.toml changes) are the builds' own and are not watched, nor are
// hidden directories.
func Watch(ctx context.Context, p *Pipeline, req BuildRequest, progress func(Event)) (int, error) {
	root, err := filepath.Abs(req.Path)
	if err != nil {
		return 0, err
	}
	tree, err := change.NewTree(root, outputDirs(root)...)
	if err != nil {
		return 0, err
	}
	defer tree.Close()
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
		case rel, ok := <-tree.C():
			if !ok {
				return builds, tree.Err()
			}
			if rel == project.FileName {
				tree.Skip(outputDirs(root)...)
			}
			changed = rel
			timer = time.After(debounce)
		case <-timer:
			timer = nil
			run(changed + " changed")
		}
	}
}

// outputDirs returns the directories where builds of the project at root
// write: [paths] build and output under the project root, "build" when
// jmake.toml cannot be read (the build reports why).
func outputDirs(root string) []string {
	cfg, err := project.Load(root)
	if err != nil {
		return []string{"build"}
	}
	dirs := []string{cfg.Paths.Build, cfg.Paths.Output}
	for i, d := range dirs {
		if !filepath.IsAbs(d) {
			dirs[i] = filepath.Join(cfg.RootDir(root), d)
		}
	}
	return dirs
}
