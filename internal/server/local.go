package server

import (
	"log/slog"
	"path/filepath"

	"github.com/jmake/jmake/internal/lifecycle"
	"github.com/jmake/jmake/internal/orchestrator"
	"github.com/jmake/jmake/internal/settings"
)

// LocalPipeline is the build pipeline run in-process (`jmake build
// --no-daemon`): the same services the daemons bind, over the same
// persistent caches (the store is safe for several processes at once), so
// results are identical. Warnings (a cache set aside as unreadable, a
// hash memo not saved) go to log, which may be nil. The returned func
// closes the caches.
func LocalPipeline(env lifecycle.Env, log *slog.Logger) (*orchestrator.Pipeline, func(), error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := settings.EnsureStateDir(env.StateDir); err != nil {
		return nil, nil, err
	}
	dc := &dirCaches{dir: filepath.Join(env.StateDir, "cache", settings.Discovery), log: log}
	sc := &dirCaches{dir: filepath.Join(env.StateDir, "cache", settings.Setup), log: log}
	cc := &dirCaches{dir: filepath.Join(env.StateDir, "cache", settings.Compilation), log: log}
	closeAll := func() { dc.close(); sc.close(); cc.close() }
	comp, err := newCompileService(cc, cc.dir, env.Settings, log)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	p := &orchestrator.Pipeline{Discovery: newDiscoveryService(dc, env.Settings), Setup: newSetupService(sc), Compilation: comp}
	return p, func() { comp.e.Close(); closeAll() }, nil
}
