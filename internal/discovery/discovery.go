// Package discovery is the discovery daemon's domain logic: it finds the
// compilers and tools on this machine, scans a project's files, walks its
// include graph, spots the binaries a build left behind and sums a project
// up in one reply. What it learns is kept in store.Maps, so that after a
// restart, and between builds, "nothing changed" is answered from a handful
// of stat calls instead of re-reading the project.
//
// It knows nothing of HTTP: the daemon binds these methods to routes, and
// `jmake build --no-daemon` calls them in-process.
//
// Three caches, each validated by file identity (size, mtime, inode, ctime)
// rather than trusted blindly:
//
//	tools   found path -> version and the identity of the file it came from
//	scans   root + options -> the classified file lists and the identity
//	        and listing of every directory walked (an entry added, removed
//	        or renamed changes its directory's mtime; one whose mtime moved
//	        is read again, and unchanged if it lists the same entries)
//	deps    content hash -> the #include lines of a file; path -> identity
//	        and content hash, so unchanged files are not even re-read
//
// Decoded copies of scans and file facts are kept in memory as well, since
// decoding costs more than the stat calls that validate them; binary
// classifications live in memory only.
package discovery

import (
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/jmake/jmake/internal/store"
)

// Options configures a Discovery. Every field may be left zero.
type Options struct {
	// Tools persists tool locations and versions; nil keeps them in memory.
	Tools *store.Map
	// Scans persists project scans; nil keeps them in memory.
	Scans *store.Map
	// Deps persists per-file include scans; nil keeps them in memory.
	Deps *store.Map

	// ExtraToolDirs are searched for tools after the directories on the
	// search path. nil means DefaultToolDirs(); an empty non-nil slice
	// means no extra directories.
	ExtraToolDirs []string
	// SearchPath is a PATH-style list of directories searched first for
	// tools; "" means the process's $PATH, read at each lookup.
	SearchPath string

	// DepfilePaths returns the candidate compiler dependency files (-MD
	// output) of a unit, as absolute paths; unit is relative to root with
	// slashes. nil means DefaultDepfilePaths.
	DepfilePaths func(root, unit string) []string

	// Logger receives warnings about cache writes and revalidation; nil
	// discards them.
	Logger *slog.Logger
}

// Discovery answers the discovery daemon's questions. It is safe for
// concurrent use; make one with New.
type Discovery struct {
	tools, scans, deps *store.Map
	extraDirs          []string // nil: DefaultToolDirs() at each lookup
	searchPath         string
	depfilePaths       func(root, unit string) []string
	log                *slog.Logger

	// Hit and miss counters per cache. A "hit" is an answer given from a
	// cache after revalidation; the store's own counters would count a
	// lookup of a stale entry as a hit, so they are not used.
	toolStats, scanStats, depStats, binStats counter

	// The mutexes below each guard one map, are held only for map
	// operations, and are never held together nor across I/O.
	toolMu       sync.Mutex           // guards toolInflight
	toolInflight map[string]*toolCall // found path -> version probe under way

	scanMu  sync.Mutex             // guards scanMem
	scanMem map[string]*scanRecord // scan key -> decoded record, mirror of scans

	factsMu  sync.Mutex           // guards factsMem
	factsMem map[string]factsMemo // absolute path -> decoded facts, over deps

	binMu   sync.Mutex            // guards binMemo
	binMemo map[string]binaryMemo // absolute path -> last classification
}

// New returns a Discovery using the caches in opts.
func New(opts Options) *Discovery {
	d := &Discovery{
		tools:        opts.Tools,
		scans:        opts.Scans,
		deps:         opts.Deps,
		extraDirs:    slices.Clone(opts.ExtraToolDirs),
		searchPath:   opts.SearchPath,
		depfilePaths: opts.DepfilePaths,
		log:          opts.Logger,
		toolInflight: make(map[string]*toolCall),
		scanMem:      make(map[string]*scanRecord),
		factsMem:     make(map[string]factsMemo),
		binMemo:      make(map[string]binaryMemo),
	}
	if d.tools == nil {
		d.tools = store.NewMemoryMap("tools")
	}
	if d.scans == nil {
		d.scans = store.NewMemoryMap("scans")
	}
	if d.deps == nil {
		d.deps = store.NewMemoryMap("deps")
	}
	if d.depfilePaths == nil {
		d.depfilePaths = DefaultDepfilePaths
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	return d
}

// CacheStats reports each cache's size and hit counts, by cache name:
// "tools", "scans", "deps" and "binaries" (the last lives in memory only).
func (d *Discovery) CacheStats() map[string]store.Stats {
	out := make(map[string]store.Stats, 4)
	for name, c := range map[string]struct {
		m *store.Map
		n *counter
	}{"tools": {d.tools, &d.toolStats}, "scans": {d.scans, &d.scanStats}, "deps": {d.deps, &d.depStats}} {
		st := c.m.Stats()
		st.Hits, st.Misses = c.n.hits.Load(), c.n.misses.Load()
		out[name] = st
	}
	d.binMu.Lock()
	out["binaries"] = store.Stats{Entries: len(d.binMemo), Hits: d.binStats.hits.Load(), Misses: d.binStats.misses.Load()}
	d.binMu.Unlock()
	return out
}

// ClearCaches empties every cache, on disk too, and resets the counters.
// Every cache is cleared even if one fails; the errors are joined.
func (d *Discovery) ClearCaches() error {
	var errs []error
	for _, m := range []*store.Map{d.tools, d.scans, d.deps} {
		if err := m.Clear(); err != nil {
			errs = append(errs, err)
		}
	}
	d.scanMu.Lock()
	clear(d.scanMem)
	d.scanMu.Unlock()
	d.factsMu.Lock()
	clear(d.factsMem)
	d.factsMu.Unlock()
	d.binMu.Lock()
	clear(d.binMemo)
	d.binMu.Unlock()
	for _, c := range []*counter{&d.toolStats, &d.scanStats, &d.depStats, &d.binStats} {
		c.hits.Store(0)
		c.misses.Store(0)
	}
	return errors.Join(errs...)
}

// counter counts answers given from a cache and answers recomputed.
type counter struct{ hits, misses atomic.Int64 }

func (c *counter) hit(ok bool) {
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
}

// getJSON decodes m's value for key into v; a missing key, or a value that
// does not decode (a cache written by another version), is a miss.
func getJSON(m *store.Map, key string, v any) bool {
	b, ok := m.Peek(key)
	if !ok {
		return false
	}
	return json.Unmarshal(b, v) == nil
}

// putJSON stores v under key. A cache that cannot be written is not an
// error for the caller: the answer is still right, only not remembered.
func (d *Discovery) putJSON(m *store.Map, key string, v any) {
	b, err := json.Marshal(v)
	if err == nil {
		err = m.Put(key, b)
	}
	if err != nil {
		d.log.Warn("discovery: cache write failed", "cache", m.Name(), "key", key, "err", err)
	}
}
