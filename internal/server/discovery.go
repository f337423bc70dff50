package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"sort"
	"sync"

	"github.com/jmake/jmake/internal/change"
	"github.com/jmake/jmake/internal/daemon"
	"github.com/jmake/jmake/internal/discovery"
	"github.com/jmake/jmake/internal/orchestrator"
	"github.com/jmake/jmake/internal/project"
	"github.com/jmake/jmake/internal/settings"
	"github.com/jmake/jmake/internal/store"
)

// discoveryService adapts the discovery package to the pipeline.
type discoveryService struct {
	d *discovery.Discovery

	mu    sync.Mutex           // guards scope
	scope map[string]scanScope // per project root: what its jmake.toml says to scan
}

// scanScope is the part of a jmake.toml that decides a scan, remembered
// with the file's identity so that a no-op build does not parse it again.
type scanScope struct {
	inputs   change.Inputs
	root     string // [project] root, absolute
	buildDir string
	excludes []string
}

func newDiscoveryService(c caches, s settings.Settings) *discoveryService {
	return &discoveryService{d: discovery.New(discovery.Options{
		Tools: c.Cache("tools"), Scans: c.Cache("scans"), Deps: c.Cache("deps"),
		ExtraToolDirs: append(discovery.DefaultToolDirs(), s.ToolDirs...),
	}), scope: make(map[string]scanScope)}
}

// ScanFiles scans a project, honouring its jmake.toml's build dir and
// excludes. When the sources are still those of fingerprint known, the
// lists are left out of the reply.
func (s *discoveryService) ScanFiles(ctx context.Context, root string, force bool, known string) (orchestrator.Files, error) {
	scan, cached, err := s.scan(root, force)
	if err != nil {
		return orchestrator.Files{}, err
	}
	srcs := sources(scan)
	fp := fingerprint(srcs, scan.Walked)
	if known != "" && known == fp {
		return orchestrator.Files{Cached: cached, Fingerprint: fp, Unchanged: true}, nil
	}
	dirs := make([]string, len(scan.Walked))
	for i, rel := range scan.Walked {
		dirs[i] = filepath.Join(scan.Root, filepath.FromSlash(rel))
	}
	return orchestrator.Files{Sources: srcs, Headers: scan.Headers, Dirs: dirs, Root: scan.Root, Cached: cached, Fingerprint: fp}, nil
}

// scopeOf reads what the jmake.toml in dir says to scan (the project
// root, build dir, excludes), parsing the file only when it changed.
func (s *discoveryService) scopeOf(dir string) scanScope {
	s.mu.Lock()
	sc, hit := s.scope[dir]
	s.mu.Unlock()
	if _, changed := sc.inputs.Changed(); hit && !changed {
		return sc
	}
	sc = scanScope{inputs: change.Record(filepath.Join(dir, project.FileName)), root: dir, buildDir: "build"}
	if cfg, err := project.Load(dir); err == nil {
		sc.root, sc.buildDir, sc.excludes = cfg.RootDir(dir), cfg.Paths.Build, cfg.Compile.Exclude
	}
	s.mu.Lock()
	s.scope[dir] = sc
	s.mu.Unlock()
	return sc
}

// sources lists a scan's C and C++ sources together, sorted.
func sources(scan discovery.Scan) []string {
	srcs := make([]string, 0, len(scan.CSources)+len(scan.CPPSources))
	srcs = append(append(srcs, scan.CSources...), scan.CPPSources...)
	sort.Strings(srcs)
	return srcs
}

// fingerprint identifies lists of names.
func fingerprint(lists ...[]string) string {
	h := sha256.New()
	for _, names := range lists {
		for _, n := range names {
			h.Write([]byte(n))
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// scan scans the project whose jmake.toml is in dir: its [project] root,
// so that sources are relative to the root, as the config's globs are.
func (s *discoveryService) scan(dir string, force bool) (discovery.Scan, bool, error) {
	sc := s.scopeOf(dir)
	return s.d.ScanFiles(sc.root, force, sc.excludes, sc.buildDir)
}

type mapCache struct {
	name  string
	stats func() store.Stats
	clear func() error
}

func (m mapCache) Name() string       { return m.name }
func (m mapCache) Stats() store.Stats { return m.stats() }
func (m mapCache) Clear() error       { return m.clear() }

func bindDiscovery(d *daemon.Daemon) error {
	s := newDiscoveryService(d, d.Settings())
	d.Handle("get_tool", func(ctx context.Context, req *daemon.Request) (any, error) {
		var a struct {
			Name string `json:"name"`
		}
		if err := req.Decode(&a); err != nil {
			return nil, err
		}
		if a.Name == "" {
			return nil, daemon.Errorf(400, "get_tool: missing argument \"name\"")
		}
		tool, cached, err := s.d.GetTool(a.Name)
		if err != nil {
			return nil, daemon.Errorf(404, "%v", err)
		}
		return map[string]any{"tool": tool, "cached": cached}, nil
	})
	d.Handle("tools", func(ctx context.Context, req *daemon.Request) (any, error) {
		return map[string]any{"tools": s.d.Tools(), "cached": true}, nil
	})
	d.Handle("scan_files", onPath(func(ctx context.Context, a *struct {
		pathArg
		Force       bool   `json:"force"`
		Known       string `json:"known"`        // a fingerprint the caller has the lists of
		SourcesOnly bool   `json:"sources_only"` // reply with sources and fingerprint alone
	}) (any, error) {
		if a.SourcesOnly {
			return s.ScanFiles(ctx, a.Path, a.Force, a.Known)
		}
		scan, cached, err := s.scan(a.Path, a.Force)
		if err != nil {
			return nil, err
		}
		m := jsonValue(scan)
		srcs := sources(scan)
		m["sources"], m["cached"], m["fingerprint"] = srcs, cached, fingerprint(srcs, scan.Walked)
		return m, nil
	}))
	d.Handle("walk_dependencies", onPath(func(ctx context.Context, a *struct {
		pathArg
		IncludeDirs []string `json:"include_dirs"`
		Units       []string `json:"units"`
	}) (any, error) {
		if a.Units == nil {
			files, err := s.ScanFiles(ctx, a.Path, false, "")
			if err != nil {
				return nil, err
			}
			a.Units = files.Sources
		}
		g, err := s.d.WalkDependencies(a.Path, a.IncludeDirs, a.Units)
		if err != nil {
			return nil, err
		}
		return map[string]any{"graph": g}, nil
	}))
	d.Handle("detect_binaries", onPath(func(ctx context.Context, a *pathArg) (any, error) {
		bins, err := s.d.DetectBinaries(a.Path)
		if err != nil {
			return nil, err
		}
		return map[string]any{"binaries": bins}, nil
	}))
	d.Handle("discover_project", onPath(func(ctx context.Context, a *struct {
		pathArg
		Force bool `json:"force"`
	}) (any, error) {
		p, cached, err := s.d.DiscoverProject(a.Path, a.Force)
		if err != nil {
			return nil, err
		}
		return map[string]any{"project": p, "cached": cached}, nil
	}))
	return nil
}
