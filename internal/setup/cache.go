package setup

import (
	"crypto/sha256"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/jmake/jmake/internal/change"
	"github.com/jmake/jmake/internal/project"
)

// memo remembers the content hash of a file at one identity.
type memo struct {
	id      change.ID
	sum     [32]byte
	statted time.Time // when id was taken
}

// trusted reports whether the memo may stand in for reading the file.
func (m memo) trusted() bool {
	return !change.Racy(m.id.MtimeNS, m.statted.UnixNano())
}

// entry is one parsed config, as Parse returned it (no defaults: those
// depend on the directory, not only on the bytes).
type entry struct {
	cfg  *project.Config
	used uint64 // tick of the last use, for evicting the least recently used
}

// configCache holds parsed configs keyed by the sha256 of the file's bytes.
type configCache struct {
	// mu guards every field below. It is held only to look up and record,
	// never while reading or parsing a file.
	mu      sync.Mutex
	memos   map[string]memo     // file path -> its last identity and hash
	configs map[[32]byte]*entry // content hash -> parsed config
	tick    uint64
	hits    int64
	misses  int64
	reads   int64
}

func (c *configCache) init() {
	c.memos = map[string]memo{}
	c.configs = map[[32]byte]*entry{}
}

// CacheStats describes the parsed-config cache.
type CacheStats struct {
	Entries int   `json:"entries"` // parsed configs held
	Hits    int64 `json:"hits"`    // lookups answered without parsing (Config, ValidateConfig)
	Misses  int64 `json:"misses"`  // lookups that parsed
	Reads   int64 `json:"reads"`   // files read and hashed (a trusted stat memo skips the read)
}

// Config returns the parsed configuration at path (a project directory or
// its jmake.toml) with defaults applied. cached reports that the file's
// content had been parsed before and was not parsed again. An unchanged
// file (same size, mtime, device and inode) is not even re-read. Each call
// returns a Config of its own, which the caller may change.
func (s *Setup) Config(path string) (cfg *project.Config, cached bool, err error) {
	file, dir, err := configFile(path)
	if err != nil {
		return nil, false, err
	}
	sum, data, err := s.hashFile(file)
	if err != nil {
		return nil, false, err
	}
	cfg, cached, err = s.parsed(file, sum, data)
	if err != nil {
		return nil, false, err
	}
	cfg.Defaults(dir)
	return cfg, cached, nil
}

// hashFile returns the sha256 of file's content: from its stat memo when
// the file is unchanged and the memo can be trusted (data is then nil),
// else by reading it (data holds what was read).
func (s *Setup) hashFile(file string) (sum [32]byte, data []byte, err error) {
	fi, err := os.Stat(file)
	if err != nil {
		return sum, nil, fmt.Errorf("setup: %w", err)
	}
	c := &s.cache
	c.mu.Lock()
	m, ok := c.memos[file]
	c.mu.Unlock()
	if ok && m.id == change.IDOf(fi) && m.trusted() {
		return m.sum, nil, nil
	}
	return s.readFile(file)
}

// readFile reads and hashes file and records its stat memo. The stat comes
// first: if the file changes between the stat and the read, the memo pairs
// the old identity with the new hash, and the next stat sees a new
// identity and reads again.
func (s *Setup) readFile(file string) (sum [32]byte, data []byte, err error) {
	now := time.Now()
	fi, err := os.Stat(file)
	if err != nil {
		return sum, nil, fmt.Errorf("setup: %w", err)
	}
	if data, err = project.ReadFile(file); err != nil {
		return sum, nil, fmt.Errorf("setup: %w", err)
	}
	sum = sha256.Sum256(data)
	c := &s.cache
	c.mu.Lock()
	c.reads++
	c.memos[file] = memo{id: change.IDOf(fi), sum: sum, statted: now}
	c.trimMemosLocked(s.maxConfigs * 4)
	c.mu.Unlock()
	return sum, data, nil
}

// parsed returns a copy of the config whose content hashes to sum, parsing
// data (or, when data is nil, the file read again) on a miss. Failed parses
// are not cached.
func (s *Setup) parsed(file string, sum [32]byte, data []byte) (*project.Config, bool, error) {
	c := &s.cache
	c.mu.Lock()
	if e := c.configs[sum]; e != nil {
		c.tick++
		e.used = c.tick
		c.hits++
		out := e.cfg.Clone()
		c.mu.Unlock()
		return out, true, nil
	}
	c.misses++
	c.mu.Unlock()

	if data == nil {
		// The memo knew the hash but its config was evicted: read again,
		// and key by what was read.
		var err error
		if sum, data, err = s.readFile(file); err != nil {
			return nil, false, err
		}
	}
	cfg, err := project.Parse(file, data)
	if err != nil {
		return nil, false, err
	}
	c.mu.Lock()
	c.tick++
	c.configs[sum] = &entry{cfg: cfg, used: c.tick}
	c.evictLocked(s.maxConfigs)
	c.mu.Unlock()
	return cfg.Clone(), false, nil
}

// evictLocked drops the least recently used configs beyond limit.
func (c *configCache) evictLocked(limit int) {
	for len(c.configs) > limit {
		var oldest [32]byte
		first := true
		var least uint64
		for k, e := range c.configs {
			if first || e.used < least {
				oldest, least, first = k, e.used, false
			}
		}
		delete(c.configs, oldest)
	}
}

// trimMemosLocked keeps the stat memos bounded: past limit it drops the
// oldest. A dropped memo costs one re-read, never a wrong answer.
func (c *configCache) trimMemosLocked(limit int) {
	for len(c.memos) > limit {
		var oldest string
		first := true
		var at time.Time
		for k, m := range c.memos {
			if first || m.statted.Before(at) {
				oldest, at, first = k, m.statted, false
			}
		}
		delete(c.memos, oldest)
	}
}

// CacheStats returns the size of the config cache and its counters.
func (s *Setup) CacheStats() CacheStats {
	c := &s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Entries: len(c.configs), Hits: c.hits, Misses: c.misses, Reads: c.reads}
}

// ClearCache drops every parsed config and stat memo. The counters keep
// counting (they are monotonic, as metrics expect).
func (s *Setup) ClearCache() {
	c := &s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
}
