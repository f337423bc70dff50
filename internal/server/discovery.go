package server

import (
	"context"
	"sort"

	"github.com/jmake/jmake/internal/daemon"
	"github.com/jmake/jmake/internal/discovery"
	"github.com/jmake/jmake/internal/orchestrator"
	"github.com/jmake/jmake/internal/project"
	"github.com/jmake/jmake/internal/store"
)

// discoveryService adapts the discovery package to the pipeline.
type discoveryService struct{ d *discovery.Discovery }

func newDiscoveryService(c caches) *discoveryService {
	return &discoveryService{discovery.New(discovery.Options{
		Tools: c.Cache("tools"), Scans: c.Cache("scans"), Deps: c.Cache("deps"),
	})}
}

// ScanFiles scans a project, honouring its jmake.toml's build dir and
// excludes.
func (s *discoveryService) ScanFiles(ctx context.Context, root string, force bool) (orchestrator.Files, error) {
	scan, cached, err := s.scan(root, force)
	if err != nil {
		return orchestrator.Files{}, err
	}
	srcs := append(append([]string(nil), scan.CSources...), scan.CPPSources...)
	sort.Strings(srcs)
	return orchestrator.Files{Sources: srcs, Headers: scan.Headers, Cached: cached}, nil
}

func (s *discoveryService) scan(root string, force bool) (discovery.Scan, bool, error) {
	buildDir, excludes := "build", []string(nil)
	if cfg, err := project.Load(root); err == nil {
		buildDir, excludes = cfg.Paths.Build, cfg.Compile.Exclude
	}
	return s.d.ScanFiles(root, force, excludes, buildDir)
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
	s := newDiscoveryService(d)
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
	d.Handle("scan_files", func(ctx context.Context, req *daemon.Request) (any, error) {
		var a struct {
			Path  string `json:"path"`
			Force bool   `json:"force"`
		}
		if err := decodePath(req, &a, &a.Path); err != nil {
			return nil, err
		}
		scan, cached, err := s.scan(a.Path, a.Force)
		if err != nil {
			return nil, daemon.Errorf(400, "scan_files: %v", err)
		}
		m := jsonValue(scan)
		srcs := append(append([]string(nil), scan.CSources...), scan.CPPSources...)
		sort.Strings(srcs)
		m["sources"], m["cached"] = srcs, cached
		return m, nil
	})
	d.Handle("walk_dependencies", func(ctx context.Context, req *daemon.Request) (any, error) {
		var a struct {
			Path        string   `json:"path"`
			IncludeDirs []string `json:"include_dirs"`
			Units       []string `json:"units"`
		}
		if err := decodePath(req, &a, &a.Path); err != nil {
			return nil, err
		}
		if a.Units == nil {
			files, err := s.ScanFiles(ctx, a.Path, false)
			if err != nil {
				return nil, daemon.Errorf(400, "walk_dependencies: %v", err)
			}
			a.Units = files.Sources
		}
		g, err := s.d.WalkDependencies(a.Path, a.IncludeDirs, a.Units)
		if err != nil {
			return nil, daemon.Errorf(400, "walk_dependencies: %v", err)
		}
		return map[string]any{"graph": g}, nil
	})
	d.Handle("detect_binaries", func(ctx context.Context, req *daemon.Request) (any, error) {
		var a struct {
			Path string `json:"path"`
		}
		if err := decodePath(req, &a, &a.Path); err != nil {
			return nil, err
		}
		bins, err := s.d.DetectBinaries(a.Path)
		if err != nil {
			return nil, daemon.Errorf(400, "detect_binaries: %v", err)
		}
		return map[string]any{"binaries": bins}, nil
	})
	d.Handle("discover_project", func(ctx context.Context, req *daemon.Request) (any, error) {
		var a struct {
			Path  string `json:"path"`
			Force bool   `json:"force"`
		}
		if err := decodePath(req, &a, &a.Path); err != nil {
			return nil, err
		}
		p, cached, err := s.d.DiscoverProject(a.Path, a.Force)
		if err != nil {
			return nil, daemon.Errorf(400, "discover_project: %v", err)
		}
		return map[string]any{"project": p, "cached": cached}, nil
	})
	return nil
}
