package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/jmake/jmake/internal/compile"
	"github.com/jmake/jmake/internal/orchestrator"
	"github.com/jmake/jmake/internal/project"
	"github.com/jmake/jmake/internal/toolenv"
)

// resolved is a project's targets for one config, one list of sources
// and one selection, with pkg-config already applied: the tests of the
// tests/ convention come and go with the sources, so the targets are
// resolved again when jmake.toml or the sources change.
type resolved struct {
	cfg     *project.Config
	fp      string // the sources' fingerprint
	targets []*project.Target
	// units are the units each target selects among the sources.
	units map[string][]string
	// pkg holds pkg-config's answers for cfg in the caller's pkg-config
	// environment pkgEnv (toolenv.Env.PkgConfigKey).
	pkg    map[string]project.PkgFlags
	pkgEnv string
	// pcDirs are the directories of pkg's .pc files, for the watch.
	pcDirs []string
}

// targetsFor resolves and selects the targets of the project in dir for
// the sources of fingerprint fp, with pkg-config run in the caller's
// environment env. pcDirs hold the .pc files of the packages they use.
func (s *compileService) targetsFor(dir, fp string, cfg *project.Config, sel orchestrator.Select, env toolenv.Env) (ts []*project.Target, pcDirs []string, err error) {
	key, pkgEnv := resolvedKey(dir, sel), env.PkgConfigKey()
	s.mu.Lock()
	r := s.resolved[key]
	s.mu.Unlock()
	if r != nil && r.cfg == cfg && r.pkgEnv == pkgEnv && r.fp == fp && fp != "" && project.PkgCurrent(r.pkg) {
		return r.targets, r.pcDirs, nil
	}
	var pkg map[string]project.PkgFlags
	if r != nil && r.cfg == cfg && r.pkgEnv == pkgEnv {
		// pkg-config is asked again when jmake.toml changes, or where it
		// looks for packages, and about a package installed again.
		pkg = r.pkg
	}
	if pkg == nil {
		pkg = map[string]project.PkgFlags{}
	}
	all, err := cfg.Targets(dir, project.Profile{Name: sel.Profile, Sanitize: sel.Sanitize})
	if err != nil {
		return nil, nil, err
	}
	if ts, err = project.Select(all, sel.Targets, sel.Tests); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", filepath.Join(dir, project.FileName), err)
	}
	if err := project.ApplyPkgConfig(dir, ts, env, pkg); err != nil {
		return nil, nil, err
	}
	pcDirs = project.PkgDirs(pkg)
	s.mu.Lock()
	s.resolved[key] = &resolved{cfg: cfg, fp: fp, targets: ts, pkg: pkg, pkgEnv: pkgEnv, pcDirs: pcDirs}
	s.mu.Unlock()
	return ts, pcDirs, nil
}

// resolvedKey names a project's targets for one selection: a build and
// a test run of one project keep theirs side by side.
func resolvedKey(dir string, sel orchestrator.Select) string {
	return fmt.Sprintf("%s\x00%q %v %q %q", dir, sel.Targets, sel.Tests, sel.Profile, sel.Sanitize)
}

// targetUnits returns each target's units among sources (relative to
// root), remembered with the targets resolved for them.
func (s *compileService) targetUnits(key, root string, ts []*project.Target, sources []string) map[string][]string {
	s.mu.Lock()
	r := s.resolved[key]
	if r != nil && r.units != nil && len(r.targets) == len(ts) && (len(ts) == 0 || r.targets[0] == ts[0]) {
		u := r.units
		s.mu.Unlock()
		return u
	}
	s.mu.Unlock()
	units := make(map[string][]string, len(ts))
	for _, t := range ts {
		units[t.Name] = t.Config.SelectSources(root, sources)
	}
	s.mu.Lock()
	if r != nil && len(r.targets) == len(ts) && (len(ts) == 0 || r.targets[0] == ts[0]) {
		r.units = units
	}
	s.mu.Unlock()
	return units
}

// buildTargets builds several targets as one graph.
func (s *compileService) buildTargets(ctx context.Context, req orchestrator.CompileRequest, root string, ts []*project.Target, units map[string][]string, progress func(orchestrator.Event)) (orchestrator.CompileResult, error) {
	file := filepath.Join(req.Path, project.FileName)
	reqs := make([]compile.TargetRequest, 0, len(ts))
	for _, t := range ts {
		if len(units[t.Name]) == 0 {
			return orchestrator.CompileResult{}, fmt.Errorf("%s: target %q has no sources to build", project.AtLine(file, t.Line), t.Name)
		}
		var inputs []string
		for _, f := range t.LinkInputs {
			inputs = append(inputs, absUnder(root, f))
		}
		reqs = append(reqs, compile.TargetRequest{
			Name: t.Name, Needs: t.Links, Symlinks: t.Symlinks,
			Request: compile.Request{
				Root: root, Config: t.Config, Sources: units[t.Name], Jobs: req.Jobs, Clean: req.Clean,
				Explain: req.Explain, Color: req.Color, Env: req.Env, Target: t.StateKey, LinkInputs: inputs,
			},
		})
	}
	if req.NoopOnly {
		// Only the watch's answer of each target, without building.
		var out orchestrator.CompileResult
		for i, r := range reqs {
			q := r.Request
			q.NoopOnly = true
			res, err := s.e.Build(ctx, q, nil)
			if err != nil || !compile.SymlinksOK(res.Output, r.Symlinks) {
				return orchestrator.CompileResult{}, orchestrator.ErrNotNoop
			}
			addTarget(&out, ts[i], res, nil, root)
		}
		return out, nil
	}
	results, err := s.e.BuildTargets(ctx, reqs, req.Jobs, func(ev compile.Event) {
		if progress != nil {
			progress(orchestrator.Event{Event: ev.Kind, Unit: ev.Unit, Done: ev.Done, Total: ev.Total, Output: ev.Output})
		}
	})
	var out orchestrator.CompileResult
	for i, r := range results {
		addTarget(&out, ts[i], r.Result, r.Err, root)
	}
	if err == nil && ts[0].StateKey != "" {
		// One database for the project, beside the targets' directories.
		var parts []string
		for _, r := range results {
			parts = append(parts, r.Result.CompileCommands)
		}
		merged := filepath.Join(filepath.Dir(parts[0]), "..", "compile_commands.json")
		if merr := compile.MergeCompileCommands(filepath.Clean(merged), parts); merr != nil {
			return out, merr
		}
		out.CompileCommands = filepath.Clean(merged)
	}
	if err != nil {
		var be *compile.BuildError
		if errors.As(err, &be) {
			out.Summary = be.Summary()
			return out, &orchestrator.CompileFailed{Msg: err.Error(), Summary: out.Summary, Diagnostics: out.Diagnostics}
		}
	}
	return out, err
}

// absUnder is p joined to root unless absolute.
func absUnder(root, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(root, filepath.FromSlash(p))
}

// countsOf is the wire form of a compile result's counts.
func countsOf(res *compile.Result) orchestrator.Counts {
	return orchestrator.Counts{Units: res.Units, Compiled: res.Compiled, Cached: res.Cached, UpToDate: res.UpToDate, Linked: res.Linked}
}

// addTarget counts one target's result into the totals of cr.
func addTarget(cr *orchestrator.CompileResult, t *project.Target, res *compile.Result, err error, root string) {
	o := orchestrator.TargetOutcome{Name: t.Name, Kind: t.Kind, Symlinks: t.Symlinks}
	if t.Kind == project.KindTest {
		o.Dir = absUnder(root, cmp.Or(t.Dir, "."))
	}
	if err != nil {
		o.Error = err.Error()
	}
	if res != nil {
		o.Output, o.Linker = res.Output, res.Linker
		o.Counts = countsOf(res)
		// The build's output is its first program, what a person runs;
		// without one, its first target.
		firstProgram := t.Kind == project.KindProgram &&
			!slices.ContainsFunc(cr.Targets, func(o orchestrator.TargetOutcome) bool { return o.Kind == project.KindProgram })
		if cr.Output == "" || firstProgram {
			cr.Output = res.Output
		}
		cr.Counts.Add(o.Counts)
		cr.ElapsedSeconds = max(cr.ElapsedSeconds, res.ElapsedSeconds)
		for _, e := range res.Explain {
			cr.Explain = append(cr.Explain, t.Name+": "+e)
		}
		cr.Diagnostics += res.Diagnostics
		if cr.CompileCommands == "" {
			cr.CompileCommands = res.CompileCommands
		}
		cr.InputDirs = mergeSorted(cr.InputDirs, res.InputDirs)
		cr.OutputDirs = mergeSorted(cr.OutputDirs, res.OutputDirs)
	}
	var be *compile.BuildError
	if errors.As(err, &be) && (res == nil || res.Diagnostics == "") {
		cr.Diagnostics += be.Diagnostics
	}
	cr.Targets = append(cr.Targets, o)
}

// mergeSorted is the sorted union of two sorted lists.
func mergeSorted(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}
