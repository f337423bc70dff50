package compile

import (
	"errors"
	"fmt"
	"sort"
	"syscall"

	"github.com/jmake/jmake/internal/store"
)

// What a build could not read from or write to its caches never fails it:
// a damaged object cache entry is a miss (the unit is compiled again and
// the good object stored over it), and an object, manifest or record that
// could not be written is compiled again next time. Both are said once,
// in the daemon's log and in the build's warnings, rather than once per
// unit: a full disk would otherwise repeat itself a thousand times.

// writeFault counts the failed writes of one kind in a build.
type writeFault struct {
	n     int
	first error
}

// cacheReadFailed reports an object cache entry that could not be
// restored to obj. A damaged one was removed by the store; the caller
// goes on as on a miss, and makes obj again.
func (b *build) cacheReadFailed(obj string, err error) {
	if !store.IsCorrupt(err) {
		b.e.log.Warn("cached object not restored", "object", obj, "err", err)
		return
	}
	b.e.log.Warn(fmt.Sprintf("[CACHE] %v; removed it, making %s again", err, obj))
	b.warn(fmt.Sprintf("jmake: %v; removed it and made %s again", err, obj))
}

// writeFailed records that what (the object cache, the manifests, the
// build state) could not be written.
func (b *build) writeFailed(what string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.writeFaults == nil {
		b.writeFaults = make(map[string]*writeFault)
	}
	f := b.writeFaults[what]
	if f == nil {
		f = &writeFault{first: err}
		b.writeFaults[what] = f
	}
	f.n++
}

// warn adds a line to the build's warnings.
func (b *build) warn(msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.warnings = append(b.warnings, msg)
}

// warningList is the build's warnings, with one line per kind of failed
// write, each also logged.
func (b *build) warningList() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	kinds := make([]string, 0, len(b.writeFaults))
	for k := range b.writeFaults {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	out := append([]string(nil), b.warnings...)
	for _, k := range kinds {
		f := b.writeFaults[k]
		msg := fmt.Sprintf("jmake: %d writes to the %s failed, the first: %v", f.n, k, f.first)
		if errors.Is(f.first, syscall.ENOSPC) {
			msg += " (ENOSPC: the disk is full; the build is complete, what was not stored is compiled again next time)"
		}
		b.e.log.Warn("[CACHE] " + msg)
		out = append(out, msg)
	}
	return out
}
