// Package compile is the compilation engine: it compiles a project's
// translation units in parallel, restores unchanged objects from a
// content-addressed cache shared by all projects, links the library or
// program, and answers "nothing changed" by stat'ing files only.
//
// It is domain logic without HTTP: the compilation daemon binds it to its
// routes, and `jmake build --no-daemon` calls it in-process. An Engine is
// long-lived and keeps every project's build state decoded in memory between
// builds; the store.Map values it is given make that state survive restarts.
//
// How a unit is judged, fastest first:
//
//   - Up to date: its record (compiler, flags, the content hash of its source
//     and of every header the compiler reported, the object's stat) still
//     holds. Each file is stat'ed once per build; a file whose stat changed
//     is hashed again (once), so a touched file is not recompiled.
//   - Cached: ccache's direct mode. The direct key (compiler identity, flags,
//     source path and content) names candidates in Manifests, each a list of
//     (header, content hash) and the action id they produced; a candidate
//     whose headers all still hash the same names an object in Objects,
//     which is copied into place without running the compiler.
//   - Compiled: the compiler runs in the project root with relative paths
//     (so keys and objects do not depend on where the checkout is), writing
//     to temp names that are renamed into place; its -MD output names the
//     headers, which complete the action id under which the object is
//     stored. A failed compile stores nothing.
package compile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmake/jmake/internal/change"
	"github.com/jmake/jmake/internal/keylock"
	"github.com/jmake/jmake/internal/project"
	"github.com/jmake/jmake/internal/store"
	"github.com/jmake/jmake/internal/toolenv"
)

// Options configure an Engine. Nil maps are replaced by in-memory ones, and a
// nil Objects disables the object cache.
type Options struct {
	Objects   *store.Objects // content-addressed object cache (shared by all projects)
	Manifests *store.Map     // direct key -> candidate (header hashes -> action id) lists
	Files     *store.Map     // (path,size,mtime,inode) -> content hash memo, persisted
	Builds    *store.Map     // per-project build state, persisted
	Workers   int            // default runtime.NumCPU()
	Logger    *slog.Logger
	// NoWatch turns off the inotify-watched fast path (watch.go), so that
	// every build stats its inputs.
	NoWatch bool
	// WatchDir holds the watch's cookie files (in a per-process
	// subdirectory); empty means a temp directory.
	WatchDir string
	// WatchHooks are called as the watch works (see change.Hooks); zero
	// outside tests.
	WatchHooks change.Hooks
}

// Engine builds projects. It is safe for concurrent use: builds of different
// roots run in parallel, builds of one root one after the other.
type Engine struct {
	objects   *store.Objects
	manifests *store.Map
	files     *store.Map
	builds    *store.Map
	workers   int
	log       *slog.Logger

	// clearMu is held for reading by every Build and for writing by
	// ClearCaches, so that caches are never cleared under a running build.
	// Lock order: a root's lock, then clearMu, then mu or manifestMu.
	// BuildTargets takes the locks of all its targets (in sorted order),
	// then clearMu, once for all its builds: a build waiting for a library
	// must not hold clearMu while the library's build waits to take it
	// behind a ClearCaches.
	clearMu sync.RWMutex

	roots keylock.Locks // one build per root at a time

	mu       sync.Mutex // guards the fields below
	projects map[string]*projectState
	tools    map[string]toolIdentity
	linkers  map[string]linkerProbe // driver id and linker path -> probe (linker.go)

	// manifestMu serializes the read-modify-write of a Manifests entry, so
	// two builds adding candidates for one direct key keep both.
	manifestMu sync.Mutex

	// watch, when not nil, lets a no-op build answer without a stat; fast
	// holds each project's last full build and the proof that vouches
	// for it (nil without a watch).
	watch *change.Watcher
	fast  *change.Answers[fastAnswer]

	hits, misses, compiles, links, groupLinks, filesHashed, watchedNoops atomic.Int64
	watchedPartial                                                       atomic.Int64
	toolsIdentified, coreYields, rspFiles, linkerProbes                  atomic.Int64
	tmpSeq                                                               atomic.Int64 // makes temp file names unique

	// directShapes holds, per link shape, the linker command the driver
	// runs for it and whether running it directly is proven (direct.go).
	directShapes sync.Map // Hash -> *directShape
	directLinks  atomic.Int64
	// memReturns counts the times a large build's garbage was given back
	// to the system (returnMemory), after builds of returnAfter units or
	// more; returning is set while one runs.
	memReturns  atomic.Int64
	returning   atomic.Bool
	returnAfter int
	// ccShapes holds, per compile shape, the compiler and assembler
	// commands the driver runs (directcc.go).
	ccShapes       sync.Map // Hash -> *ccShape
	directCompiles atomic.Int64
}

// New returns an Engine using the given caches.
func New(opts Options) *Engine {
	e := &Engine{
		returnAfter: returnMemoryAfter,
		objects:     opts.Objects,
		manifests:   opts.Manifests,
		files:       opts.Files,
		builds:      opts.Builds,
		workers:     opts.Workers,
		log:         opts.Logger,
		projects:    make(map[string]*projectState),
		tools:       make(map[string]toolIdentity),
		linkers:     make(map[string]linkerProbe),
	}
	if e.manifests == nil {
		e.manifests = store.NewMemoryMap("manifests")
	}
	if e.files == nil {
		e.files = store.NewMemoryMap("files")
	}
	if e.builds == nil {
		e.builds = store.NewMemoryMap("builds")
	}
	if e.workers <= 0 {
		e.workers = runtime.NumCPU()
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if !opts.NoWatch {
		wt, err := change.NewWithHooks(opts.WatchDir, opts.WatchHooks)
		if err != nil {
			e.log.Warn("no file watcher: every build will stat its inputs", "err", err)
		} else {
			e.watch, e.fast = wt, change.NewAnswers[fastAnswer](wt)
		}
	}
	return e
}

// Request is one build of one project.
type Request struct {
	Root    string          // absolute project root; the compiler runs here
	Config  *project.Config // with defaults applied
	Sources []string        // the units to build: relative to Root, slash-separated
	Jobs    int             // parallel compiles; default [compile] jobs, else the engine's Workers
	Clean   bool            // remove build outputs and state first; the object cache stays
	Explain bool            // fill Result.Explain
	// Env is the caller's PATH, CC, CXX and flags variables (toolenv):
	// the tools are found on its PATH and run with it, and its flags
	// come before jmake.toml's. The zero value is the engine's own PATH.
	Env toolenv.Env
	// Color asks GCC and Clang for coloured diagnostics (for a terminal).
	// It is passed to the compiler only: no key depends on it, so a
	// coloured and a plain build share every cache entry.
	Color bool
	// NoopOnly asks for an answer only if the watch proves nothing
	// changed; otherwise Build does nothing and returns ErrNotNoop.
	NoopOnly bool

	// Target names one of several outputs of the root (each with a build
	// state of its own); "" is the root's single output.
	Target string
	// LinkInputs are files the link reads besides the objects (absolute):
	// libraries of the project, version and linker scripts. A change of
	// one's stat relinks.
	LinkInputs []string
	// Slots, when not nil, is shared by builds that run at once, so that
	// their compilers together stay within its capacity.
	Slots chan struct{}
	// BeforeLink, when not nil, runs after the compiles and before the
	// link decision: it waits for the libraries the output links.
	BeforeLink func() error
	// NoFast skips the watched fast path: a library this output links
	// may have changed.
	NoFast bool

	// locked says the caller (BuildTargets) holds the key's lock and
	// clearMu for reading, for all its targets at once.
	locked bool
}

// stateKey names the build state (lock, fast path, records) of req's
// output under root. A target's key cannot start with root+"\x00", the
// prefix of the single output's records.
func stateKey(root string, req Request) string {
	if req.Target == "" {
		return root
	}
	return root + "\x01" + req.Target
}

// Result describes a build. On a compile failure it describes what did
// succeed.
type Result struct {
	Output   string `json:"output"` // absolute path of the library or program
	Units    int    `json:"units"`
	Compiled int    `json:"compiled"`   // units the compiler ran for
	Cached   int    `json:"cached"`     // units restored from the object cache
	UpToDate int    `json:"up_to_date"` // units left alone
	Linked   bool   `json:"linked"`
	// Linker is the linker the output is linked with (linker.go): "lld",
	// "gold", "mold", "bfd", "default" (the driver's choice), a -fuse-ld=
	// of the link flags; "" for a static library (ar).
	Linker          string   `json:"linker,omitempty"`
	ElapsedSeconds  float64  `json:"elapsed_seconds"`
	Explain         []string `json:"explain,omitempty"`     // why each unit (and the link) was not up to date
	CompileCommands string   `json:"compile_commands"`      // absolute path of compile_commands.json
	Diagnostics     string   `json:"diagnostics,omitempty"` // compiler and linker output, verbatim
	// Warnings are what went wrong with the caches without failing the
	// build: a damaged object cache entry (compiled again), writes that
	// failed (a full disk).
	Warnings []string `json:"warnings,omitempty"`
	// InputDirs and OutputDirs are the directories the build read from
	// (sources, headers, compilers) and wrote to: nothing outside them
	// can change what a no-op answers. Absolute, sorted; set on success.
	InputDirs  []string `json:"input_dirs,omitempty"`
	OutputDirs []string `json:"output_dirs,omitempty"`
}

// Event reports progress: the units to do, in Total, before the first
// compile ("plan"), a unit compiled or failed ("compile"), restored from
// the cache ("cache"), the link ("link"), and the end ("done"). Done
// counts finished units out of Total units that needed work; for "done",
// Done is the units now up to date and Total all units.
type Event struct {
	Kind  string `json:"kind"`
	Unit  string `json:"unit,omitempty"`
	Done  int    `json:"done"`
	Total int    `json:"total"`
	// Output is what the compiler (or linker) printed for this unit, as
	// it finished, or replayed from the cache: a terminal shows it then,
	// as ninja does, not at the end of the build. Result.Diagnostics
	// holds it too.
	Output string `json:"output,omitempty"`
}

// ErrNotNoop is Build's answer to a NoopOnly request that would have work
// to do (or cannot prove it has none).
var ErrNotNoop = errors.New("compile: not a no-op")

// Build brings the project's output up to date with its sources. Only units
// whose inputs changed are compiled (or restored from the cache), and the
// output is linked only when an object, the set of units, a link setting or
// the output itself changed. progress, if not nil, is called from one
// goroutine at a time. A compile or link failure returns a *BuildError and a
// Result for what succeeded.
func (e *Engine) Build(ctx context.Context, req Request, progress func(Event)) (*Result, error) {
	start := time.Now()
	if req.Config == nil {
		return nil, errors.New("compile: build request without a config")
	}
	if !filepath.IsAbs(req.Root) {
		return nil, fmt.Errorf("compile: project root %q is not absolute", req.Root)
	}
	root := filepath.Clean(req.Root)
	key := stateKey(root, req)
	if !req.locked {
		unlock, err := e.roots.Lock(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("compile: %s: waiting for another build: %w", root, err)
		}
		defer unlock()
		e.clearMu.RLock()
		defer e.clearMu.RUnlock()
	}

	if res, ok := e.fastNoop(key, req, start); ok {
		if progress != nil {
			progress(Event{Kind: "done", Done: res.Units, Total: res.Units})
		}
		return res, nil
	}
	if req.NoopOnly {
		return nil, ErrNotNoop
	}
	listed, why := e.armFast(key, req)
	b, err := e.newBuild(ctx, root, req, progress)
	if err != nil {
		return nil, err
	}
	b.listed, b.fullWhy = listed, why
	if req.Clean {
		if err := e.clean(b); err != nil {
			return nil, err
		}
	}
	b.st = e.stateFor(key, root)
	res, err := b.run()
	b.waitStores()
	b.coresOnce.Do(func() {}) // no compile starts after run
	if b.releaseCores != nil {
		b.releaseCores()
	}
	if b.spares != nil {
		if derr := b.spares.discard(); derr != nil {
			e.log.Warn("old build directory not removed", "dir", b.spares.dir, "err", derr)
		}
		// The old directories' watches end with them: have those events
		// read now, so that settleFast watches the new directories in
		// this build rather than leave that to the next one.
		if e.watch != nil {
			e.watch.Sync()
		}
	}
	res.Warnings = b.warningList()
	res.ElapsedSeconds = time.Since(start).Seconds()
	if err == nil && res != nil {
		b.recordDirs(res)
	}
	e.settleFast(key, req, res, err)
	b.emit(Event{Kind: "done", Done: res.UpToDate + res.Compiled + res.Cached, Total: res.Units})
	if err == nil {
		e.log.Debug("build done", "root", root, "units", res.Units, "compiled", res.Compiled,
			"cached", res.Cached, "linked", res.Linked, "seconds", res.ElapsedSeconds)
	}
	if b.stored.Load() > 0 {
		e.trim()
	}
	if res.Compiled+res.Cached >= e.returnAfter {
		e.returnMemory()
	}
	return res, err
}

// returnMemoryAfter is the number of units compiled or restored from
// which a build's garbage is given back to the system when it ends. A
// cold build of 10,002 units peaks at about 370 MB of heap, of which 134
// MB stay live, and the runtime keeps what it got, as its heap goal is
// twice the live heap: the compilation daemon stayed at 330 MB resident
// through the no-ops that followed.
const returnMemoryAfter = 1000

// returnMemory collects the garbage and hands the free heap back to the
// system, in the background: the build's reply does not wait for it.
func (e *Engine) returnMemory() {
	if !e.returning.CompareAndSwap(false, true) {
		return
	}
	e.memReturns.Add(1)
	go func() {
		defer e.returning.Store(false)
		debug.FreeOSMemory()
	}()
}

// stateFor returns the build state under key (of an output of root),
// loading it from Builds the first time. The caller holds key's lock.
func (e *Engine) stateFor(key, root string) *projectState {
	e.mu.Lock()
	st := e.projects[key]
	e.mu.Unlock()
	if st != nil {
		return st
	}
	st = e.loadState(key, root)
	e.mu.Lock()
	e.projects[key] = st
	e.mu.Unlock()
	return st
}

// clean removes the project's build directory and output, and forgets its
// build state. The object cache is left alone.
func (e *Engine) clean(b *build) error {
	if isAncestor(b.buildDir, b.root) {
		return fmt.Errorf("compile: clean %s: refusing to remove build directory %s, which holds the project", b.root, b.buildDir)
	}
	if r, ok := moveAside(b.buildDir); ok {
		b.spares = r
	} else if err := os.RemoveAll(b.buildDir); err != nil {
		return fmt.Errorf("compile: clean %s: %w", b.buildDir, err)
	}
	if !isAncestor(b.buildDir, b.outAbs) {
		if err := os.Remove(b.outAbs); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("compile: clean %s: %w", b.outAbs, err)
		}
	}
	e.mu.Lock()
	delete(e.projects, b.key)
	e.mu.Unlock()
	prefix := b.key + "\x00"
	var keys []string
	e.builds.Range(func(k string, _ []byte) bool {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
		return true
	})
	for _, k := range keys {
		if err := e.builds.Delete(k); err != nil {
			e.log.Warn("build state not deleted", "root", b.root, "err", err)
		}
	}
	e.log.Debug("cleaned", "root", b.root, "build", b.buildDir)
	return nil
}

// isAncestor reports whether dir is p or a directory above it.
func isAncestor(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// trim applies the object cache's size limit. It runs synchronously at the
// end of a build that stored objects, so no goroutine outlives the call.
func (e *Engine) trim() {
	if e.objects == nil || !e.objects.NeedsTrim() {
		return
	}
	start := time.Now()
	n, err := e.objects.Trim()
	if err != nil {
		e.log.Warn("object cache trim failed", "dir", e.objects.Dir(), "err", err)
		return
	}
	e.log.Info("object cache trimmed", "removed", n, "seconds", time.Since(start).Seconds())
}

// Stats describes the engine's caches and work since start (or the last
// ClearCaches).
type Stats struct {
	Entries      int   `json:"entries"` // objects in the object cache
	Bytes        int64 `json:"bytes"`   // their size
	Hits         int64 `json:"hits"`    // units restored from the object cache
	Misses       int64 `json:"misses"`  // units the cache could not supply
	Compiles     int64 `json:"compiles"`
	Links        int64 `json:"links"`
	GroupLinks   int64 `json:"group_links"`   // partial links of link groups
	FilesHashed  int64 `json:"files_hashed"`  // files read and hashed
	WatchedNoops int64 `json:"watched_noops"` // no-op builds answered by the file watch, without a stat
	// WatchedPartial counts builds that stat'ed only the files the watch
	// saw change (watch.go).
	WatchedPartial int64       `json:"watched_partial"`
	Corrupt        int64       `json:"corrupt"` // damaged object cache entries found and removed
	Manifests      store.Stats `json:"manifests"`
	Files          store.Stats `json:"files"`
	Builds         store.Stats `json:"builds"`
}

// Counters are the engine's work counts since it started: CacheStats
// without the caches' sizes.
type Counters struct {
	Compiles, Links, GroupLinks, WatchedNoops, FilesHashed int64
	// WatchedPartial counts builds that stat'ed only the files the watch
	// saw change.
	WatchedPartial int64
	// ToolsIdentified counts compilers run for their identity (version,
	// target), which the engine remembers per path and stat.
	ToolsIdentified int64
	// CoreYields counts builds that left the cores to their compilers
	// (cores.go).
	CoreYields int64
	// RspFiles counts links given their arguments in a response file
	// (rspfile.go).
	RspFiles int64
	// LinkerProbes counts probe links run to learn whether the driver
	// can use a linker (linker.go), which the engine remembers.
	LinkerProbes int64
	// DirectLinks counts links that ran the linker without the compiler
	// driver (direct.go).
	DirectLinks int64
	// DirectCompiles counts compiles that ran the compiler proper and the
	// assembler without the driver (directcc.go).
	DirectCompiles int64
}

// Counters returns the engine's work counts.
func (e *Engine) Counters() Counters {
	return Counters{
		Compiles: e.compiles.Load(), Links: e.links.Load(), GroupLinks: e.groupLinks.Load(),
		WatchedNoops: e.watchedNoops.Load(), FilesHashed: e.filesHashed.Load(),
		WatchedPartial:  e.watchedPartial.Load(),
		ToolsIdentified: e.toolsIdentified.Load(), CoreYields: e.coreYields.Load(),
		RspFiles: e.rspFiles.Load(), LinkerProbes: e.linkerProbes.Load(),
		DirectLinks: e.directLinks.Load(), DirectCompiles: e.directCompiles.Load(),
	}
}

// CacheStats returns the caches' sizes and the hit, miss and compile counts.
// The first call walks the object directory to count it (see
// store.Objects.Stats).
func (e *Engine) CacheStats() Stats {
	s := Stats{
		Hits:           e.hits.Load(),
		Misses:         e.misses.Load(),
		Compiles:       e.compiles.Load(),
		Links:          e.links.Load(),
		GroupLinks:     e.groupLinks.Load(),
		FilesHashed:    e.filesHashed.Load(),
		WatchedNoops:   e.watchedNoops.Load(),
		WatchedPartial: e.watchedPartial.Load(),
		Manifests:      e.manifests.Stats(),
		Files:          e.files.Stats(),
		Builds:         e.builds.Stats(),
	}
	if e.objects != nil {
		s.Corrupt = e.objects.Corrupt()
		if os, err := e.objects.Stats(); err == nil {
			s.Entries, s.Bytes = os.Entries, os.Bytes
		} else {
			e.log.Warn("object cache stats", "dir", e.objects.Dir(), "err", err)
		}
	}
	return s
}

// ClearCaches empties the object cache, the manifests, the file hash memo
// and every project's build state (so the next build of any project compiles
// everything), waiting for running builds to finish first. Build outputs are
// left alone.
func (e *Engine) ClearCaches() error {
	e.clearMu.Lock()
	defer e.clearMu.Unlock()
	var errs []error
	if e.objects != nil {
		if err := e.objects.Clear(); err != nil {
			errs = append(errs, fmt.Errorf("compile: clear objects: %w", err))
		}
	}
	for _, m := range []*store.Map{e.manifests, e.files, e.builds} {
		if err := m.Clear(); err != nil {
			errs = append(errs, fmt.Errorf("compile: clear %s: %w", m.Name(), err))
		}
	}
	e.mu.Lock()
	clear(e.projects)
	clear(e.tools)
	clear(e.linkers)
	e.mu.Unlock()
	for _, c := range []*atomic.Int64{&e.hits, &e.misses, &e.compiles, &e.links, &e.groupLinks, &e.filesHashed} {
		c.Store(0)
	}
	return errors.Join(errs...)
}
