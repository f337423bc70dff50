package compile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmake/jmake/internal/depfile"
	"github.com/jmake/jmake/internal/proc"
)

// raceWindow: a header first hashed after its compile started, with an mtime
// no older than this before that start, may have been written while the
// compiler was reading it, so the hash may not be what the object was built
// from (ccache's "include file too new"). Such a compile is run again; if
// that one cannot be verified either, its object is used but not cached, and
// its record asks for a recompile next build. Linux stamps
// files from a clock that ticks every 1-10 ms (CONFIG_HZ), so 10 ms covers
// the tick; a header written that recently before a build is rare outside
// tests, and the cost of a false alarm is one extra compile.
const raceWindow = 10 * time.Millisecond

// tmpDir is where compilers write, inside the build directory (so that
// the rename into the object directory stays on one file system).
const tmpDir = ".jmake-tmp"

// waitDelay bounds how long a cancelled compiler's output pipes are waited
// for once it is killed, in case a grandchild escaped the process group.
const waitDelay = 5 * time.Second

// compileAll compiles or restores units, running at most b.jobs compilers
// at once. A failing
// unit does not stop the others; cancelling ctx stops starting new ones and
// kills running compilers. It returns ctx's error if it was cancelled.
func (b *build) compileAll(dirty []*unitCheck) error {
	total := len(dirty)
	b.emit(Event{Kind: "plan", Total: total})
	if b.cache {
		// Restoring an object is copying a file, not compiling: try the
		// cache for every unit first, wider than -j, so that a clean tree
		// with a warm cache is bound by the disk, not by compile slots;
		// then compile what missed with -j workers.
		dirty = b.eachUnit(dirty, 4*b.jobs, func(c *unitCheck) bool { return b.restoreUnit(c, total) })
	}
	// A compile slot is held while a compiler runs, not while its result
	// is recorded (depfile, header stats, cache store, manifest): with
	// twice as many goroutines as slots, the next compiler starts the
	// moment one exits, and no core waits for the daemon's bookkeeping.
	b.slots = b.req.Slots
	if b.slots == nil {
		b.slots = make(chan struct{}, b.jobs)
	}
	b.eachUnit(dirty, 2*b.jobs, func(c *unitCheck) bool { b.compileOne(c, total); return true })
	b.depfiles.removeAll()
	return b.ctx.Err()
}

// depfilePool hands out depfile names in the build's temp dir, and takes
// them back once read, for the next compile to overwrite (compilers open
// -MF with O_TRUNC). A file per compile, removed after reading, would
// create and free an inode per unit: ext4 without a journal skips every
// inode freed in the last minute when it allocates one, so in a cold build
// each new object, cache entry and depfile stepped over the depfiles of the
// units before it. Reusing them took the compile daemon's CPU in a cold
// build of 1002 units from 1.41-1.55 s to 1.06-1.23 s here.
type depfilePool struct {
	mu   sync.Mutex
	free []string
	all  []string
}

// take returns an empty depfile path (a name no compile is using).
func (p *depfilePool) take(b *build) (string, error) {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		name := p.free[n-1]
		p.free = p.free[:n-1]
		p.mu.Unlock()
		// Empty, so that a compiler that wrote no depfile is an error
		// (depsOf), never the last unit's dependencies.
		if err := os.Truncate(name, 0); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		return name, nil
	}
	name := filepath.Join(b.buildDir, tmpDir, fmt.Sprintf("deps.%d-%d.d", os.Getpid(), b.e.tmpSeq.Add(1)))
	p.all = append(p.all, name)
	p.mu.Unlock()
	return name, nil
}

// put gives name back once its depfile was read.
func (p *depfilePool) put(name string) {
	p.mu.Lock()
	p.free = append(p.free, name)
	p.mu.Unlock()
}

// removeAll removes the pool's files at the end of the compiles.
func (p *depfilePool) removeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, name := range p.all {
		os.Remove(name)
	}
	p.all, p.free = nil, nil
}

// eachUnit runs fn over units with up to workers goroutines, until the
// build's context ends, and returns the units for which fn returned false,
// in their order.
func (b *build) eachUnit(units []*unitCheck, workers int, fn func(*unitCheck) bool) []*unitCheck {
	done := make([]bool, len(units))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, len(units)) {
		wg.Go(func() {
			for b.ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(units) {
					return
				}
				done[i] = fn(units[i])
			}
		})
	}
	wg.Wait()
	var left []*unitCheck
	for i, ok := range done {
		if !ok {
			left = append(left, units[i])
		}
	}
	return left
}

// restoreUnit brings one unit up to date from the object cache if a
// candidate matches; false means a miss (or an error already reported).
func (b *build) restoreUnit(c *unitCheck, total int) bool {
	unit, tc := c.unit, c.tc
	srcIdx, src := b.v.resolvePath(unit)
	if src.err != nil {
		b.fail(unit, "", fmt.Errorf("read source: %w", src.err), total)
		return true
	}
	objAbs := b.objPath(unit)
	if err := b.mkdirFor(objAbs); err != nil {
		b.fail(unit, "", fmt.Errorf("create object directory: %w", err), total)
		return true
	}
	rec, output := b.fromCache(tc, srcIdx, src.hash, directKey(tc, unit, src.hash), objAbs)
	if rec == nil {
		b.e.misses.Add(1)
		return false
	}
	b.saveUnit(unit, rec)
	b.addOutput(unit, output)
	b.cached.Add(1)
	b.e.hits.Add(1)
	b.emit(Event{Kind: "cache", Unit: unit, Done: int(b.done.Add(1)), Total: total, Output: output})
	return true
}

// compileOne runs the compiler for a unit the cache could not supply.
func (b *build) compileOne(c *unitCheck, total int) {
	unit, tc := c.unit, c.tc
	srcIdx, src := b.v.resolvePath(unit)
	if src.err != nil {
		b.fail(unit, "", fmt.Errorf("read source: %w", src.err), total)
		return
	}
	objAbs := b.objPath(unit)
	if err := b.mkdirFor(objAbs); err != nil {
		b.fail(unit, "", fmt.Errorf("create object directory: %w", err), total)
		return
	}
	b.compileUnit(c, srcIdx, src, directKey(tc, unit, src.hash), objAbs, total)
}

// fromCache restores unit's object from the first manifest candidate whose
// headers all still have the recorded content, and returns the unit's new
// record and what its compiler printed; nil means a miss.
func (b *build) fromCache(tc *toolchain, srcIdx int32, srcHash, dk Hash, objAbs string) (*unitRec, string) {
	for _, cand := range b.e.manifestCandidates(dk) {
		rec := &unitRec{
			src:       depRef{file: srcIdx, hash: srcHash},
			depFiles:  make([]int32, 0, len(cand.deps)),
			depHashes: make([]Hash, 0, len(cand.deps)),
			synced:    true,
			compiler:  tc.comp.id,
			cmd:       tc.cmdKey,
			action:    cand.action,
		}
		match := true
		for _, d := range cand.deps {
			idx, cf := b.v.resolvePath(d.path)
			if cf.err != nil || cf.hash != d.hash {
				match = false
				break
			}
			rec.addDep(idx, d.hash)
		}
		if !match {
			continue
		}
		id := cand.action.String()
		if !b.e.objects.Has(id) {
			continue // trimmed away
		}
		if _, err := b.e.objects.CopyToReusing(id, objAbs, b.spares.take()); err != nil {
			b.cacheReadFailed(b.rel(objAbs), err)
			continue
		}
		objSt, err := statPath(objAbs)
		if err != nil {
			continue
		}
		rec.obj = objSt
		rec.setObj(objAbs)
		return rec, cand.output
	}
	return nil, ""
}

// compileUnit runs the compiler for one unit in the project root, with
// relative paths, to temp files that are renamed into place on success.
// The temp files are written in the build directory's tmpDir, not beside
// the object: the object directories are watched (a deleted object must
// end the fast path), and a compiler writing its object and depfile there
// would send the watch a dozen events per unit, each a wakeup of the
// daemon; renamed in, an object costs one.
func (b *build) compileUnit(c *unitCheck, srcIdx int32, src *curFile, dk Hash, objAbs string, total int) {
	unit := c.unit
	tmpBase := filepath.Join(b.buildDir, tmpDir, filepath.Base(objAbs))
	if err := b.mkdirFor(tmpBase); err != nil {
		b.fail(unit, "", fmt.Errorf("create %s: %w", filepath.Dir(tmpBase), err), total)
		return
	}
	var (
		rec     *unitRec
		entries []depEntry
		trusted bool
		out     bytes.Buffer
		tmpOAbs string
	)
	// A second attempt is made when an input may have changed while the
	// compiler read it (see raceWindow): by then every input is hashed,
	// so the second compile can be verified by stat alone.
	for attempt := 0; ; attempt++ {
		tmpOAbs = b.tmpName(tmpBase)
		tmpDAbs, err := b.depfiles.take(b)
		if err != nil {
			b.fail(unit, "", fmt.Errorf("depfile: %w", err), total)
			return
		}
		out.Reset()
		start := time.Now().UnixNano()
		err = b.runCompiler(c.tc, unit, b.rel(tmpOAbs), b.rel(tmpDAbs), &out)
		if err == nil {
			rec, entries, trusted, err = b.depsOf(c, srcIdx, src, tmpDAbs, start)
		}
		b.depfiles.put(tmpDAbs)
		if err != nil {
			os.Remove(tmpOAbs)
			if b.ctx.Err() == nil {
				b.fail(unit, out.String(), err, total)
			}
			return
		}
		if trusted || attempt > 0 || b.ctx.Err() != nil {
			break
		}
		os.Remove(tmpOAbs)
		b.e.log.Debug("inputs changed during the compile; compiling again", "unit", unit)
	}
	rec.action = actionID(dk, entries)
	if trusted && b.cache {
		// The object is read now, from the temp file only this compile
		// knows, and stored while the build goes on: 0.8 ms an edit's
		// link no longer waits for.
		if data, err := os.ReadFile(tmpOAbs); err != nil {
			b.writeFailed("object cache", err)
		} else {
			cand := candidate{action: rec.action, deps: entries, output: out.String()}
			b.storeLater(func() {
				if _, err := b.e.objects.PutBytes(cand.action.String(), data); err != nil {
					b.writeFailed("object cache", err)
					return
				}
				if err := b.e.addCandidate(dk, cand); err != nil {
					b.writeFailed("manifests", err)
				}
				b.stored.Add(1)
			})
		}
	}
	var err error
	if err = os.Rename(tmpOAbs, objAbs); err != nil {
		os.Remove(tmpOAbs)
		b.fail(unit, out.String(), fmt.Errorf("install object %s: %w", objAbs, err), total)
		return
	}
	if rec.obj, err = statPath(objAbs); err != nil {
		b.fail(unit, out.String(), err, total)
		return
	}
	rec.setObj(objAbs)
	b.saveUnit(unit, rec)
	b.addOutput(unit, out.String())
	b.compiled.Add(1)
	b.emit(Event{Kind: "compile", Unit: unit, Done: int(b.done.Add(1)), Total: total, Output: out.String()})
}

// addOutput keeps what the compiler printed for unit (warnings), for the
// build's diagnostics.
func (b *build) addOutput(unit, output string) {
	if output == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.output == nil {
		b.output = make(map[string]string)
	}
	b.output[unit] = output
}

// runCompiler runs `<compiler> <flags> -MD -MF <tmpD> -c <unit> -o <tmpO>` in
// the root, output (stdout and stderr, as the compiler wrote them) to out;
// or the driver's compiler and assembler directly (directcc.go) once that
// is proven the same.
func (b *build) runCompiler(tc *toolchain, unit, tmpO, tmpD string, out *bytes.Buffer) error {
	select {
	case b.slots <- struct{}{}:
	case <-b.ctx.Done():
		return b.ctx.Err()
	}
	defer func() { <-b.slots }()
	b.yieldCores()
	args := make([]string, 0, len(tc.run)+8)
	args = append(args, tc.run...)
	if tc.color != "" {
		args = append(args, tc.color)
	}
	args = append(args, "-MD", "-MF", tmpD, "-c", unit, "-o", tmpO)
	b.e.compiles.Add(1)
	names := ccNames{src: unit, obj: tmpO, dep: tmpD}
	shape := b.ccShapeOf(tc, args, names)
	if shape != nil && shape.state.Load() == directProven {
		err := b.runDirect(shape, names, out)
		if err == nil {
			b.e.directCompiles.Add(1)
			return nil
		}
		if b.ctx.Err() != nil {
			return err
		}
		out.Reset() // the driver's messages, below, are the ones to show
	}
	cmd := b.command(b.ctx, tc.comp.path, args)
	cmd.Stdout, cmd.Stderr = out, out
	err := proc.Run(cmd)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		err = fmt.Errorf("run %s: %w", tc.comp.path, err)
	}
	if err == nil && shape != nil && shape.state.CompareAndSwap(directUnproven, directProving) {
		shape.state.Store(b.proveCC(shape, names, out.Bytes()))
	}
	return err
}

// depsOf reads the depfile of a finished compile and returns the unit's new
// record (without action and object), its headers with their hashes, and
// whether every input provably still has the content that was hashed (see
// raceWindow); an untrusted input gets unknownHash in the record, so the
// next build compiles the unit again.
func (b *build) depsOf(c *unitCheck, srcIdx int32, src *curFile, depPath string, start int64) (*unitRec, []depEntry, bool, error) {
	data, err := os.ReadFile(depPath)
	if err == nil && len(data) == 0 {
		err = errors.New("the compiler wrote nothing to it")
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("read depfile %s: %w", depPath, err)
	}
	rules, err := depfile.ParseDepfile(depPath, data)
	if err != nil {
		return nil, nil, false, err
	}
	df := depfile.Merge(rules)
	rec := &unitRec{
		src:      depRef{file: srcIdx, hash: src.hash},
		compiler: c.tc.comp.id,
		cmd:      c.tc.cmdKey,
	}
	trusted := b.unchangedSince(c.unit, src, start)
	if !trusted {
		rec.src.hash = unknownHash
	}
	rec.depFiles = make([]int32, 0, len(df.Prereqs))
	rec.depHashes = make([]Hash, 0, len(df.Prereqs))
	entries := make([]depEntry, 0, len(df.Prereqs))
	seen := make(map[int32]bool, len(df.Prereqs))
	seen[srcIdx] = true
	for _, p := range df.Prereqs {
		p = filepath.Clean(p)
		idx, cf := b.v.resolvePath(p)
		if seen[idx] {
			continue
		}
		seen[idx] = true
		h := cf.hash
		if cf.err != nil || !b.unchangedSince(p, cf, start) {
			h, trusted = unknownHash, false
		}
		rec.addDep(idx, h)
		entries = append(entries, depEntry{path: p, hash: h})
	}
	rec.synced = trusted
	return rec, entries, trusted, nil
}

// unchangedSince reports whether the file at path (relative to the root or
// absolute) provably had the hashed content cf during a compile that
// started at start: its stat now is the one that was hashed, and it was
// not hashed after the start with an mtime close to it.
func (b *build) unchangedSince(path string, cf *curFile, start int64) bool {
	now, err := statPath(absPath(b.root, path))
	if err != nil || now != cf.st {
		return false
	}
	return cf.at < start || cf.st.mtime < start-int64(raceWindow)
}

// saveUnit records unit's new state in memory and in Builds.
func (b *build) saveUnit(unit string, rec *unitRec) {
	b.v.mu.Lock()
	if old := b.st.units[unit]; old == nil || old.src.file != rec.src.file || !slices.Equal(old.depFiles, rec.depFiles) ||
		filepath.Dir(old.objAbs) != filepath.Dir(rec.objAbs) {
		b.st.depsGen++
	}
	b.st.units[unit] = rec
	b.st.linkStale = true
	enc := b.st.encodeUnitLocked(rec)
	b.v.mu.Unlock()
	b.changed.Store(true)
	if err := b.e.builds.Put(unitKey(b.key, unit), enc); err != nil {
		b.writeFailed("build state", err)
	}
}

// fail records a unit that could not be built, with the compiler's output.
func (b *build) fail(unit, output string, err error, total int) {
	b.mu.Lock()
	b.failures = append(b.failures, UnitFailure{Unit: unit, Diagnostics: output, Err: err})
	if output != "" {
		if b.output == nil {
			b.output = make(map[string]string)
		}
		b.output[unit] = output
	}
	b.mu.Unlock()
	b.e.log.Debug("unit failed", "root", b.root, "unit", unit, "err", err)
	b.emit(Event{Kind: "compile", Unit: unit, Done: int(b.done.Add(1)), Total: total, Output: output})
}
