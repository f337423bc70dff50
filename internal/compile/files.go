package compile

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmake/jmake/internal/change"
)

// fileStat is what the fast path compares to decide that a file is
// unchanged without reading it: size, modification time in nanoseconds and
// inode (an editor that saves by rename gets a new inode even within one
// mtime tick). It is the part of change.ID this package persists, one per
// input and per object of every project (state.go, the Files memo): three
// varints a file.
type fileStat struct {
	size  int64
	mtime int64
	ino   uint64
}

// A content hash taken less than change.RacyWindow after the file's mtime is
// racy: the file could be written again within the same timestamp tick
// with the same size, and its stat would not show it. Such a hash is not
// trusted on the next build; the file is read again, and only a hash taken
// once the file is older than the window is trusted by stat alone.

// memoVersion is the first byte of a Files memo value.
const memoVersion = 1

// encodeMemo renders a Files memo value: stat, racy flag and content hash.
func encodeMemo(st fileStat, racy bool, h Hash) []byte {
	b := make([]byte, 0, 1+3*binary.MaxVarintLen64+1+len(h))
	b = append(b, memoVersion)
	b = binary.AppendVarint(b, st.size)
	b = binary.AppendVarint(b, st.mtime)
	b = binary.AppendUvarint(b, st.ino)
	if racy {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return append(b, h[:]...)
}

// decodeMemo parses a Files memo value; ok is false for anything malformed,
// which the caller treats as a miss.
func decodeMemo(b []byte) (st fileStat, racy bool, h Hash, ok bool) {
	r := reader{b: b}
	if r.byte() != memoVersion {
		return st, false, h, false
	}
	st.size = r.varint()
	st.mtime = r.varint()
	st.ino = r.uvarint()
	racy = r.byte() == 1
	h = r.hash()
	return st, racy, h, r.ok() && r.done()
}

// bufPool holds read buffers for hashing files.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// hashFile reads abs and returns its SHA-256 with the stat of the open file,
// taken before reading so that the stat never claims newer content than was
// hashed. The Files memo answers without reading when it holds a trusted
// hash for the same stat (st, from a stat just made by the caller).
func (e *Engine) hashFile(abs string, st fileStat) (Hash, fileStat, bool, error) {
	if v, ok := e.files.Peek(abs); ok {
		if mst, racy, h, ok := decodeMemo(v); ok && mst == st && !racy {
			return h, st, false, nil
		}
	}
	f, err := os.Open(abs)
	if err != nil {
		return Hash{}, fileStat{}, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Hash{}, fileStat{}, false, err
	}
	if fi.IsDir() {
		return Hash{}, fileStat{}, false, fmt.Errorf("%s is a directory", abs)
	}
	fst := statOf(fi)
	bp := bufPool.Get().(*[]byte)
	hh := sha256.New()
	_, err = io.CopyBuffer(hh, f, *bp)
	bufPool.Put(bp)
	if err != nil {
		return Hash{}, fileStat{}, false, fmt.Errorf("read %s: %w", abs, err)
	}
	var h Hash
	hh.Sum(h[:0])
	racy := change.Racy(fst.mtime, time.Now().UnixNano())
	e.filesHashed.Add(1)
	if err := e.files.Put(abs, encodeMemo(fst, racy, h)); err != nil {
		e.log.Warn("file hash memo not saved", "file", abs, "err", err)
	}
	return h, fst, racy, nil
}

// curFile is one file as this build sees it: stat'ed and hashed at most once.
type curFile struct {
	once sync.Once
	st   fileStat
	hash Hash
	err  error // the file is missing or unreadable
	at   int64 // unix ns when it was stat'ed
}

// view is a build's look at the files of one project: every distinct path is
// stat'ed once, and read and hashed at most once, whichever unit asks first.
// Paths are interned in the project's file table, which persists between
// builds with the last stat and hash of each file.
type view struct {
	e  *Engine
	st *projectState

	mu  sync.Mutex // guards st.files, st.index and extra once compiles run (see compute)
	cur []curFile  // entries for st.files[:len(cur)] (the table at build start)
	// changed[i] is set when file i's content is not the hash the table
	// held at the start of the build (or it is missing); written by
	// resolveAll, read after it.
	changed []bool
	extra   map[int32]*curFile
}

func newView(e *Engine, st *projectState) *view {
	n := len(st.files)
	if cap(st.curBuf) >= n {
		st.curBuf = st.curBuf[:n]
		clear(st.curBuf)
	} else {
		st.curBuf = make([]curFile, n, n+n/4)
	}
	if cap(st.changedBuf) >= n {
		st.changedBuf = st.changedBuf[:n]
		clear(st.changedBuf)
	} else {
		st.changedBuf = make([]bool, n, n+n/4)
	}
	return &view{e: e, st: st, cur: st.curBuf, changed: st.changedBuf}
}

// lookup returns the table index of path, adding it if it is new.
func (v *view) lookup(path string) int32 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.st.internLocked(path)
}

func (v *view) entry(idx int32) *curFile {
	if int(idx) < len(v.cur) {
		return &v.cur[idx]
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	cf := v.extra[idx]
	if cf == nil {
		if v.extra == nil {
			v.extra = make(map[int32]*curFile)
		}
		cf = new(curFile)
		v.extra[idx] = cf
	}
	return cf
}

// resolve stats (and if needed hashes) table entry idx, once per build.
func (v *view) resolve(idx int32) *curFile {
	cf := v.entry(idx)
	cf.once.Do(func() { v.compute(idx, cf, time.Now().UnixNano()) })
	return cf
}

// resolvePath is lookup followed by resolve.
func (v *view) resolvePath(path string) (int32, *curFile) {
	idx := v.lookup(path)
	return idx, v.resolve(idx)
}

// compute stats and if needed hashes file idx into cf. Entries of the table
// as it was at the start of the build are computed by resolveAll, before
// anything can add to the table, so they need no lock; later entries are
// computed while compiles add files, under mu.
func (v *view) compute(idx int32, cf *curFile, now int64) {
	locked := int(idx) >= len(v.cur)
	if locked {
		v.mu.Lock()
	}
	rec := v.st.files[idx] // a copy: the table may grow meanwhile
	if locked {
		v.mu.Unlock()
	}
	cf.at = now
	changed := true
	if int(idx) < len(v.changed) {
		defer func() { v.changed[idx] = changed }()
	}
	st, err := statCPath(rec.abs, rec.cabs)
	if err != nil {
		cf.err = err
		return
	}
	cf.st = st
	if rec.known && rec.st == st && !rec.racy {
		cf.hash, changed = rec.hash, false
		return
	}
	h, hst, racy, err := v.e.hashFile(rec.abs, st)
	if err != nil {
		cf.err = err
		return
	}
	cf.st, cf.hash = hst, h
	changed = !rec.known || h != rec.hash
	if locked {
		v.mu.Lock()
		defer v.mu.Unlock()
	}
	f := &v.st.files[idx]
	f.st, f.hash, f.racy, f.known = hst, h, racy, true
}

// resolveAll resolves every file of the table as it was at the start of the
// build and runs extra(i) for i in [0, nExtra), spread over workers
// goroutines. Stat'ing is system-call bound, so a second core halves it.
func (v *view) resolveAll(workers, nExtra int, extra func(i int)) {
	n := len(v.cur)
	now := time.Now().UnixNano()
	parallelFor(n+nExtra, workers, func(i int) {
		if i < n {
			cf := &v.cur[i]
			cf.once.Do(func() { v.compute(int32(i), cf, now) })
			return
		}
		extra(i - n)
	})
}

// parallelChunk is how many items a worker takes at a time: large enough
// that the shared counter is not contended, small enough to balance.
const parallelChunk = 64

// parallelFor calls fn(i) for every i in [0, n) on up to workers goroutines
// and returns when all calls have.
func parallelFor(n, workers int, fn func(i int)) {
	if workers > (n+parallelChunk-1)/parallelChunk {
		workers = (n + parallelChunk - 1) / parallelChunk
	}
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				start := int(next.Add(parallelChunk)) - parallelChunk
				if start >= n {
					return
				}
				for i := start; i < min(start+parallelChunk, n); i++ {
					fn(i)
				}
			}
		})
	}
	wg.Wait()
}

// absPath is p made absolute against root.
func absPath(root, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(root, p)
}

// cString is s NUL-terminated, for statCPath.
func cString(s string) []byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b
}
