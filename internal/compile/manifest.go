package compile

import (
	"encoding/binary"
	"encoding/hex"
)

// A manifest, in the Manifests map under a direct key's hex, lists the
// compiles seen for one (compiler, flags, source path, source content): for
// each, the headers the compiler reported with their content hashes, and
// the action id whose object the cache holds. It is ccache's direct mode
// manifest. Binary form:
//
//	version byte
//	uvarint number of candidates, then per candidate:
//	    action id (32 bytes), uvarint number of headers,
//	    per header: uvarint length, path, content hash (32 bytes),
//	    uvarint length, the compiler's output (version 2 on)
//
// The compiler's output (warnings) is kept so that a unit restored from the
// cache shows the warnings its compile printed, as ccache replays them.
// Version 1 manifests, without it, are still read.

const manifestVersion = 2

// maxCandidates bounds a manifest. One direct key gathers candidates when
// headers change while the source does not (switching branches, editing a
// header back and forth); the newest few cover that, and a bound keeps a
// hot header's manifests from growing with every edit.
const maxCandidates = 8

// candidate is one entry of a manifest.
type candidate struct {
	action ActionID
	deps   []depEntry
	output string // what the compiler printed, verbatim
}

func encodeManifest(cands []candidate) []byte {
	n := 1 + binary.MaxVarintLen64
	for _, c := range cands {
		n += 32 + binary.MaxVarintLen64
		for _, d := range c.deps {
			n += binary.MaxVarintLen64 + len(d.path) + 32
		}
		n += binary.MaxVarintLen64 + len(c.output)
	}
	b := make([]byte, 0, n)
	b = append(b, manifestVersion)
	b = binary.AppendUvarint(b, uint64(len(cands)))
	for _, c := range cands {
		b = append(b, c.action[:]...)
		b = binary.AppendUvarint(b, uint64(len(c.deps)))
		for _, d := range c.deps {
			b = appendString(b, d.path)
			b = append(b, d.hash[:]...)
		}
		b = appendString(b, c.output)
	}
	return b
}

// decodeManifest parses a manifest; a malformed one yields no candidates
// (a miss), never a crash.
func decodeManifest(b []byte) []candidate {
	r := reader{b: b}
	version := r.byte()
	if version != 1 && version != manifestVersion {
		return nil
	}
	n := r.uvarint()
	if !r.ok() || n > uint64(len(b)) {
		return nil
	}
	cands := make([]candidate, 0, n)
	for range n {
		c := candidate{action: ActionID(r.hash())}
		nd := r.uvarint()
		if !r.ok() || nd > uint64(len(b)) {
			return nil
		}
		c.deps = make([]depEntry, 0, nd)
		for range nd {
			p := r.string()
			h := r.hash()
			c.deps = append(c.deps, depEntry{path: p, hash: h})
		}
		if version >= 2 {
			c.output = r.string()
		}
		if !r.ok() {
			return nil
		}
		cands = append(cands, c)
	}
	if !r.done() {
		return nil
	}
	return cands
}

// manifestCandidates returns the candidates recorded for a direct key.
func (e *Engine) manifestCandidates(dk Hash) []candidate {
	v, ok := e.manifests.Get(hex.EncodeToString(dk[:]))
	if !ok {
		return nil
	}
	return decodeManifest(v)
}

// addCandidate puts c first in dk's manifest, replacing an entry with the
// same action id and dropping the oldest beyond maxCandidates. An error
// is the manifest's failed write: the entry is in memory regardless.
func (e *Engine) addCandidate(dk Hash, c candidate) error {
	key := hex.EncodeToString(dk[:])
	e.manifestMu.Lock()
	defer e.manifestMu.Unlock()
	var old []candidate
	if v, ok := e.manifests.Peek(key); ok {
		old = decodeManifest(v)
	}
	cands := make([]candidate, 0, len(old)+1)
	cands = append(cands, c)
	for _, o := range old {
		if o.action != c.action && len(cands) < maxCandidates {
			cands = append(cands, o)
		}
	}
	return e.manifests.Put(key, encodeManifest(cands))
}
