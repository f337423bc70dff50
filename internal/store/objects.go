package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"
)

// Objects is a content-addressed store of files under dir/<ab>/<id>, where
// id is a lowercase hex digest chosen by the caller. Files are written to a
// temp file in the same directory and renamed into place, so a reader (in
// this or another process) sees a whole object or none.
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
}

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

// PutFile stores a copy of the file src as id.
func (o *Objects) PutFile(id, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("object store: %w", err)
	}
	defer in.Close()
	return o.put(id, in)
}

// PutBytes stores data as id.
func (o *Objects) PutBytes(id string, data []byte) error {
	return o.put(id, bytes.NewReader(data))
}

func (o *Objects) put(id string, r io.Reader) error {
	dst := o.Path(id)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("object store: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*")
	if err != nil {
		return fmt.Errorf("object store: %w", err)
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	old, statErr := os.Lstat(dst) // an object put again replaces itself
	if err == nil {
		err = os.Rename(f.Name(), dst)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("object store: put %s: %w", id, err)
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
	return nil
}

// CopyTo writes object id to dst (temp file + rename, so dst is never half
// written). It is a copy, never a hard link: compilers rewrite their outputs
// in place, which would corrupt a linked cache entry.
func (o *Objects) CopyTo(id, dst string) error {
	in, err := os.Open(o.Path(id))
	if err != nil {
		return fmt.Errorf("object store: %w", err)
	}
	defer in.Close()
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(f, in)
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
		return fmt.Errorf("restore %s from cache: %w", dst, err)
	}
	return nil
}

// CopyToReusing is CopyTo writing into spare, a file on dst's file system
// that is no longer needed (a file of a build directory being rebuilt),
// which is then renamed to dst: the restore neither allocates an inode nor
// frees one. That matters after a build directory was removed: ext4 skips
// inodes freed in the last minute or so when it allocates, so creating a
// thousand objects right after deleting a thousand took 150-600 ms here,
// and overwriting spares 30 ms. spare must be a regular file with one link;
// if it is not, or "" is given, or writing it fails, this is CopyTo (and a
// spare that was written to is removed).
func (o *Objects) CopyToReusing(id, dst, spare string) error {
	if spare == "" {
		return o.CopyTo(id, dst)
	}
	err := o.overwrite(id, spare)
	if err == nil {
		err = os.Rename(spare, dst)
	}
	if err != nil {
		if !errors.Is(err, errNotSpare) {
			os.Remove(spare)
		}
		return o.CopyTo(id, dst)
	}
	return nil
}

var errNotSpare = errors.New("not a regular file with one link")

// overwrite replaces spare's content with object id's, in place.
func (o *Objects) overwrite(id, spare string) error {
	in, err := os.Open(o.Path(id))
	if err != nil {
		return err
	}
	defer in.Close()
	// O_NOFOLLOW: never write through a symlink; O_NONBLOCK: never wait
	// on a FIFO that took the spare's name.
	f, err := os.OpenFile(spare, os.O_WRONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return errNotSpare
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || linkCount(fi) != 1 {
		f.Close()
		return errNotSpare
	}
	n, err := io.Copy(f, in)
	if err == nil {
		err = f.Truncate(n)
	}
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
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
		if d.IsDir() || d.Name()[0] == '.' {
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
	return nil
}
