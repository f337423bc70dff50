package store

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Objects is a content-addressed store of files under dir/<ab>/<id>, where
// id is a lowercase hex digest chosen by the caller. Files are written to a
// temp file in the same directory and renamed into place, so a reader (in
// this or another process) sees a whole object or none. Each file is an
// entry (entry.go): the object behind the digest of its content, which
// every read checks, so that damage on disk is a miss, never an object.
type Objects struct {
	dir      string
	maxBytes int64

	// The store's size, counted by a walk of the directory at the first
	// Stats or Trim and kept up to date by this process's puts, trims and
	// clears, so that a /metrics scrape does not walk a million files.
	// Another process writing the same store (the other instance during a
	// rolling restart) makes them approximate until the next Trim.
	mu      sync.Mutex // guards size and entries
	size    int64      // bytes stored; -1 until first counted
	entries int        // objects stored; -1 until first counted

	corrupt atomic.Int64 // damaged entries found by reads (discard)

	spareMu     sync.Mutex
	spares      []string // names in dir/.spare not yet taken
	sparesReady bool     // spares was read from disk
	spareSeq    int      // makes claimed spares' names unique
}

// ObjectsDir is the object store's directory inside the compilation
// daemon's cache directory.
const ObjectsDir = "objects"

// spareDir holds, inside the store, empty files that a cleared store left
// behind (RemoveCache) for puts to fill instead of creating files.
const spareDir = ".spare"

// OpenObjects opens (creating) an object store. maxBytes <= 0 means no limit.
func OpenObjects(dir string, maxBytes int64) (*Objects, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("object store: %w", err)
	}
	return &Objects{dir: dir, maxBytes: maxBytes, size: -1, entries: -1}, nil
}

// Dir is the store's root directory.
func (o *Objects) Dir() string { return o.dir }

// Path is where the object id lives (whether or not it exists).
func (o *Objects) Path(id string) string {
	if len(id) < 3 {
		return filepath.Join(o.dir, "xx", id)
	}
	return filepath.Join(o.dir, id[:2], id)
}

// mtimeGranularity: an object's mtime records its last use for trimming,
// but refreshing it on every hit would cost a syscall per object per build,
// so it is refreshed only when older than this (cmd/go does the same).
const mtimeGranularity = time.Hour

// Has reports whether id is stored, and marks it used.
func (o *Objects) Has(id string) bool {
	p := o.Path(id)
	fi, err := os.Stat(p)
	if err != nil {
		return false
	}
	if time.Since(fi.ModTime()) > mtimeGranularity {
		now := time.Now()
		os.Chtimes(p, now, now)
	}
	return true
}

// PutFile stores a copy of the file src as id and returns the digest of
// its content, which every later read of the entry checks (see Verify).
func (o *Objects) PutFile(id, src string) (Digest, error) {
	in, err := os.Open(src)
	if err != nil {
		return Digest{}, fmt.Errorf("object store: %w", err)
	}
	defer in.Close()
	return o.put(id, in)
}

// PutBytes stores data as id and returns the digest of data.
func (o *Objects) PutBytes(id string, data []byte) (Digest, error) {
	return o.put(id, bytes.NewReader(data))
}

// put writes an entry: a header with room for the digest, the content
// hashed on its way, then the digest written into the header. The entry
// is renamed into place only once whole.
func (o *Objects) put(id string, r io.Reader) (Digest, error) {
	dst := o.Path(id)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return Digest{}, fmt.Errorf("object store: %w", err)
	}
	f, err := o.createTemp(filepath.Dir(dst))
	if err != nil {
		return Digest{}, fmt.Errorf("object store: %w", err)
	}
	var sum Digest
	h := sha256.New()
	buf := copyBufs.Get().(*[]byte)
	_, err = f.Write(make([]byte, EntryHeaderLen))
	var n int64
	if err == nil {
		n, err = io.CopyBuffer(onlyWriter{io.MultiWriter(f, h)}, onlyReader{r}, *buf)
	}
	copyBufs.Put(buf)
	if err == nil {
		h.Sum(sum[:0])
		_, err = f.WriteAt(EntryHeader(sum), 0)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	n += int64(EntryHeaderLen)
	old, statErr := os.Lstat(dst) // an object put again replaces itself
	if err == nil {
		err = os.Rename(f.Name(), dst)
	}
	if err != nil {
		os.Remove(f.Name())
		return Digest{}, fmt.Errorf("object store: put %s: %w", dst, err)
	}
	o.mu.Lock()
	if statErr == nil {
		n -= old.Size()
	} else if o.entries >= 0 {
		o.entries++
	}
	if o.size >= 0 {
		o.size += n
	}
	o.mu.Unlock()
	return sum, nil
}

// copyBufs are the buffers of puts and restores. A C object is a few
// kilobytes to a few tens; 64 KiB holds most whole, and costs little to
// allocate again after a collection empties the pool.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// onlyWriter and onlyReader hide an *os.File's ReadFrom and WriteTo from
// io.CopyBuffer, which would otherwise copy through a buffer of their own
// when the other side is not a file or a socket.
type (
	onlyWriter struct{ io.Writer }
	onlyReader struct{ io.Reader }
)

// createTemp opens a new empty temp file in dir: a spare when one is left,
// else a new file. A spare is claimed by renaming it into dir, which only
// one process can do, so two processes sharing the store (the instances of
// a rolling restart) never write the same file.
func (o *Objects) createTemp(dir string) (*os.File, error) {
	for {
		spare := o.takeSpare()
		if spare == "" {
			return os.CreateTemp(dir, ".tmp-*")
		}
		o.spareMu.Lock()
		o.spareSeq++
		tmp := filepath.Join(dir, fmt.Sprintf(".tmp-spare-%d-%d", os.Getpid(), o.spareSeq))
		o.spareMu.Unlock()
		if os.Rename(spare, tmp) != nil {
			continue // taken by the other process, or gone
		}
		f, err := openSpare(tmp)
		if err == nil {
			if err = f.Truncate(0); err == nil {
				return f, nil
			}
			f.Close()
		}
		os.Remove(tmp)
	}
}

// openSpare opens a file to overwrite, which must be a regular file with
// one link: a spare is never written through a symlink (O_NOFOLLOW), never
// waited on as a FIFO that took its name (O_NONBLOCK), and never written
// into a file that another name shares. Any failure is errNotSpare.
func openSpare(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, errNotSpare
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || linkCount(fi) != 1 {
		f.Close()
		return nil, errNotSpare
	}
	return f, nil
}

// takeSpare returns a spare file's path, or "" when none is left. The
// spare directory is read at the first put.
func (o *Objects) takeSpare() string {
	o.spareMu.Lock()
	defer o.spareMu.Unlock()
	if !o.sparesReady {
		o.sparesReady = true
		if ents, err := os.ReadDir(filepath.Join(o.dir, spareDir)); err == nil {
			for _, e := range ents {
				if !e.IsDir() { // openSpare turns away what is not a plain file
					o.spares = append(o.spares, e.Name())
				}
			}
		}
	}
	n := len(o.spares)
	if n == 0 {
		return ""
	}
	name := o.spares[n-1]
	o.spares = o.spares[:n-1]
	return filepath.Join(o.dir, spareDir, name)
}

// CopyTo writes object id to dst (temp file + rename, so dst is never half
// written) and returns the digest of its content. It is a copy, never a
// hard link: compilers rewrite their outputs in place, which would corrupt
// a linked cache entry. The content is checked on the way (Verify): an
// entry that fails is removed from the store and the error is a
// *CorruptError, with dst untouched.
func (o *Objects) CopyTo(id, dst string) (Digest, error) {
	in, err := os.Open(o.Path(id))
	if err != nil {
		return Digest{}, fmt.Errorf("object store: %w", err)
	}
	defer in.Close()
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return Digest{}, err
	}
	sum, _, err := o.copyVerified(id, f, in)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), dst)
	}
	if err != nil {
		os.Remove(f.Name())
		if IsCorrupt(err) {
			return Digest{}, err
		}
		return Digest{}, fmt.Errorf("restore %s from cache: %w", dst, err)
	}
	return sum, nil
}

// copyVerified copies the content of entry id from in to w, checking it.
// A damaged entry is removed from the store (see discard). An entry that
// fits a buffer, as most objects do, is read in one read(2), checked and
// written in one write(2); a bigger one is streamed through Verify.
func (o *Objects) copyVerified(id string, w io.Writer, in *os.File) (Digest, int64, error) {
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	var (
		sum Digest
		n   int64
		err error
	)
	fi, err := in.Stat()
	if err == nil && fi.Size() <= int64(len(*buf)) {
		// Entries are never written in place: one that changed size
		// since the stat is damaged, and its digest says so.
		var m int
		m, err = io.ReadFull(in, (*buf)[:fi.Size()])
		if err == nil || err == io.EOF || err == io.ErrUnexpectedEOF {
			var content []byte
			content, sum, err = VerifyBytes(id, (*buf)[:m])
			if err == nil {
				var k int
				k, err = w.Write(content)
				n = int64(k)
			}
		}
	} else if err == nil {
		v := Verify(id, in)
		n, err = io.CopyBuffer(onlyWriter{w}, v, *buf)
		sum = v.Sum()
	}
	if err != nil {
		var ce *CorruptError
		if errors.As(err, &ce) {
			ce.Path = o.Path(id)
			o.discard(id)
		}
		return Digest{}, 0, err
	}
	return sum, n, nil
}

// discard removes a damaged entry, so that it is a miss from now on and
// the next put of id writes a good one, and counts it.
func (o *Objects) discard(id string) {
	p := o.Path(id)
	fi, statErr := os.Lstat(p)
	if err := os.Remove(p); err == nil && statErr == nil {
		o.mu.Lock()
		if o.size >= 0 {
			o.size -= fi.Size()
		}
		if o.entries > 0 {
			o.entries--
		}
		o.mu.Unlock()
	}
	o.corrupt.Add(1)
}

// Corrupt is the number of damaged entries found (and removed) since the
// store was opened.
func (o *Objects) Corrupt() int64 { return o.corrupt.Load() }

// CopyToReusing is CopyTo writing into spare, a file on dst's file system
// that is no longer needed (a file of a build directory being rebuilt),
// which is then renamed to dst: the restore neither allocates an inode nor
// frees one. That matters after a build directory was removed: ext4 skips
// inodes freed in the last minute or so when it allocates, so creating a
// thousand objects right after deleting a thousand took 150-600 ms here,
// and overwriting spares 30 ms. spare must be a regular file with one link;
// if it is not, or "" is given, or writing it fails, this is CopyTo (and a
// spare that was written to is removed). A damaged entry is a
// *CorruptError, as with CopyTo, and the spare is removed.
func (o *Objects) CopyToReusing(id, dst, spare string) (Digest, error) {
	if spare == "" {
		return o.CopyTo(id, dst)
	}
	sum, err := o.overwrite(id, spare)
	if err == nil {
		err = os.Rename(spare, dst)
	}
	if err != nil {
		if !errors.Is(err, errNotSpare) {
			os.Remove(spare)
		}
		if IsCorrupt(err) {
			return Digest{}, err
		}
		return o.CopyTo(id, dst)
	}
	return sum, nil
}

var errNotSpare = errors.New("not a regular file with one link")

// overwrite replaces spare's content with object id's, in place.
func (o *Objects) overwrite(id, spare string) (Digest, error) {
	in, err := os.Open(o.Path(id))
	if err != nil {
		return Digest{}, err
	}
	defer in.Close()
	f, err := openSpare(spare)
	if err != nil {
		return Digest{}, err
	}
	sum, n, err := o.copyVerified(id, f, in)
	if err == nil {
		err = f.Truncate(n)
	}
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return sum, err
}

// linkCount is fi's number of hard links (1 where the system does not say).
func linkCount(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// ObjectStats is the store's size.
type ObjectStats struct {
	Entries int   `json:"entries"`
	Bytes   int64 `json:"bytes"`
}

type objFile struct {
	path  string
	size  int64
	mtime time.Time
}

func (o *Objects) list() ([]objFile, error) {
	var out []objFile
	err := filepath.WalkDir(o.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Name()[0] == '.' && p != o.dir {
			if d.IsDir() {
				return filepath.SkipDir // the spares
			}
			return nil // a temp file
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		out = append(out, objFile{p, fi.Size(), fi.ModTime()})
		return nil
	})
	return out, err
}

// Stats is the store's size: counted on disk the first time, then kept
// up to date (see Objects.size).
func (o *Objects) Stats() (ObjectStats, error) {
	o.mu.Lock()
	s := ObjectStats{Entries: o.entries, Bytes: o.size}
	o.mu.Unlock()
	if s.Entries >= 0 && s.Bytes >= 0 {
		return s, nil
	}
	files, err := o.list()
	s = ObjectStats{}
	for _, f := range files {
		s.Entries++
		s.Bytes += f.size
	}
	if err == nil {
		o.mu.Lock()
		o.size, o.entries = s.Bytes, s.Entries
		o.mu.Unlock()
	}
	return s, err
}

// NeedsTrim reports whether the store may be over its size limit.
func (o *Objects) NeedsTrim() bool {
	if o.maxBytes <= 0 {
		return false
	}
	o.mu.Lock()
	size := o.size
	o.mu.Unlock()
	return size < 0 || size > o.maxBytes
}

// Trim removes least recently used objects until the store is at most 90%
// of its limit (the slack avoids trimming again after every put).
func (o *Objects) Trim() (removed int, err error) {
	if o.maxBytes <= 0 {
		return 0, nil
	}
	files, err := o.list()
	if err != nil {
		return 0, err
	}
	var total int64
	for _, f := range files {
		total += f.size
	}
	target := o.maxBytes / 10 * 9
	sort.Slice(files, func(i, j int) bool { return files[i].mtime.Before(files[j].mtime) })
	for _, f := range files {
		if total <= target {
			break
		}
		if os.Remove(f.path) == nil {
			total -= f.size
			removed++
		}
	}
	o.mu.Lock()
	o.size, o.entries = total, len(files)-removed
	o.mu.Unlock()
	return removed, nil
}

// Clear removes every object.
func (o *Objects) Clear() error {
	entries, err := os.ReadDir(o.dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(o.dir, e.Name())); err != nil {
			return err
		}
	}
	o.mu.Lock()
	o.size, o.entries = 0, 0
	o.mu.Unlock()
	o.spareMu.Lock()
	o.spares, o.sparesReady = nil, true // removed with the rest
	o.spareMu.Unlock()
	return nil
}

// maxSpares bounds the spare files a store keeps (empty files: an inode
// each, no data).
const maxSpares = 1 << 16

// RemoveCache deletes a daemon's cache directory dir while the daemon is
// stopped (`jmake restart --clean`), except that the files of the object
// store at dir/ObjectsDir are emptied and kept as spares, up to maxSpares.
//
// The point is the next cold build. On ext4 without a journal, allocating
// an inode skips every inode of its group freed in the last minute (five,
// while the inode table is not yet written back). A cold build right after
// deleting a thousand cache entries then stepped over about a thousand
// inodes for each of its thousand new entries: 0.3-0.6 s of the compile
// daemon's CPU here, out of 1.2-1.5 s. Overwriting spares frees and
// allocates none.
//
// Spares are safe to overwrite only because no daemon runs: a reader of
// an entry that had been moved aside would see the new content.
func RemoveCache(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if e.Name() == ObjectsDir && e.IsDir() {
			if err := keepSpares(p); err != nil {
				return err
			}
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}

// keepSpares empties the object store at dir into spares: each object is
// truncated and moved to dir/.spare; temp files are removed. The fan-out
// directories stay, empty, for the puts to come.
func keepSpares(dir string) error {
	sd := filepath.Join(dir, spareDir)
	if err := os.MkdirAll(sd, 0o700); err != nil {
		return err
	}
	have, err := os.ReadDir(sd)
	if err != nil {
		return err
	}
	n := len(have)
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == sd {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		if d.Name()[0] == '.' || !d.Type().IsRegular() || n >= maxSpares {
			return os.Remove(p)
		}
		// Truncated first, so that a spare never holds an object's bytes
		// under the spare directory (nor its disk space).
		if err := os.Truncate(p, 0); err != nil {
			return os.Remove(p)
		}
		if err := os.Rename(p, filepath.Join(sd, d.Name())); err != nil {
			return os.Remove(p)
		}
		n++
		return nil
	})
}
