package compile

import (
	"crypto/sha256"
	"encoding/json"
	"path/filepath"
	"slices"
	"time"
)

// The watched fast path (package change says how a watch proves that
// nothing changed). A project may take it only when
//   - its last build succeeded and asked the same (config, units, clean),
//   - every directory of its inputs was already watched when that build
//     began (so no change during the build can have been missed),
//   - no event arrived in any of those directories since that build began,
//   - the output is still as the link left it, and
//   - the watcher has not failed or overflowed since.
// Anything else is a full build, which stats everything as ninja does.

// fastAnswer is a project's last full build, as the fast path repeats it.
type fastAnswer struct {
	sig     [32]byte
	result  Result
	outStat fileStat
}

// requestSig identifies what a build was asked to do: a later identical
// request over unchanged inputs has the same answer.
func requestSig(req Request) [32]byte {
	h := sha256.New()
	cfg, _ := json.Marshal(req.Config)
	h.Write(cfg)
	env, _ := json.Marshal(req.Env)
	h.Write(env)
	for _, list := range [][]string{req.Sources, {"\x00"}, req.LinkInputs} {
		for _, u := range list {
			h.Write([]byte(u))
			h.Write([]byte{0})
		}
	}
	var s [32]byte
	h.Sum(s[:0])
	return s
}

// fastNoop answers a build from the watch when nothing can have changed.
func (e *Engine) fastNoop(root string, req Request, start time.Time) (*Result, bool) {
	if req.Clean || req.NoFast {
		return nil, false
	}
	fa, ok := e.fast.Quiet(root)
	if !ok || requestSig(req) != fa.sig {
		return nil, false
	}
	if _, ok := e.fast.Unchanged(root); !ok {
		return nil, false
	}
	res := fa.result
	if st, err := statPath(res.Output); err != nil || st != fa.outStat {
		return nil, false
	}
	res.Compiled, res.Cached, res.UpToDate, res.Linked = 0, 0, res.Units, false
	res.Explain, res.Diagnostics = nil, ""
	res.ElapsedSeconds = time.Since(start).Seconds()
	e.watchedNoops.Add(1)
	return &res, true
}

// armFast is called as a full build begins: events from now on count
// against its result.
func (e *Engine) armFast(root string) { e.fast.Arm(root) }

// settleFast records a finished build. On success it watches every
// directory of the project's inputs, and allows the fast path next time
// only if all of them were watched before this build began; and it watches
// the directories of its outputs from now on (after its own writes to
// them have been seen), so that a deleted object is noticed.
func (e *Engine) settleFast(root string, req Request, res *Result, err error) {
	if err != nil || res == nil {
		return
	}
	out, serr := statPath(res.Output)
	ok := e.fast.Settle(root, setOf(res.InputDirs), setOf(res.OutputDirs), fastAnswer{requestSig(req), *res, out})
	if ok && serr != nil {
		e.fast.Disarm(root)
	}
}

// recordDirs lists in res the directories a successful build read and
// wrote: a watch over them (this engine's, or the orchestrator's) sees
// every change that could make the next build differ. The inputs are the
// directories of the units' sources and headers, and of the compilers,
// whose replacement changes every object. Only this build's units count:
// the file table also holds files of units since removed, whose
// directories may be gone.
func (b *build) recordDirs(res *Result) {
	st := b.st
	used := make([]bool, len(st.files))
	inputs := make(map[string]bool)
	outputs := map[string]bool{filepath.Dir(res.Output): true, filepath.Dir(b.ccPath): true}
	objDir := ""
	for _, u := range b.units {
		r := st.units[u]
		if r == nil {
			continue
		}
		used[r.src.file] = true
		for _, f := range r.depFiles {
			used[f] = true
		}
		if d := filepath.Dir(r.objAbs); d != objDir {
			objDir = d
			outputs[d] = true
		}
	}
	dir := ""
	for i, u := range used {
		if d := filepath.Dir(st.files[i].abs); u && d != dir {
			dir = d
			inputs[d] = true
		}
	}
	for _, f := range b.req.LinkInputs {
		inputs[filepath.Dir(f)] = true
	}
	for _, tc := range []*toolchain{b.c, b.cxx} {
		if tc != nil && filepath.IsAbs(tc.comp.path) {
			inputs[filepath.Dir(tc.comp.path)] = true
		}
	}
	res.InputDirs, res.OutputDirs = sortedKeys(inputs), sortedKeys(outputs)
}

func setOf(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Close stops the engine's file watcher. Builds still work after it,
// without the watched fast path.
func (e *Engine) Close() error {
	if e.watch != nil {
		e.watch.Close()
	}
	return nil
}
