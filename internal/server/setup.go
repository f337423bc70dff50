package server

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"

	"github.com/jmake/jmake/internal/change"
	"github.com/jmake/jmake/internal/daemon"
	"github.com/jmake/jmake/internal/orchestrator"
	"github.com/jmake/jmake/internal/project"
	"github.com/jmake/jmake/internal/setup"
	"github.com/jmake/jmake/internal/store"
	"github.com/jmake/jmake/internal/toolenv"
)

// setupService adapts the setup package to the pipeline.
type setupService struct {
	s     *setup.Setup
	valid *store.Map // project root -> validMemo (JSON), persisted
}

// validMemo remembers that a project's jmake.toml validated cleanly, with
// the inputs the verdict rests on: the file, and the directories whose
// listing decides whether its sources and include directories are there
// (project.ValidationInputs). Full validation walks the project tree,
// which a no-op build must not pay for; so a build re-validates when one
// of those inputs changes (a directory only when its listing does: a file
// saved by rename leaves it as it was, see change.Inputs), and an invalid
// file every time, until it is fixed.
type validMemo struct {
	Inputs change.Inputs           `json:"inputs"`
	V      orchestrator.Validation `json:"validation"`
}

func newSetupService(c caches) *setupService {
	return &setupService{s: setup.New(setup.Options{}), valid: c.Cache("validated")}
}

// ValidateConfig validates root/jmake.toml, looking the compilers it names
// up on the caller's PATH (a path with a slash is relative to root, where
// the compiler runs). A verdict is remembered per root and PATH.
func (s *setupService) ValidateConfig(ctx context.Context, root string, env toolenv.Env) (orchestrator.Validation, error) {
	memoKey := root
	if env.Path != "" {
		memoKey = root + "\x00" + env.Path
	}
	var m validMemo
	if b, hit := s.valid.Get(memoKey); hit && json.Unmarshal(b, &m) == nil {
		if renewed, _, changed := m.Inputs.Verify(); !changed {
			if renewed != nil {
				// A directory was re-read (an editor's save moved
				// it): remember it as it is now, so that the next
				// build proves it by a stat.
				m.Inputs = *renewed
				b, _ := json.Marshal(m)
				s.valid.Put(memoKey, b)
			}
			m.V.Cached = true
			return m.V, nil
		}
	}
	// The inputs are recorded before validating, so that a change made
	// while it runs shows in the memo's next check.
	var in change.Inputs
	if cfg, _, err := s.s.Config(root); err == nil {
		in = change.Record(append([]string{filepath.Join(root, project.FileName)}, project.ValidationInputs(root, cfg)...)...)
	}
	v, err := s.s.ValidateConfigWith(root, func(name string) (string, bool) {
		if strings.ContainsRune(name, '/') && !filepath.IsAbs(name) {
			name = filepath.Join(root, name)
		}
		p, err := env.LookPath(name)
		return p, err == nil
	})
	if err != nil {
		return orchestrator.Validation{}, err
	}
	out := orchestrator.Validation{Valid: v.Valid, Cached: v.Cached}
	defer func() {
		if out.Valid && len(in.IDs) > 0 {
			b, _ := json.Marshal(validMemo{in, out})
			s.valid.Put(memoKey, b)
		} else {
			s.valid.Delete(memoKey)
		}
	}()
	for _, e := range v.Errors {
		out.Errors = append(out.Errors, e.String())
	}
	for _, w := range v.Warnings {
		out.Warnings = append(out.Warnings, w.String())
		if w.UnknownKey {
			out.Unknown = append(out.Unknown, w.String())
		}
	}
	return out, nil
}

func bindSetup(d *daemon.Daemon) error {
	s := newSetupService(d)
	d.AddCache(mapCache{name: "configs",
		stats: func() store.Stats {
			st := s.s.CacheStats()
			return store.Stats{Entries: st.Entries, Hits: st.Hits, Misses: st.Misses}
		},
		clear: func() error { s.s.ClearCache(); return nil }})
	d.Handle("create_structure", onPath(func(ctx context.Context, a *struct {
		pathArg
		Type string `json:"type"`
	}) (any, error) {
		return s.s.CreateStructure(a.Path, a.Type)
	}))
	d.Handle("generate_config", onPath(func(ctx context.Context, a *struct {
		pathArg
		Info  setup.ProjectInfo `json:"info"`
		Force bool              `json:"force"`
	}) (any, error) {
		if len(a.Info.Sources) == 0 {
			// No discovery given: ask it here.
			info, err := setup.Discover(a.Path)
			if err != nil {
				return nil, err
			}
			if a.Info.Name != "" {
				info.Name = a.Info.Name
			}
			a.Info = info
		}
		text, err := s.s.GenerateConfig(a.Path, a.Info, a.Force)
		if err != nil {
			return nil, err
		}
		return map[string]any{"path": filepath.Join(a.Path, "jmake.toml"), "config": text}, nil
	}))
	d.Handle("validate_config", onPath(func(ctx context.Context, a *struct {
		pathArg
		Env toolenv.Env `json:"env"`
	}) (any, error) {
		return s.ValidateConfig(ctx, a.Path, a.Env)
	}))
	d.Handle("get_config_section", onPath(func(ctx context.Context, a *struct {
		pathArg
		Section string `json:"section"`
	}) (any, error) {
		sec, err := s.s.GetConfigSection(a.Path, a.Section)
		if err != nil {
			return nil, err
		}
		return map[string]any{"section": a.Section, "data": sec}, nil
	}))
	d.Handle("update_config", onPath(func(ctx context.Context, a *struct {
		pathArg
		Section string         `json:"section"`
		Data    map[string]any `json:"data"`
	}) (any, error) {
		if err := s.s.UpdateConfig(a.Path, a.Section, a.Data); err != nil {
			return nil, err
		}
		return map[string]any{"updated": a.Section}, nil
	}))
	return nil
}
