package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Map is a string-keyed cache of byte values that persists every change to
// an append-only log as it is made (write-through), so a kill -9 loses no
// change that Put already returned from. Without a path it lives in memory
// only. The zero value is not usable; call OpenMap or NewMemoryMap.
//
// Values returned by Get and Range must not be modified.
type Map struct {
	name string
	path string // "" keeps the map in memory only

	hits, misses atomic.Int64
	corrupt      int64 // damaged records dropped at load; set once by OpenMap

	mu      sync.RWMutex // guards the fields below
	m       map[string][]byte
	bytes   int64    // sum of len(key)+len(value) over m
	f       *os.File // the log opened O_APPEND; nil in memory-only mode
	werr    error    // the last write error, reported by Err
	records int      // records in the log file
}

// NewMemoryMap returns a Map that is never written to disk.
func NewMemoryMap(name string) *Map {
	return &Map{name: name, m: make(map[string][]byte)}
}

// OpenMap loads the log at path (creating its directory) and keeps it open
// for appends. It never fails: an unreadable file is set aside and the map
// starts empty, and a log that cannot be opened for writing leaves the map
// in memory only; both are reported in LoadReport.Warning for the caller to
// log.
func OpenMap(name, path string) (*Map, LoadReport) {
	start := time.Now()
	mp := &Map{name: name, path: path, m: make(map[string][]byte)}
	var rep LoadReport
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		rep.Warning = fmt.Errorf("cache %s: %w; keeping it in memory only", name, err)
		mp.path = ""
		return mp, rep
	}
	removeStaleTemps(path)
	size, err := readLog(path, mp.m, &rep)
	if err != nil {
		rep.Warning = fmt.Errorf("cache %s: %w", name, err)
	}
	if rep.Recovered > 0 || rep.SetAside != "" {
		mp.corrupt = 1
	}
	for k, v := range mp.m {
		mp.bytes += int64(len(k) + len(v))
	}
	rep.Entries = len(mp.m)
	mp.records = rep.Records
	if mp.needsCompaction() || size == 0 {
		if _, err := writeCompacted(path, mp.m); err != nil {
			rep.Warning = fmt.Errorf("cache %s: %w", name, err)
		} else {
			rep.Compacted = size > 0
			mp.records = len(mp.m)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		rep.Warning = fmt.Errorf("cache %s: open %s for writing: %w; keeping it in memory only", name, path, err)
		mp.path = ""
	} else {
		mp.f = f
	}
	rep.Elapsed = time.Since(start)
	return mp, rep
}

// removeStaleTemps removes the temp files of rewrites of the log at path
// that a killed process left (atomicfile.Write's ".<name>.tmp-*"). One
// younger than a minute may be another instance's rewrite in progress.
func removeStaleTemps(path string) {
	temps, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*"))
	for _, t := range temps {
		if fi, err := os.Lstat(t); err == nil && time.Since(fi.ModTime()) > time.Minute {
			os.Remove(t)
		}
	}
}

// Name is the cache's name as it appears in statistics.
func (mp *Map) Name() string { return mp.name }

// Persistent reports whether changes reach a file.
func (mp *Map) Persistent() bool { return mp.path != "" }

// Get returns the value for key, counting a hit or a miss.
func (mp *Map) Get(key string) ([]byte, bool) {
	v, ok := mp.Peek(key)
	if ok {
		mp.hits.Add(1)
	} else {
		mp.misses.Add(1)
	}
	return v, ok
}

// Peek returns the value for key without counting a hit or a miss.
func (mp *Map) Peek(key string) ([]byte, bool) {
	mp.mu.RLock()
	v, ok := mp.m[key]
	mp.mu.RUnlock()
	return v, ok
}

// Put sets key to a copy of value and appends the change to the log.
// The in-memory map is updated even if the write fails; the error says so.
func (mp *Map) Put(key string, value []byte) error {
	v := append([]byte(nil), value...)
	mp.mu.Lock()
	defer mp.mu.Unlock()
	if old, ok := mp.m[key]; ok {
		mp.bytes -= int64(len(key) + len(old))
	}
	mp.m[key] = v
	mp.bytes += int64(len(key) + len(v))
	return mp.appendLocked(opPut, key, v)
}

// Delete removes key and appends the change to the log.
func (mp *Map) Delete(key string) error {
	mp.mu.Lock()
	defer mp.mu.Unlock()
	old, ok := mp.m[key]
	if !ok {
		return nil
	}
	delete(mp.m, key)
	mp.bytes -= int64(len(key) + len(old))
	return mp.appendLocked(opDelete, key, nil)
}

// Clear removes every entry, on disk too, and resets the hit counters.
func (mp *Map) Clear() error {
	mp.mu.Lock()
	defer mp.mu.Unlock()
	clear(mp.m)
	mp.bytes = 0
	mp.hits.Store(0)
	mp.misses.Store(0)
	return mp.appendLocked(opClear, "", nil)
}

// appendLocked writes one record in a single write(2). mu must be held so
// that the log's order matches the map's.
func (mp *Map) appendLocked(op byte, key string, value []byte) error {
	if mp.f == nil {
		return nil
	}
	if n, err := mp.f.Write(encodeRecord(op, key, value)); err != nil {
		// A full disk can take part of a record: cut it off, or every
		// record appended after it, once there is room again, would be
		// dropped with it at the next load.
		if n > 0 {
			if fi, serr := mp.f.Stat(); serr == nil && fi.Size() >= int64(n) {
				mp.f.Truncate(fi.Size() - int64(n))
			}
		}
		mp.werr = fmt.Errorf("cache %s: append to %s: %w", mp.name, mp.path, err)
		return mp.werr
	}
	mp.records++
	if mp.needsCompaction() {
		mp.compactLocked()
	}
	return nil
}

// Compaction thresholds: the log is rewritten with live entries only when
// it holds more than compactRatio records per live entry (dead records
// outnumber live ones by 2:1), so it stays within a small multiple of the
// live data, ninja's deps log's rule of thumb; a log of at most
// compactMinRecords records is left alone whatever its ratio, since
// rewriting it would cost more than reading its dead records at load.
const (
	compactRatio      = 3
	compactMinRecords = 1000
)

// needsCompaction says when to rewrite the log with live entries only.
func (mp *Map) needsCompaction() bool {
	return mp.records > compactMinRecords && mp.records > compactRatio*len(mp.m)
}

// compactLocked rewrites the log while the map is open (temp file +
// rename) and appends to the new file from then on. A daemon rewriting a
// cache entry again and again (a header every unit includes, edited and
// rebuilt) would otherwise grow its log by megabytes per build until the
// next start. If it fails, the old log stays in use, and the next attempt
// waits until the log has doubled.
//
// A second process appending to the same log (the other instance during a
// rolling restart) keeps writing to the replaced file until it exits, so
// its entries written after the rewrite are lost: a cache miss later,
// never a damaged log. Compaction at load has always had that property.
func (mp *Map) compactLocked() {
	if _, err := writeCompacted(mp.path, mp.m); err != nil {
		mp.records *= 2 // not again before the log has doubled
		return
	}
	f, err := os.OpenFile(mp.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		// The new log is complete; appends go on to the replaced file
		// and would be lost at the next load, so stop persisting.
		mp.werr = fmt.Errorf("cache %s: reopen %s after compaction: %w; keeping it in memory only", mp.name, mp.path, err)
		mp.f.Close()
		mp.f = nil
		return
	}
	mp.f.Close()
	mp.f, mp.records = f, len(mp.m)
}

// Range calls fn for each entry until fn returns false. fn must not call
// methods of mp that modify it.
func (mp *Map) Range(fn func(key string, value []byte) bool) {
	mp.mu.RLock()
	defer mp.mu.RUnlock()
	for k, v := range mp.m {
		if !fn(k, v) {
			return
		}
	}
}

// Stats is a snapshot of a cache's size and use.
type Stats struct {
	Entries int   `json:"entries"`
	Bytes   int64 `json:"bytes"`
	Hits    int64 `json:"hits"`
	Misses  int64 `json:"misses"`
	// Corrupt counts the damaged entries or records found on reading
	// the cache and dropped (a log's damaged tail counts once).
	Corrupt int64 `json:"corrupt"`
}

// Stats returns the cache's current size and hit counts.
func (mp *Map) Stats() Stats {
	mp.mu.RLock()
	defer mp.mu.RUnlock()
	return Stats{Entries: len(mp.m), Bytes: mp.bytes, Hits: mp.hits.Load(), Misses: mp.misses.Load(), Corrupt: mp.corrupt}
}

// Len is the number of entries.
func (mp *Map) Len() int {
	mp.mu.RLock()
	defer mp.mu.RUnlock()
	return len(mp.m)
}

// Err returns the last error writing the log, if any.
func (mp *Map) Err() error {
	mp.mu.RLock()
	defer mp.mu.RUnlock()
	return mp.werr
}

// Flush asks the kernel to put the log on stable storage. Writes already
// survive a crash of the process; Flush is for surviving a crash of the host.
func (mp *Map) Flush() error {
	mp.mu.Lock()
	defer mp.mu.Unlock()
	if mp.f == nil {
		return nil
	}
	if err := mp.f.Sync(); err != nil {
		return fmt.Errorf("cache %s: sync %s: %w", mp.name, mp.path, err)
	}
	return nil
}

// Close flushes and closes the log. The map stays readable in memory.
func (mp *Map) Close() error {
	err := mp.Flush()
	mp.mu.Lock()
	defer mp.mu.Unlock()
	if mp.f != nil {
		if cerr := mp.f.Close(); err == nil && cerr != nil {
			err = cerr
		}
		mp.f = nil
	}
	return err
}
