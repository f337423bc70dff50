package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/jmake/jmake/internal/change"
	"github.com/jmake/jmake/internal/compile"
	"github.com/jmake/jmake/internal/daemon"
	"github.com/jmake/jmake/internal/orchestrator"
	"github.com/jmake/jmake/internal/project"
	"github.com/jmake/jmake/internal/settings"
	"github.com/jmake/jmake/internal/store"
)

// compileService adapts the compile engine to the pipeline.
type compileService struct {
	e       *compile.Engine
	objects *store.Objects

	mu      sync.Mutex               // guards sources and configs
	sources map[string]fingerprinted // per project: the sources last sent
	configs map[string]loadedConfig  // per project: its parsed jmake.toml
	// resolved holds per project its targets (targets.go).
	resolved map[string]*resolved
}

// loadedConfig is a parsed jmake.toml with the file's identity when it was
// read, so a no-op build does not parse it again. The engine never
// modifies a Config.
type loadedConfig struct {
	inputs change.Inputs
	cfg    *project.Config
}

type fingerprinted struct {
	fp      string
	sources []string
	// units are the sources cfg selects (SelectSources), kept so that a
	// no-op build does not filter a thousand paths again.
	cfg   *project.Config
	units []string
}

func newCompileService(c caches, cacheDir string, s settings.Settings, log *slog.Logger) (*compileService, error) {
	maxBytes, err := settings.ParseSize(s.CacheMaxSize)
	if err != nil {
		return nil, err
	}
	objects, err := store.OpenObjects(filepath.Join(cacheDir, store.ObjectsDir), maxBytes)
	if err != nil {
		return nil, err
	}
	e := compile.New(compile.Options{
		Objects: objects, Manifests: c.Cache("manifests"), Files: c.Cache("files"), Builds: c.Cache("builds"),
		Workers: s.Workers, Logger: log, WatchDir: filepath.Join(cacheDir, "watch"),
	})
	return &compileService{e: e, objects: objects, sources: make(map[string]fingerprinted), configs: make(map[string]loadedConfig), resolved: make(map[string]*resolved)}, nil
}

// Compile loads the project's jmake.toml, selects its units among the
// sources discovery found, and builds.
func (s *compileService) Compile(ctx context.Context, req orchestrator.CompileRequest, progress func(orchestrator.Event)) (orchestrator.CompileResult, error) {
	s.mu.Lock()
	if req.Sources == nil && req.Fingerprint != "" {
		last, ok := s.sources[req.Path]
		if !ok || last.fp != req.Fingerprint {
			s.mu.Unlock()
			return orchestrator.CompileResult{}, orchestrator.ErrUnknownSources
		}
		req.Sources = last.sources
	} else if req.Fingerprint != "" {
		s.sources[req.Path] = fingerprinted{fp: req.Fingerprint, sources: req.Sources}
	}
	s.mu.Unlock()
	cfg, err := s.config(req.Path)
	if err != nil {
		return orchestrator.CompileResult{}, err
	}
	root := cfg.RootDir(req.Path)
	ts, pcDirs, err := s.targetsFor(req.Path, req.Fingerprint, cfg, req.Select, req.Env)
	if err != nil {
		return orchestrator.CompileResult{}, err
	}
	if len(ts) != 1 || ts[0].StateKey != "" || len(ts[0].Symlinks) > 0 {
		tu := s.targetUnits(resolvedKey(req.Path, req.Select), root, ts, req.Sources)
		out, err := s.buildTargets(ctx, req, root, ts, tu, progress)
		watchPkgs(&out, pcDirs)
		return out, err
	}
	// The single output of [binary]: one build, as before targets.
	cfg = ts[0].Config
	units := s.units(req.Path, req.Fingerprint, cfg, root, req.Sources)
	if len(units) == 0 {
		return orchestrator.CompileResult{}, fmt.Errorf("%s: no sources to build (paths.source = %q)", filepath.Join(req.Path, project.FileName), cfg.Paths.Source)
	}
	res, err := s.e.Build(ctx, compile.Request{
		Root: root, Config: cfg, Sources: units, Jobs: req.Jobs, Clean: req.Clean, Explain: req.Explain, NoopOnly: req.NoopOnly, Color: req.Color, Env: req.Env,
	}, func(ev compile.Event) {
		if progress != nil && ev.Kind != "done" && ev.Kind != "plan" {
			progress(orchestrator.Event{Event: ev.Kind, Unit: ev.Unit, Done: ev.Done, Total: ev.Total, Output: ev.Output})
		}
	})
	var out orchestrator.CompileResult
	if res != nil {
		counts := countsOf(res)
		out = orchestrator.CompileResult{
			Output: res.Output, Counts: counts, ElapsedSeconds: res.ElapsedSeconds, Explain: res.Explain,
			CompileCommands: res.CompileCommands, Diagnostics: res.Diagnostics, Warnings: res.Warnings,
			InputDirs: res.InputDirs, OutputDirs: res.OutputDirs,
		}
		out.Targets = []orchestrator.TargetOutcome{{Name: ts[0].Name, Kind: ts[0].Kind, Output: res.Output,
			Symlinks: ts[0].Symlinks, Counts: counts, Linker: res.Linker}}
		watchPkgs(&out, pcDirs)
	}
	if errors.Is(err, compile.ErrNotNoop) {
		return out, orchestrator.ErrNotNoop
	}
	var te *compile.ToolError
	if errors.As(err, &te) {
		return out, &orchestrator.ConfigError{Err: err}
	}
	var be *compile.BuildError
	if errors.As(err, &be) {
		out.Summary = be.Summary()
		return out, &orchestrator.CompileFailed{Msg: err.Error(), Summary: out.Summary, Diagnostics: out.Diagnostics}
	}
	return out, err
}

// watchPkgs adds the directories of the .pc files a build used to its
// inputs, so that the orchestrator's watch sees a package installed
// again; a result without inputs (one the watch does not settle on)
// stays without.
func watchPkgs(cr *orchestrator.CompileResult, pcDirs []string) {
	if len(cr.InputDirs) > 0 && len(pcDirs) > 0 {
		cr.InputDirs = mergeSorted(cr.InputDirs, pcDirs)
	}
}

// units returns the units cfg selects among sources, remembered per
// project for the same config and the same fingerprinted source list.
func (s *compileService) units(path, fp string, cfg *project.Config, root string, sources []string) []string {
	s.mu.Lock()
	last, ok := s.sources[path]
	s.mu.Unlock()
	if fp != "" && ok && last.fp == fp && last.cfg == cfg {
		return last.units
	}
	units := cfg.SelectSources(root, sources)
	if fp != "" {
		s.mu.Lock()
		if cur, ok := s.sources[path]; ok && cur.fp == fp {
			cur.cfg, cur.units = cfg, units
			s.sources[path] = cur
		}
		s.mu.Unlock()
	}
	return units
}

// config returns root's parsed jmake.toml, parsing it only when the file
// changed (see change.Inputs).
func (s *compileService) config(root string) (*project.Config, error) {
	s.mu.Lock()
	lc, hit := s.configs[root]
	s.mu.Unlock()
	if _, changed := lc.inputs.Changed(); hit && !changed {
		return lc.cfg, nil
	}
	in := change.Record(filepath.Join(root, project.FileName))
	cfg, err := project.Load(root)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.configs[root] = loadedConfig{in, cfg}
	s.mu.Unlock()
	return cfg, nil
}

func bindCompilation(d *daemon.Daemon) error {
	s, err := newCompileService(d, d.CacheDir(), d.Settings(), d.Logger())
	if err != nil {
		return err
	}
	d.AddCache(mapCache{name: "objects",
		stats: func() store.Stats {
			st := s.e.CacheStats()
			return store.Stats{Entries: st.Entries, Bytes: st.Bytes, Hits: st.Hits, Misses: st.Misses, Corrupt: st.Corrupt}
		},
		clear: s.e.ClearCaches})
	d.OnShutdown("stop the file watcher", func(context.Context) error { return s.e.Close() })
	for _, c := range []struct {
		name, help string
		value      func(compile.Counters) int64
	}{
		{"jmake_compiles_total", "Compiler runs.", func(c compile.Counters) int64 { return c.Compiles }},
		{"jmake_links_total", "Links of a library or program.", func(c compile.Counters) int64 { return c.Links }},
		{"jmake_partial_links_total", "Partial links of link groups.", func(c compile.Counters) int64 { return c.GroupLinks }},
		{"jmake_rsp_file_links_total", "Links and partial links given their arguments in a response file.", func(c compile.Counters) int64 { return c.RspFiles }},
		{"jmake_direct_compiles_total", "Compiles that ran the compiler proper and the assembler without the compiler driver.", func(c compile.Counters) int64 { return c.DirectCompiles }},
		{"jmake_direct_links_total", "Links and partial links that ran the linker without the compiler driver.", func(c compile.Counters) int64 { return c.DirectLinks }},
		{"jmake_linker_probes_total", "Probe links run to learn which linkers the compiler driver can use.", func(c compile.Counters) int64 { return c.LinkerProbes }},
		{"jmake_watched_noops_total", "No-op builds answered from the file watch, without a stat.", func(c compile.Counters) int64 { return c.WatchedNoops }},
		{"jmake_watched_partial_total", "Builds that stat'ed only the files the file watch saw change.", func(c compile.Counters) int64 { return c.WatchedPartial }},
		{"jmake_files_hashed_total", "Input files read and hashed.", func(c compile.Counters) int64 { return c.FilesHashed }},
	} {
		if err := d.AddCounter(c.name, c.help, func() float64 { return float64(c.value(s.e.Counters())) }); err != nil {
			return err
		}
	}
	d.Handle("compile", func(ctx context.Context, req *daemon.Request) (any, error) {
		var a orchestrator.CompileRequest
		if err := decodePath(req, &a, &a.Path); err != nil {
			return nil, err
		}
		if a.Sources == nil && a.Fingerprint == "" {
			return nil, daemon.Errorf(400, "compile: missing argument \"sources\" (discovery's scan_files gives them)")
		}
		res, err := s.Compile(ctx, a, func(ev orchestrator.Event) { req.Progress(ev) })
		if errors.Is(err, orchestrator.ErrUnknownSources) {
			return nil, daemon.Errorf(http.StatusConflict, "compile: %v", err)
		}
		if errors.Is(err, orchestrator.ErrNotNoop) {
			// An answer, not a failure: it must not count as an error.
			return map[string]any{"not_noop": true}, nil
		}
		var cf *orchestrator.CompileFailed
		if errors.As(err, &cf) {
			return nil, &daemon.Failure{Err: err, Reply: res}
		}
		if err != nil {
			if os.IsNotExist(err) {
				return nil, daemon.Errorf(400, "compile: %v", err)
			}
			var pe *project.PositionError
			var ce *orchestrator.ConfigError
			if errors.As(err, &pe) || errors.As(err, &ce) {
				return nil, daemon.Errorf(400, "compile: %v", err)
			}
			return nil, err
		}
		return res, nil
	})
	return nil
}
