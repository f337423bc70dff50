package compile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jmake/jmake/internal/proc"
	"github.com/jmake/jmake/internal/project"
)

// build is one run of Engine.Build for one root; the root's lock is held
// for its whole life.
type build struct {
	e        *Engine
	ctx      context.Context
	root     string
	key      string // the build state's name (stateKey)
	cfg      *project.Config
	req      Request
	units    []string // sorted, without duplicates
	jobs     int
	cache    bool // use the object cache
	buildDir string
	objDir   string
	outAbs   string
	ccPath   string // compile_commands.json

	environ      []string      // the tools' environment (the caller's PATH); nil inherits the engine's
	slots        chan struct{} // one token per compiler running (compileAll)
	depfiles     depfilePool   // the compilers' depfiles, reused
	coresOnce    sync.Once     // yieldCores: set releaseCores once
	releaseCores func()        // gives back the cores a compile took; nil if none ran
	c, cxx       *toolchain
	linker       *toolchain   // the driver that links (C++ if any unit is C++)
	ld           linkerChoice // the linker it links with (linker.go), chosen by link
	st           *projectState
	v            *view
	progress     func(Event)
	spares       *recycler // files of the old build directory, in a clean build
	// listed, when not nil, are the paths the watch saw change since the
	// last build, which vouches for every other file (watch.go); fullWhy
	// says why there is no such list.
	listed  map[string]bool
	fullWhy string

	progMu sync.Mutex // serializes calls to progress

	done     atomic.Int64 // units finished, for progress
	compiled atomic.Int64
	cached   atomic.Int64
	stored   atomic.Int64 // objects put into the object cache
	changed  atomic.Bool  // some unit's record changed: the file table may have dead entries

	// stores are the object cache's writes of compiled units, made by one
	// goroutine beside the rest of the build (storeLater).
	stores     chan func()
	storesOnce sync.Once
	storesDone sync.WaitGroup

	explain    []string // reasons, appended by the serial phases only
	linkOutput string   // the linker's output (warnings) when it succeeded

	mu       sync.Mutex // guards the fields below
	failures []UnitFailure
	output   map[string]string // unit -> compiler output (warnings or errors), verbatim
	warnings []string          // about the caches (faults.go)
	// writeFaults are the failed writes to the caches, by what was
	// written (faults.go).
	writeFaults map[string]*writeFault

	dirMu sync.Mutex // guards dirs
	dirs  map[string]bool
}

// unitCheck is a unit as phase one and two of a build see it.
type unitCheck struct {
	unit   string
	tc     *toolchain
	rec    *unitRec
	objSt  fileStat
	objErr error
	reason string // why it is not up to date; "" if it is
}

func (e *Engine) newBuild(ctx context.Context, root string, req Request, progress func(Event)) (*build, error) {
	cfg := req.Config
	b := &build{
		e:        e,
		ctx:      ctx,
		root:     root,
		key:      stateKey(root, req),
		cfg:      cfg,
		req:      req,
		progress: progress,
		cache:    e.objects != nil && cfg.CacheEnabled(),
		environ:  req.Env.Environ(),
	}
	units, err := normalizeUnits(root, req.Sources)
	if err != nil {
		return nil, err
	}
	if len(units) == 0 {
		return nil, fmt.Errorf("compile: %s: no source files to build", root)
	}
	b.units = units
	b.jobs = req.Jobs
	if b.jobs <= 0 {
		b.jobs = cfg.Compile.Jobs
	}
	if b.jobs <= 0 {
		b.jobs = e.workers
	}
	if cfg.Compile.Parallel != nil && !*cfg.Compile.Parallel {
		b.jobs = 1
	}
	b.buildDir = absPath(root, orDefault(cfg.Paths.Build, "build"))
	b.objDir = filepath.Join(b.buildDir, "obj")
	b.outAbs = filepath.Join(absPath(root, orDefault(cfg.Paths.Output, b.buildDir)), cfg.Binary.LibraryName)
	if cfg.Binary.LibraryName == "" {
		return nil, fmt.Errorf("compile: %s: no output name ([binary] library_name); were defaults applied?", root)
	}
	b.ccPath = filepath.Join(b.buildDir, "compile_commands.json")
	for _, u := range units {
		if isCXX(u) {
			if b.cxx == nil {
				if b.cxx, err = e.newToolchain(ctx, root, cfg, req.Env, true, u); err != nil {
					return nil, err
				}
			}
		} else if b.c == nil {
			if b.c, err = e.newToolchain(ctx, root, cfg, req.Env, false, u); err != nil {
				return nil, err
			}
		}
	}
	for _, tc := range []*toolchain{b.c, b.cxx} {
		if tc != nil && req.Color && gccLike(tc.comp) {
			tc.color = "-fdiagnostics-color=always"
		}
	}
	b.linker = b.c
	if b.cxx != nil {
		b.linker = b.cxx
	}
	return b, nil
}

// normalizeUnits checks that every unit is a relative path inside root and
// returns them cleaned, sorted and without duplicates. The common case (the
// list is already sorted and clean) allocates nothing.
func normalizeUnits(root string, srcs []string) ([]string, error) {
	clean := true
	for i, s := range srcs {
		if s == "" || filepath.IsAbs(s) || s != filepath.ToSlash(filepath.Clean(s)) ||
			s == ".." || strings.HasPrefix(s, "../") || i > 0 && srcs[i-1] >= s {
			clean = false
			break
		}
	}
	if clean {
		return srcs, nil
	}
	out := make([]string, 0, len(srcs))
	for _, s := range srcs {
		c := filepath.ToSlash(filepath.Clean(filepath.FromSlash(s)))
		if filepath.IsAbs(c) {
			rel, err := filepath.Rel(root, c)
			if err != nil {
				return nil, fmt.Errorf("compile: source %s is not under %s", s, root)
			}
			c = filepath.ToSlash(rel)
		}
		if s == "" || c == "." || c == ".." || strings.HasPrefix(c, "../") {
			return nil, fmt.Errorf("compile: source %q is not under %s", s, root)
		}
		out = append(out, c)
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (b *build) toolchainFor(unit string) *toolchain {
	if isCXX(unit) {
		return b.cxx
	}
	return b.c
}

// run is the build proper: stat everything, decide, compile, link.
func (b *build) run() (*Result, error) {
	st := b.st
	res := &Result{Output: b.outAbs, Units: len(b.units), CompileCommands: b.ccPath}
	if !st.tmpSwept {
		b.sweepTmp()
		st.tmpSwept = true
	}
	if st.objDir != b.objDir {
		for u, r := range st.units {
			r.setObj(b.objPath(u))
		}
		st.objDir = b.objDir
		st.depsGen++
	}

	// Phase 1: stat every known input once, and every object, in parallel;
	// hash only what changed. With a list of the paths changed since the
	// last build, only those (watch.go).
	b.v = newView(b.e, st)
	if cap(st.checks) < len(b.units) {
		st.checks = make([]unitCheck, len(b.units))
	}
	checks := st.checks[:len(b.units)]
	known := 0
	for i, u := range b.units {
		rec := st.units[u]
		if rec != nil {
			known++
		}
		checks[i] = unitCheck{unit: u, tc: b.toolchainFor(u), rec: rec}
	}
	statObj := func(i int) {
		c := &checks[i]
		if c.rec != nil {
			c.objSt, c.objErr = statCPath(c.rec.objAbs, c.rec.cobj)
		}
	}
	if b.listed != nil {
		b.resolveListed(checks, known, statObj)
	} else {
		b.v.resolveAll(b.e.workers, len(checks), statObj)
		if b.req.Explain {
			b.explain = append(b.explain, fmt.Sprintf("stat: all %d files and %d objects (%s)", len(b.v.cur), known, b.fullWhy))
		}
	}
	if known != len(st.units) {
		b.dropRemoved()
	}

	// Phase 2: decide which units are not up to date, and why.
	var dirty []*unitCheck
	for i := range checks {
		c := &checks[i]
		c.reason = b.check(c)
		if c.rec != nil {
			// Up to date: its hashes are the table's. Dirty: the
			// record will be replaced, or is stale if that fails.
			c.rec.synced = c.reason == ""
		}
		if c.reason != "" {
			dirty = append(dirty, c)
			if b.req.Explain {
				b.explain = append(b.explain, c.unit+": "+c.reason)
			}
		}
	}
	res.UpToDate = len(checks) - len(dirty)

	if err := b.writeCompileCommands(); err != nil {
		b.e.log.Warn("compile_commands.json not written", "file", b.ccPath, "err", err)
	}

	// Phase 3: compile or restore what is not up to date.
	var ctxErr error
	if len(dirty) > 0 {
		ctxErr = b.compileAll(dirty)
	}
	res.Compiled = int(b.compiled.Load())
	res.Cached = int(b.cached.Load())
	res.Diagnostics = b.diagnostics()
	clear(checks) // drop references to records until the next build

	if ctxErr != nil {
		res.Explain = b.explain
		return res, fmt.Errorf("compile: %s: %w", b.root, ctxErr)
	}
	if len(b.failures) > 0 {
		res.Explain = b.explain
		slices.SortFunc(b.failures, func(x, y UnitFailure) int { return strings.Compare(x.Unit, y.Unit) })
		return res, newBuildError(b.root, b.failures)
	}

	// Phase 4: link if anything the output depends on changed, once the
	// libraries it links are.
	if b.req.BeforeLink != nil {
		if err := b.req.BeforeLink(); err != nil {
			res.Explain = b.explain
			return res, err
		}
	}
	linked, err := b.link()
	res.Linked, res.Linker = linked, b.ld.name
	res.Explain = b.explain
	res.Diagnostics += b.linkOutput
	if err != nil {
		var be *BuildError
		if errors.As(err, &be) {
			res.Diagnostics += be.Diagnostics
		}
		return res, err
	}
	if b.changed.Load() {
		st.compact()
	}
	return res, nil
}

// check returns why c is not up to date, or "".
func (b *build) check(c *unitCheck) string {
	r := c.rec
	if r == nil {
		return "no previous build"
	}
	if r.compiler != c.tc.comp.id {
		return "compiler changed"
	}
	if r.cmd != c.tc.cmdKey {
		return "flags changed"
	}
	v := b.v
	if r.synced && !v.changed[r.src.file] {
		// The fast path: no input's content changed since the last build.
		same := true
		for _, f := range r.depFiles {
			if v.changed[f] {
				same = false
				break
			}
		}
		if same {
			return b.checkObject(c, r)
		}
	}
	if cf := &v.cur[r.src.file]; cf.err != nil || cf.hash != r.src.hash {
		return "source changed"
	}
	for i, f := range r.depFiles {
		cf := &v.cur[f]
		if cf.err != nil {
			return "header " + b.st.files[f].path + " removed"
		}
		if cf.hash != r.depHashes[i] {
			return "header " + b.st.files[f].path + " changed"
		}
	}
	return b.checkObject(c, r)
}

// checkObject is the end of check: whether the object is still the one
// the record describes.
func (b *build) checkObject(c *unitCheck, r *unitRec) string {
	if c.objErr != nil {
		return "object missing"
	}
	if c.objSt != r.obj {
		return "object modified"
	}
	return ""
}

// dropRemoved forgets units that are no longer among the sources and
// removes their objects, so they leave the link.
func (b *build) dropRemoved() {
	want := make(map[string]struct{}, len(b.units))
	for _, u := range b.units {
		want[u] = struct{}{}
	}
	for u, r := range b.st.units {
		if _, ok := want[u]; ok {
			continue
		}
		delete(b.st.units, u)
		b.st.linkStale = true
		b.st.depsGen++
		b.changed.Store(true)
		if err := os.Remove(r.objAbs); err != nil && !errors.Is(err, os.ErrNotExist) {
			b.e.log.Warn("stale object not removed", "file", r.objAbs, "err", err)
		}
		if err := b.e.builds.Delete(unitKey(b.key, u)); err != nil {
			b.e.log.Warn("build state not deleted", "unit", u, "err", err)
		}
		if b.req.Explain {
			b.explain = append(b.explain, u+": removed from the sources")
		}
	}
}

// objPath is where unit's object goes: <build>/obj/<unit>.o.
func (b *build) objPath(unit string) string {
	return filepath.Join(b.objDir, filepath.FromSlash(unit)+".o")
}

// rel is p relative to the root when it is inside it, else p.
func (b *build) rel(p string) string {
	if r, err := filepath.Rel(b.root, p); err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return r
	}
	return p
}

// mkdirFor creates the directory of file once per build.
func (b *build) mkdirFor(file string) error {
	dir := filepath.Dir(file)
	b.dirMu.Lock()
	defer b.dirMu.Unlock()
	if b.dirs[dir] {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if b.dirs == nil {
		b.dirs = make(map[string]bool)
	}
	b.dirs[dir] = true
	return nil
}

func (b *build) emit(ev Event) {
	if b.progress == nil {
		return
	}
	b.progMu.Lock()
	defer b.progMu.Unlock()
	b.progress(ev)
}

// diagnostics joins the compiler output of this build's compiles (warnings
// and errors), verbatim, in unit order.
func (b *build) diagnostics() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.output) == 0 {
		return ""
	}
	units := make([]string, 0, len(b.output))
	for u := range b.output {
		units = append(units, u)
	}
	sort.Strings(units)
	var sb strings.Builder
	for _, u := range units {
		sb.WriteString(b.output[u])
	}
	return sb.String()
}

// sweepTmp removes what compiles of dead processes left in the temp dir (a
// daemon killed while compiling). Files of live processes stay: the other
// instance of the daemon during a rolling restart may be writing them. It
// also removes the old build directory a clean build killed halfway left
// (unless this build is a clean one, which is using it).
func (b *build) sweepTmp() {
	if b.spares == nil {
		if err := os.RemoveAll(recycleDir(b.buildDir)); err != nil {
			b.e.log.Warn("old build directory not removed", "dir", recycleDir(b.buildDir), "err", err)
		}
	}
	dir := filepath.Join(b.buildDir, tmpDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, ent := range ents {
		if pid := tmpOwner(ent.Name()); pid > 0 && pid != os.Getpid() && !proc.Exists(pid) {
			os.Remove(filepath.Join(dir, ent.Name()))
		}
	}
}

// tmpOwner is the PID in a compile's temp file name,
// <object>.<pid>-<seq>.tmp or deps.<pid>-<seq>.d (see compileUnit and
// depfilePool), or 0.
func tmpOwner(name string) int {
	ext := filepath.Ext(name)
	if ext != ".tmp" && ext != ".d" {
		return 0
	}
	rest := strings.TrimSuffix(name, ext)
	pidSeq := rest[strings.LastIndexByte(rest, '.')+1:]
	pid, _, ok := strings.Cut(pidSeq, "-")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(pid)
	if err != nil {
		return 0
	}
	return n
}

// storeLater has f, a write to the object cache, made beside the build:
// the next compile or the link need not wait for it. The writes are made
// in order, and a full queue makes the caller wait, so a cold build does
// not pile up objects in memory. waitStores waits for all of them.
func (b *build) storeLater(f func()) {
	b.storesOnce.Do(func() {
		b.stores = make(chan func(), 64)
		b.storesDone.Add(1)
		go func() {
			defer b.storesDone.Done()
			for f := range b.stores {
				f()
			}
		}()
	})
	b.stores <- f
}

// waitStores returns once every write given to storeLater is made. No
// storeLater may follow it.
func (b *build) waitStores() {
	b.storesOnce.Do(func() {})
	if b.stores != nil {
		close(b.stores)
		b.storesDone.Wait()
	}
}
