package server

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/jmake/jmake/internal/lifecycle"
	"github.com/jmake/jmake/internal/orchestrator"
	"github.com/jmake/jmake/internal/project"
	"github.com/jmake/jmake/internal/settings"
)

// LocalPipeline is the build pipeline run in-process (`jmake build
// --no-daemon`): the same services the daemons bind, over the same
// persistent caches (the store is safe for several processes at once), so
// results are identical. The returned func closes the caches.
func LocalPipeline(env lifecycle.Env) (*orchestrator.Pipeline, func(), error) {
	if err := settings.EnsureStateDir(env.StateDir); err != nil {
		return nil, nil, err
	}
	dc := &dirCaches{dir: filepath.Join(env.StateDir, "cache", settings.Discovery)}
	sc := &dirCaches{dir: filepath.Join(env.StateDir, "cache", settings.Setup)}
	cc := &dirCaches{dir: filepath.Join(env.StateDir, "cache", settings.Compilation)}
	closeAll := func() { dc.close(); sc.close(); cc.close() }
	comp, err := newCompileService(cc, cc.dir, env.Settings, slog.New(slog.DiscardHandler))
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	p := &orchestrator.Pipeline{Discovery: newDiscoveryService(dc, env.Settings), Setup: newSetupService(sc), Compilation: comp}
	return p, func() { comp.e.Close(); closeAll() }, nil
}

// CleanProject removes the build directory of the project in dir (its
// outputs only; the object cache stays) and returns what it removed.
func CleanProject(dir string) (string, error) {
	cfg, err := project.Load(dir)
	if err != nil {
		return "", err
	}
	root := cfg.RootDir(dir)
	build := filepath.Join(root, cfg.Paths.Build)
	if rel, err := filepath.Rel(root, build); err != nil || rel == "." || rel == ".." || filepath.IsAbs(rel) || len(rel) > 1 && rel[:2] == ".." {
		return "", fmt.Errorf("%s: refusing to remove build dir %q: it is not inside the project", filepath.Join(dir, project.FileName), cfg.Paths.Build)
	}
	if err := os.RemoveAll(build); err != nil {
		return "", err
	}
	return build, nil
}
