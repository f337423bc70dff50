package discovery

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/jmake/jmake/internal/change"
)

// fileFacts is what scanning one file's text tells: its include
// directives and whether it defines main. It depends on the content only,
// so it is cached by content hash and shared by every copy of a file.
type fileFacts struct {
	Includes []includeLine `json:"includes,omitempty"`
	HasMain  bool          `json:"has_main,omitempty"`
}

// factsVersion salts the facts cache keys: bump it when scanIncludes
// changes what it finds, so facts scanned by an older version are misses.
const factsVersion = "1"

// statRecord maps a path's identity to its content hash, the fast path
// that spares re-reading unchanged files (ninja and ccache's direct mode
// do the same).
type statRecord struct {
	ID         change.ID `json:"id"`
	Hash       string    `json:"hash"`
	ObservedNS int64     `json:"observed_ns"` // the file matched ID and Hash at this time
}

func factsKey(hash string) string { return "facts" + factsVersion + ":" + hash }
func statKey(abs string) string   { return "stat:" + abs }

// facts returns the facts of the file at abs. The file is read only when
// its identity differs from the one recorded with its content hash (or is
// too recent to prove anything); it is parsed only when no file with the
// same content was parsed before. parsed reports the latter.
func (d *Discovery) facts(abs string) (f fileFacts, parsed bool, err error) {
	observed := time.Now().UnixNano()
	id, fi, err := change.Stat(abs)
	if err != nil {
		return fileFacts{}, false, err
	}
	if !fi.Mode().IsRegular() {
		return fileFacts{}, false, fmt.Errorf("%s: not a regular file", abs)
	}
	d.factsMu.Lock()
	m, ok := d.factsMem[abs]
	d.factsMu.Unlock()
	if ok && m.ID == id && !change.Racy(id.MtimeNS, m.ObservedNS) {
		d.depStats.hit(true)
		return m.Facts, false, nil
	}
	var rec statRecord
	known := getJSON(d.deps, statKey(abs), &rec) && rec.ID == id
	if known && !change.Racy(id.MtimeNS, rec.ObservedNS) {
		if getJSON(d.deps, factsKey(rec.Hash), &f) {
			d.depStats.hit(true)
			d.memoFacts(abs, id, rec.ObservedNS, f)
			return f, false, nil
		}
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return fileFacts{}, false, err
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	// Record the identity unless nothing new would be learnt: same
	// identity, same content, and no more settled than before.
	if !known || rec.Hash != hash || change.Racy(id.MtimeNS, rec.ObservedNS) && !change.Racy(id.MtimeNS, observed) {
		d.putJSON(d.deps, statKey(abs), statRecord{ID: id, Hash: hash, ObservedNS: observed})
	}
	if getJSON(d.deps, factsKey(hash), &f) {
		d.depStats.hit(true)
		d.memoFacts(abs, id, observed, f)
		return f, false, nil
	}
	d.depStats.hit(false)
	f.Includes, f.HasMain = scanIncludes(data)
	d.putJSON(d.deps, factsKey(hash), f)
	d.memoFacts(abs, id, observed, f)
	return f, true, nil
}

// factsMemo is the decoded facts of a path with the identity they were
// read at: the deps cache holds the same, but decoding it costs more than
// the stat that validates it.
type factsMemo struct {
	ID         change.ID
	ObservedNS int64
	Facts      fileFacts
}

func (d *Discovery) memoFacts(abs string, id change.ID, observed int64, f fileFacts) {
	d.factsMu.Lock()
	d.factsMem[abs] = factsMemo{ID: id, ObservedNS: observed, Facts: f}
	d.factsMu.Unlock()
}
