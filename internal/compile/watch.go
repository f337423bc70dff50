package compile

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
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
// Anything else is a build. When the watch vouches for the last build (the
// same conditions, but for the events since it) and lists every path that
// changed since, the build stats only those (resolveListed); otherwise it
// stats everything, as ninja does.

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

// armFast is called as a build begins: events from now on count against
// its result. It returns the paths changed since the project's last build
// when the watch vouches for every other file (see resolveListed), else
// nil and why not.
func (e *Engine) armFast(root string, req Request) (map[string]bool, string) {
	switch {
	case e.fast == nil:
		return nil, "no file watch"
	case req.Clean:
		e.fast.Arm(root)
		return nil, "a clean build"
	case req.NoFast:
		e.fast.Arm(root)
		return nil, "a library it links may have changed"
	}
	fa, paths, ok := e.fast.ArmChanged(root)
	if !ok {
		return nil, "the file watch cannot list what changed since the last build"
	}
	if requestSig(req) != fa.sig {
		return nil, "the request differs from the last build's"
	}
	if paths == nil {
		paths = map[string]bool{}
	}
	return paths, ""
}

// resolveListed is phase 1 of a build given the paths changed since the
// last build (armFast): it stats and hashes only the files of the table
// and the objects whose paths are listed (plus any file sharing an inode
// with a listed one: a hard link's other name gets no event, and any file
// no unit read in the last build), and takes the table's recorded stat and
// hash for every other one, as unchanged.
// Listed paths the table does not know (temp files, the output) are
// ignored, as a full stat ignores them.
//
// Why an unlisted file is unchanged: the list is complete only if the last
// build's Settle vouched for it, which needs every directory of its inputs
// and objects watched since before that build began, and no input event
// while it ran. Every file of the table then had, at the end of that
// build, the stat and hash the table holds: the build either stat'ed it
// (and hashed it unless stat and hash were trusted), or, itself partial,
// had no event for it since the build before, back to a full one. A write,
// truncation, rename, chmod or touch since gives an event naming the file,
// so a file with no event still has that content. That covers a racy hash
// too (one taken within a timestamp tick of the file's mtime, which stat
// alone cannot trust): a second write within the tick, after the hash, is
// an event either during the build that hashed it (its Settle then refuses,
// and this build is full) or after it (the file is listed, and hashed
// again). Files the compiles add to the table (new headers) are stat'ed
// when first asked for, as always, and a build that adds any watches a
// new directory at its Settle, so the next one is full.
func (b *build) resolveListed(checks []unitCheck, known int, statObj func(i int)) {
	v, st := b.v, b.st
	files := st.files[:len(v.cur)]
	// Only files some unit read in the last build are vouched for: the
	// table also keeps files of units since removed or headers no longer
	// included, whose directories may not be watched, and a compile may
	// read one of them again. When every unit of the records is one of
	// this build's, they are the index's (the records' own); otherwise
	// they are marked here from this build's units.
	ri := st.readIndex()
	live := ri.read
	if known != len(st.units) {
		live = make([]bool, len(files))
		for i := range checks {
			if r := checks[i].rec; r != nil {
				r.markReads(live)
			}
		}
	}
	// The few listed paths are looked up in the table, not the other way
	// round.
	need := make([]bool, len(files))
	var listedObjs map[*unitRec]bool
	for p := range b.listed {
		for _, i := range ri.byAbs[p] {
			if int(i) < len(need) {
				need[i] = true
			}
		}
		if u, ok := ri.objUnit[p]; ok {
			if listedObjs == nil {
				listedObjs = make(map[*unitRec]bool)
			}
			listedObjs[st.units[u]] = true
		}
	}
	var todo []int32
	var inos map[uint64]bool
	for i := range files {
		f := &files[i]
		if f.known && live[i] && !need[i] {
			continue
		}
		need[i] = true
		todo = append(todo, int32(i))
		if f.known {
			if inos == nil {
				inos = make(map[uint64]bool)
			}
			inos[f.st.ino] = true
		}
	}
	now := time.Now().UnixNano()
	for i := range files {
		f := &files[i]
		if !need[i] && inos[f.st.ino] {
			need[i] = true
			todo = append(todo, int32(i))
		}
		if !need[i] {
			// Nothing else runs yet: set, then mark done without a
			// closure to allocate per file.
			cf := &v.cur[i]
			cf.st, cf.hash, cf.at = f.st, f.hash, now
			cf.once.Do(func() {})
		}
	}
	var objs []int
	for i := range checks {
		if r := checks[i].rec; r != nil {
			if listedObjs[r] {
				objs = append(objs, i)
			} else {
				checks[i].objSt = r.obj
			}
		}
	}
	parallelFor(len(todo)+len(objs), b.e.workers, func(i int) {
		if i < len(todo) {
			cf := &v.cur[todo[i]]
			cf.once.Do(func() { v.compute(todo[i], cf, now) })
			return
		}
		statObj(objs[i-len(todo)])
	})
	b.e.watchedPartial.Add(1)
	if b.req.Explain {
		b.explain = append(b.explain, fmt.Sprintf("stat: %d of %d files and %d objects, those the file watch saw change",
			len(todo), len(files), len(objs)))
	}
}

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
	if st.dirsGen != st.depsGen || !slices.Equal(st.dirsUnits, b.units) {
		st.unitDirs.in, st.unitDirs.out = b.unitDirs()
		st.dirsUnits, st.dirsGen = slices.Clone(b.units), st.depsGen
	}
	inputs := maps.Clone(st.unitDirs.in)
	outputs := maps.Clone(st.unitDirs.out)
	outputs[filepath.Dir(res.Output)] = true
	outputs[filepath.Dir(b.ccPath)] = true
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

// unitDirs returns the directories of the units' sources and headers,
// and of their objects.
func (b *build) unitDirs() (in, out map[string]bool) {
	st := b.st
	in, out = make(map[string]bool), make(map[string]bool)
	used := make([]bool, len(st.files))
	objDir := ""
	for _, u := range b.units {
		r := st.units[u]
		if r == nil {
			continue
		}
		r.markReads(used)
		if d := filepath.Dir(r.objAbs); d != objDir {
			objDir = d
			out[d] = true
		}
	}
	dir := ""
	for i, u := range used {
		if d := filepath.Dir(st.files[i].abs); u && d != dir {
			dir = d
			in[d] = true
		}
	}
	return in, out
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
