package orchestrator

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/jmake/jmake/internal/change"
	"github.com/jmake/jmake/internal/project"
	"github.com/jmake/jmake/internal/toolenv"
)

// The orchestrator's fast path: a no-op build answered without calling the
// other daemons. Each stage names the directories its answer depends on —
// discovery the directories it walked, compilation those of every input
// it read (sources, headers, compilers) and every output it wrote — and
// the orchestrator watches them all, with the project's root, which holds
// jmake.toml, the one input of setup's validation. While no event arrives
// in any of them, the three stages would answer as they did last time:
// discovery the same files, setup the same verdict on an unchanged
// jmake.toml, compilation "up to date". So that answer is given here, with
// the same warnings, and a no-op costs one round trip instead of four.
//
// It vouches only for what the three stages would see: a build whose last
// run failed, or whose stages did not name their directories (a daemon
// from before this was added), goes the full way.

// fastBuild is a full build of one project under way, armed in the fast
// path; nil without a watch.
type fastBuild struct {
	answers *change.Answers[fastAnswer]
	key     string // the project's root and what the build selected (Select.key)
	scope   *scope // the last answer's, when this build reuses its files
}

// fastAnswer is a full build's result, with what its request asked that no
// watch can see: the caller's tool environment, and whether the build was
// strict (a strict one may fail where a lenient one passed); and what
// discovery and setup answered it.
type fastAnswer struct {
	res    BuildResult
	env    toolenv.Env
	strict bool
	files  Files
	val    Validation
	scope  *scope // files as sets, once a build looked paths up in them
}

// answersFast reports whether req may be answered from the watch: a
// request to rescan, rebuild everything or explain needs the stages.
func answersFast(req BuildRequest) bool {
	return !req.ForceCompile && !req.ForceDiscovery && !req.Explain
}

// answers returns the fast path's memo, made on first use; nil without a
// watch.
func (p *Pipeline) answers() *change.Answers[fastAnswer] {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fast == nil && p.Watch != nil {
		p.fast = change.NewAnswers[fastAnswer](p.Watch)
	}
	return p.fast
}

// fastNoop answers a build from the watch when nothing can have changed.
func (p *Pipeline) fastNoop(root string, req BuildRequest, start time.Time) (*BuildResult, bool) {
	if !answersFast(req) {
		return nil, false
	}
	a, ok := p.answers().Unchanged(root)
	if !ok || a.env != req.Env || a.strict != req.Strict {
		return nil, false
	}
	res := a.res
	res.Counts = upToDate(res.Counts)
	// The answer may be that of a build that compiled and linked: each
	// target, like the totals, is up to date now. A copy: the answer is
	// shared by every build it answers.
	res.Targets = slices.Clone(res.Targets)
	for i := range res.Targets {
		res.Targets[i].Counts = upToDate(res.Targets[i].Counts)
	}
	res.Explain, res.Diagnostics = nil, ""
	res.Stages = []StageTime{{Name: "discovery", Seconds: 0, Cached: true}, {Name: "setup", Seconds: 0, Cached: true}, {Name: "compilation", Seconds: 0, Cached: true}}
	res.ElapsedSeconds = time.Since(start).Seconds()
	p.watchedNoops.Add(1)
	return &res, true
}

// Noop answers req from the watch if that can be done now, without
// waiting for a build of the project under way (its answer is not known
// yet): it is Build for a no-op, minus the wait. The only wait is the
// watch's proof that no event is still queued, which returns at once when
// events are not arriving.
func (p *Pipeline) Noop(req BuildRequest) (*BuildResult, bool) {
	start := time.Now()
	root, err := filepath.Abs(req.Path)
	if err != nil {
		return nil, false
	}
	unlock, ok := p.roots.TryLock(root)
	if !ok {
		return nil, false
	}
	defer unlock()
	return p.fastNoop(fastKey(root, req), req, start)
}

// upToDate is c for a build that found all of its units up to date.
func upToDate(c Counts) Counts { return Counts{Units: c.Units, UpToDate: c.Units} }

// armFast is called as a full build begins: changes from now on count
// against its result, remembered under fastKey. The build is nil without
// a watch. When the last build of the key was vouched for and since then
// only the contents of files changed (scopeUnchanged), same is true and
// last is that build's answer: its discovery and setup answers hold.
func (p *Pipeline) armFast(root string, req BuildRequest) (fb *fastBuild, last fastAnswer, same bool) {
	a := p.answers()
	if a == nil {
		return nil, last, false
	}
	key := fastKey(root, req)
	fb = &fastBuild{answers: a, key: key}
	if !answersFast(req) || req.Quick {
		a.Arm(key)
		return fb, last, false
	}
	last, paths, ok := a.ArmChanged(key)
	if !ok || last.env != req.Env || last.strict != req.Strict {
		return fb, last, false
	}
	sc := last.scope
	if sc == nil {
		sc = newScope(last.files)
	}
	if !scopeUnchanged(root, sc, paths) {
		return fb, last, false
	}
	fb.scope = sc // this build's files are last's
	return fb, last, true
}

// scope is what scopeUnchanged looks paths up in: the directories
// discovery walked and the files it listed, as sets. Made at the first
// edit after a discovery, it is handed on from build to build while only
// contents change: at N=1000 making it took a quarter of a millisecond.
type scope struct {
	root   string          // discovery's root, which listed is relative to
	walked map[string]bool // absolute, clean
	listed map[string]bool // relative to the root, slash-separated
}

func newScope(files Files) *scope {
	sc := &scope{root: files.Root, walked: make(map[string]bool, len(files.Dirs)), listed: make(map[string]bool, len(files.Sources)+len(files.Headers))}
	for _, d := range files.Dirs {
		sc.walked[filepath.Clean(d)] = true
	}
	for _, list := range [][]string{files.Sources, files.Headers} {
		for _, f := range list {
			sc.listed[f] = true
		}
	}
	return sc
}

// scopeUnchanged reports whether discovery and setup would answer as they
// did when they found the files sc holds, given the paths that events
// named since: jmake.toml is not among them, and none is a directory, nor
// a file discovery would now list and did not then, or the other way
// round (a source or header added or removed). What an editor does on a
// save passes: a file's content rewritten, or a temp file written,
// renamed over it or deleted; an object or library written under the
// build directory, which discovery does not walk, too.
func scopeUnchanged(root string, sc *scope, paths map[string]bool) bool {
	if sc.root == "" || len(sc.walked) == 0 {
		return false // a discovery daemon that does not say
	}
	cfg := filepath.Join(root, project.FileName)
	for path := range paths {
		if path == cfg {
			return false
		}
		if !sc.walked[filepath.Dir(path)] {
			continue
		}
		rel, err := filepath.Rel(sc.root, path)
		if err != nil {
			return false
		}
		was := sc.listed[filepath.ToSlash(rel)]
		fi, err := os.Lstat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if was {
				return false
			}
		case err != nil || !fi.Mode().IsRegular():
			return false
		case !was && (project.IsCSource(path) || project.IsCXXSource(path) || project.IsHeader(path)):
			return false
		}
	}
	return true
}

// fastKey names a build's answer: a project answers each selection of
// targets, tests and profile on its own.
func fastKey(root string, req BuildRequest) string { return root + selectKey(req.Select) }

// settle records a successful full build and the directories its
// stages depend on; the fast path answers the next builds if all of them
// were watched while it ran.
func (fb *fastBuild) settle(root string, req BuildRequest, files Files, val Validation, cr CompileResult, res *BuildResult) {
	if fb == nil {
		return
	}
	if len(files.Dirs) == 0 || len(cr.InputDirs) == 0 || len(cr.OutputDirs) == 0 {
		fb.answers.Disarm(fb.key)
		return
	}
	inputs := map[string]bool{root: true}
	for _, list := range [][]string{files.Dirs, cr.InputDirs} {
		for _, d := range list {
			inputs[filepath.Clean(d)] = true
		}
	}
	outputs := make(map[string]bool, len(cr.OutputDirs))
	for _, d := range cr.OutputDirs {
		outputs[filepath.Clean(d)] = true
	}
	fb.answers.Settle(fb.key, inputs, outputs, fastAnswer{res: *res, env: req.Env, strict: req.Strict, files: files, val: val, scope: fb.scope})
}

// WatchedNoops counts the builds answered by the fast path.
func (p *Pipeline) WatchedNoops() int64 { return p.watchedNoops.Load() }

// WatchedScopes counts the builds that skipped discovery and setup.
func (p *Pipeline) WatchedScopes() int64 { return p.watchedScopes.Load() }
