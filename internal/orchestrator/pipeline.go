// Package orchestrator runs a build: discovery → setup (validate) →
// compilation. The pipeline depends only on the three small interfaces
// below, which the HTTP clients of the other daemons satisfy (the
// orchestrator daemon) and so do the in-process packages (`jmake build
// --no-daemon`): both paths run this same code.
package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmake/jmake/internal/buildapi"
	"github.com/jmake/jmake/internal/change"
	"github.com/jmake/jmake/internal/keylock"
	"github.com/jmake/jmake/internal/toolenv"
)

// Files is what discovery found in a project.
type Files struct {
	Sources []string `json:"sources"` // C and C++ sources, relative, slash-separated
	Headers []string `json:"headers"`
	// Dirs are the directories walked, absolute: nothing outside them can
	// add, remove or rename a source.
	Dirs []string `json:"dirs,omitempty"`
	// Root is the directory Sources and Headers are relative to, the
	// [project] root: absolute.
	Root   string `json:"root,omitempty"`
	Cached bool   `json:"cached"`
	// Fingerprint identifies the sources and the directories walked;
	// Unchanged says they are those of the fingerprint the caller already
	// knows, and the lists were left out.
	Fingerprint string `json:"fingerprint"`
	Unchanged   bool   `json:"unchanged,omitempty"`
}

// Validation is setup's verdict on a jmake.toml.
type Validation struct {
	Valid    bool     `json:"valid"`
	Errors   []string `json:"errors"`   // "file:line:col: message"
	Warnings []string `json:"warnings"` // same form
	// Unknown are the warnings about unknown keys and tables, which a
	// strict build makes errors.
	Unknown []string `json:"unknown,omitempty"`
	Cached  bool     `json:"cached"`
}

// CompileRequest asks compilation to build a project.
type CompileRequest struct {
	Path    string   `json:"path"`    // project root, absolute
	Sources []string `json:"sources"` // every C/C++ source discovery found; the config selects the units
	// Fingerprint identifies Sources. Sources may be left out when the
	// compiler was last sent the same fingerprint for this path; a compiler
	// that does not know it answers ErrUnknownSources.
	Fingerprint string `json:"fingerprint,omitempty"`
	// NoopOnly asks for a reply only if the build is provably a no-op;
	// otherwise the compiler does nothing and answers ErrNotNoop.
	NoopOnly bool `json:"noop_only,omitempty"`
	Jobs     int  `json:"jobs,omitempty"`
	Clean    bool `json:"clean,omitempty"`
	Explain  bool `json:"explain,omitempty"`
	// Color asks the compilers for coloured diagnostics (the caller's
	// terminal shows them); it changes no key and no object.
	Color bool `json:"color,omitempty"`
	// Env is the caller's PATH, CC, CXX, flags and pkg-config variables.
	Env toolenv.Env `json:"env,omitzero"`
	Select
}

// selectKey is what a build's answer depends on beside the project's
// files.
func selectKey(s Select) string {
	if len(s.Targets) == 0 && !s.Tests && s.Profile == "" && len(s.Sanitize) == 0 {
		return ""
	}
	return fmt.Sprintf("\x00%q %v %q %q", s.Targets, s.Tests, s.Profile, s.Sanitize)
}

// CompileResult is compilation's reply.
type CompileResult struct {
	Output string `json:"output"`
	Counts
	ElapsedSeconds  float64  `json:"elapsed_seconds"`
	Explain         []string `json:"explain,omitempty"`
	CompileCommands string   `json:"compile_commands,omitempty"`
	Diagnostics     string   `json:"diagnostics,omitempty"`
	Warnings        []string `json:"warnings,omitempty"` // about the caches: damaged entries, failed writes
	// Summary, on a failed compilation, names what failed in one line.
	Summary string `json:"summary,omitempty"`
	NotNoop bool   `json:"not_noop,omitempty"` // the answer to a NoopOnly request with work to do
	// Targets has one entry per target built; the fields above are their
	// totals (Output is the first program's, else the first target's).
	Targets []TargetOutcome `json:"targets,omitempty"`
	// InputDirs and OutputDirs are the directories a successful build read
	// from and wrote to (absolute): a watch over them, the project's root
	// and discovery's Dirs sees every change that could make the next
	// build do anything.
	InputDirs  []string `json:"input_dirs,omitempty"`
	OutputDirs []string `json:"output_dirs,omitempty"`
}

// Discoverer finds a project's files. known is the fingerprint of the
// caller's last scan of root: when the files are still those, the reply may
// leave the lists out (Unchanged), which keeps a no-op build of a large
// project from shipping thousands of names back and forth.
type Discoverer interface {
	ScanFiles(ctx context.Context, root string, force bool, known string) (Files, error)
}

// ErrUnknownSources is a compiler's answer to a request that left its
// sources out under a fingerprint it does not know (it restarted, say).
var ErrUnknownSources = errors.New("unknown sources fingerprint: send the sources")

// ErrNotNoop is a compiler's answer to a NoopOnly request with work to do.
var ErrNotNoop = errors.New("not a no-op")

// Configurer validates a project's jmake.toml.
type Configurer interface {
	// env is the caller's: compilers jmake.toml names are looked up on
	// its PATH.
	ValidateConfig(ctx context.Context, root string, env toolenv.Env) (Validation, error)
}

// Compiler builds a project.
type Compiler interface {
	Compile(ctx context.Context, req CompileRequest, progress func(Event)) (CompileResult, error)
}

// Pipeline runs builds through the three stages.
type Pipeline struct {
	Discovery   Discoverer
	Setup       Configurer
	Compilation Compiler

	// Watch, when not nil, lets a no-op build be answered without calling
	// the stages (fast.go).
	Watch *change.Watcher

	// roots serializes builds of one project, so that the fast path's
	// state follows the builds in order.
	roots keylock.Locks

	mu       sync.Mutex                  // guards the fields below
	last     map[string]Files            // the last discovery per project
	compiled map[string]string           // the fingerprint last sent to the compiler per project
	fast     *change.Answers[fastAnswer] // per project: its last full build and the proof for it

	watchedNoops atomic.Int64
	// watchedScopes counts builds that reused discovery's and setup's
	// last answers (fast.go).
	watchedScopes atomic.Int64
}

// The shapes of a build on the wire live in buildapi, which the small
// client imports without the pipeline.
type (
	// Event is a progress event of a build, as streamed to the CLI.
	Event = buildapi.Event
	// BuildRequest is one build.
	BuildRequest = buildapi.BuildRequest
	// StageTime is how long one stage took.
	StageTime = buildapi.StageTime
	// BuildResult is the orchestrator's reply to a build.
	BuildResult = buildapi.BuildResult
	// Select says which targets of a project a build is for, and how.
	Select = buildapi.Select
	// TargetOutcome is one target of a build.
	TargetOutcome = buildapi.TargetOutcome
	// Counts are the units of a build or target and what became of them.
	Counts = buildapi.Counts
)

// BuildError is a build that ran and failed; Result holds what is known.
type BuildError struct {
	Stage  string
	Err    error
	Result *BuildResult
}

func (e *BuildError) Error() string { return fmt.Sprintf("%s: %v", e.Stage, e.Err) }
func (e *BuildError) Unwrap() error { return e.Err }

// Build runs discovery, validation and compilation for one project.
func (p *Pipeline) Build(ctx context.Context, req BuildRequest, progress func(Event)) (*BuildResult, error) {
	start := time.Now()
	if progress == nil {
		progress = func(Event) {}
	}
	root, err := filepath.Abs(req.Path)
	if err != nil {
		return nil, err
	}
	unlock, err := p.roots.Lock(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("%s: waiting for another build: %w", root, err)
	}
	defer unlock()
	if res, ok := p.fastNoop(fastKey(root, req), req, start); ok {
		return res, nil
	}
	fb, last, scopeSame := p.armFast(root, req)
	res := &BuildResult{Path: root}
	fail := func(stage string, err error, f *Failure) (*BuildResult, error) {
		res.ElapsedSeconds = time.Since(start).Seconds()
		if f == nil {
			f = classify(stage, err)
		}
		res.Failure = f
		return res, &BuildError{Stage: stage, Err: err, Result: res}
	}
	if f := CheckRoot(root); f != nil {
		return fail("setup", errors.New(f.Msg), f)
	}

	// Discovery and validation do not depend on each other: run them at
	// once, which takes a round trip off every build. Beside them, ask the
	// compiler whether the build is a no-op on the sources it was last
	// sent: when discovery then finds those same sources and setup a valid
	// config, that answer is the build's, and a no-op costs one round trip
	// instead of two. The compiler does no work for that question.
	var files Files
	var val Validation
	var derr, verr, serr error
	var spec CompileResult
	var specFP string
	if scopeSame {
		// Only file contents changed since the last build (fast.go):
		// discovery would list the same files, setup judge the same
		// jmake.toml.
		files, val = last.files, last.val
		p.watchedScopes.Add(1)
		res.Stages = append(res.Stages, StageTime{Name: "discovery", Cached: true}, StageTime{Name: "setup", Cached: true})
	} else {
		var dTook, vTook time.Duration
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			val, verr = p.Setup.ValidateConfig(ctx, root, req.Env)
			vTook = time.Since(t)
		}()
		specFP = p.speculation(root, req)
		if specFP != "" {
			wg.Add(1)
			go func() {
				defer wg.Done()
				spec, serr = p.Compilation.Compile(ctx, CompileRequest{Path: root, Fingerprint: specFP, NoopOnly: true, Jobs: req.Jobs, Env: req.Env, Select: req.Select}, nil)
			}()
		}
		t := time.Now()
		files, derr = p.discover(ctx, root, req)
		dTook = time.Since(t)
		wg.Wait()
		res.Stages = append(res.Stages, StageTime{Name: "discovery", Seconds: dTook.Seconds(), Cached: files.Cached},
			StageTime{Name: "setup", Seconds: vTook.Seconds(), Cached: val.Cached})
	}
	if derr != nil {
		return fail("discovery", derr, nil)
	}
	if verr != nil {
		return fail("setup", verr, nil)
	}
	if req.Strict && len(val.Unknown) > 0 {
		errs := make([]string, len(val.Unknown))
		for i, w := range val.Unknown {
			errs[i] = strings.Replace(w, ": warning: ", ": error: ", 1)
		}
		return fail("setup", errors.New("jmake.toml has unknown keys (--strict):\n  "+strings.Join(errs, "\n  ")), invalidConfig(errs))
	}
	// The config's warnings go out before anything compiles, where they
	// are seen, not after the compiler's output.
	res.Warnings = val.Warnings
	for _, w := range val.Warnings {
		progress(Event{Event: "warning", Msg: w})
	}
	if !val.Valid {
		return fail("setup", errors.New("jmake.toml is not valid:\n  "+strings.Join(val.Errors, "\n  ")), invalidConfig(val.Errors))
	}

	if specFP != "" && serr == nil && files.Fingerprint == specFP {
		res.Stages = append(res.Stages, StageTime{Name: "compilation", Seconds: 0, Cached: true})
		res.Output, res.Units, res.UpToDate, res.Targets = spec.Output, spec.Units, spec.UpToDate, spec.Targets
		res.ElapsedSeconds = time.Since(start).Seconds()
		fb.settle(root, req, files, val, spec, res)
		return res, nil
	}

	t := time.Now()
	cr, err := p.compile(ctx, CompileRequest{
		Path: root, Sources: files.Sources, Fingerprint: files.Fingerprint,
		Jobs: req.Jobs, Clean: req.ForceCompile, Explain: req.Explain, Color: req.Color, Env: req.Env, Select: req.Select,
	}, progress)
	res.Stages = append(res.Stages, StageTime{Name: "compilation", Seconds: time.Since(t).Seconds(), Cached: false})
	res.Output, res.Counts, res.Explain, res.Diagnostics, res.Targets = cr.Output, cr.Counts, cr.Explain, cr.Diagnostics, cr.Targets
	res.Warnings = append(res.Warnings, cr.Warnings...)
	if err != nil {
		return fail("compilation", err, nil)
	}
	res.ElapsedSeconds = time.Since(start).Seconds()
	fb.settle(root, req, files, val, cr, res)
	return res, nil
}

// discover scans the project, or reuses the last scan for a quick build.
func (p *Pipeline) discover(ctx context.Context, root string, req BuildRequest) (Files, error) {
	if req.Quick && !req.ForceDiscovery {
		p.mu.Lock()
		f, ok := p.last[root]
		p.mu.Unlock()
		if ok {
			f.Cached = true
			return f, nil
		}
	}
	p.mu.Lock()
	prev, known := p.last[root]
	p.mu.Unlock()
	f, err := p.Discovery.ScanFiles(ctx, root, req.ForceDiscovery, prev.Fingerprint)
	if err != nil {
		return f, err
	}
	if f.Unchanged && known && f.Fingerprint == prev.Fingerprint {
		prev.Cached = f.Cached
		return prev, nil
	}
	p.mu.Lock()
	if p.last == nil {
		p.last = make(map[string]Files)
	}
	p.last[root] = f
	p.mu.Unlock()
	return f, nil
}

// speculation returns the fingerprint under which the compiler can be asked
// for a no-op alongside discovery: the one it was last sent for root, when
// this build asks nothing a no-op could not answer.
func (p *Pipeline) speculation(root string, req BuildRequest) string {
	if req.ForceCompile || req.ForceDiscovery || req.Explain {
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.compiled[root]
}

// compile sends the build to the compiler, leaving the sources out when it
// was sent the same ones last time, and sending them after all when it
// does not remember them.
func (p *Pipeline) compile(ctx context.Context, req CompileRequest, progress func(Event)) (CompileResult, error) {
	p.mu.Lock()
	sent := p.compiled[req.Path]
	p.mu.Unlock()
	full := req
	if req.Fingerprint != "" && sent == req.Fingerprint {
		req.Sources = nil
	}
	res, err := p.Compilation.Compile(ctx, req, progress)
	if errors.Is(err, ErrUnknownSources) {
		res, err = p.Compilation.Compile(ctx, full, progress)
	}
	p.mu.Lock()
	if p.compiled == nil {
		p.compiled = make(map[string]string)
	}
	if err == nil {
		p.compiled[req.Path] = req.Fingerprint
	} else {
		delete(p.compiled, req.Path)
	}
	p.mu.Unlock()
	return res, err
}
