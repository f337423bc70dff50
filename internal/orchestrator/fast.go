package orchestrator

import (
	"path/filepath"
	"time"

	"github.com/jmake/jmake/internal/change"
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
}

// fastAnswer is a full build's result, with what its request asked that no
// watch can see: the caller's tool environment, and whether the build was
// strict (a strict one may fail where a lenient one passed).
type fastAnswer struct {
	res    BuildResult
	env    toolenv.Env
	strict bool
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
	res.Compiled, res.Cached, res.UpToDate, res.Linked = 0, 0, res.Units, false
	res.Explain, res.Diagnostics = nil, ""
	res.Stages = []StageTime{{Name: "discovery", Seconds: 0, Cached: true}, {Name: "setup", Seconds: 0, Cached: true}, {Name: "compilation", Seconds: 0, Cached: true}}
	res.ElapsedSeconds = time.Since(start).Seconds()
	p.watchedNoops.Add(1)
	return &res, true
}

// armFast is called as a full build begins: changes from now on count
// against its result, remembered under key (fastKey). Nil without a
// watch.
func (p *Pipeline) armFast(key string) *fastBuild {
	a := p.answers()
	if a == nil {
		return nil
	}
	a.Arm(key)
	return &fastBuild{answers: a, key: key}
}

// fastKey names a build's answer: a project answers each selection of
// targets, tests and profile on its own.
func fastKey(root string, req BuildRequest) string { return root + selectKey(req.Select) }

// settle records a successful full build and the directories its
// stages depend on; the fast path answers the next builds if all of them
// were watched while it ran.
func (fb *fastBuild) settle(root string, req BuildRequest, files Files, cr CompileResult, res *BuildResult) {
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
	fb.answers.Settle(fb.key, inputs, outputs, fastAnswer{*res, req.Env, req.Strict})
}

// WatchedNoops counts the builds answered by the fast path.
func (p *Pipeline) WatchedNoops() int64 { return p.watchedNoops.Load() }
