package change

import (
	"maps"
	"os"
	"syscall"
	"time"
)

// RacyWindow is how close to the moment it was observed a file's mtime may
// be before its stat stops proving, on its own, that the file is unchanged.
// A change made within the same timestamp tick as the observation leaves
// mtime (and maybe size) as they were: git's "racily clean" problem. Ticks
// are nanoseconds on ext4, xfs and tmpfs but one or two seconds on ext3,
// HFS+, FAT and some NFS servers, hence two seconds. A racy file is read
// again, which is correct, only slower; on a fine-grained file system it
// costs one extra read of a file edited just before a build.
const RacyWindow = 2 * time.Second

// Racy reports whether a file whose mtime is mtimeNS, observed (stat'ed or
// hashed) at observedNS, unix nanoseconds both, may have changed since
// without its stat showing it.
func Racy(mtimeNS, observedNS int64) bool {
	return mtimeNS > observedNS-int64(RacyWindow)
}

// ID is what a stat says about a file's identity: when any field differs,
// the file may have changed. ctime catches what mtime misses (a file
// rewritten in place and its mtime set back, as `cp -p` and tar do), the
// inode an editor's save by rename within one mtime tick. Off Linux and
// BSD only size and mtime are filled in. The zero ID stands for a file
// that does not exist.
type ID struct {
	Size    int64  `json:"size"`
	MtimeNS int64  `json:"mtime_ns"`
	CtimeNS int64  `json:"ctime_ns,omitempty"`
	Ino     uint64 `json:"ino,omitempty"`
	Dev     uint64 `json:"dev,omitempty"`
}

// IDOf extracts an ID from the result of os.Stat or os.Lstat.
func IDOf(fi os.FileInfo) ID {
	id := ID{Size: fi.Size(), MtimeNS: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.Ino = uint64(st.Ino)
		id.Dev = uint64(st.Dev) // Dev is int32 on some platforms
		id.CtimeNS = ctimeNS(st)
	}
	return id
}

// Stat returns the ID of the file at path, following symlinks, and its
// FileInfo.
func Stat(path string) (ID, os.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return ID{}, nil, err
	}
	return IDOf(fi), fi, nil
}

// Inputs records the identities of some files and directories at one
// moment, so that a memo computed from them can later ask whether any of
// them changed since. A directory's identity changes when an entry is
// added, removed or renamed in it, not when a file in it is written: record
// the files whose content matters and the directories whose listing does.
// A directory is recorded with its Listing too, and counts as unchanged
// while it lists the same entries, even when its identity moved (an
// editor's save by rename): only directories get this, since a file's
// identity is all that vouches for its content.
type Inputs struct {
	// AtNS is when the identities were taken, unix nanoseconds.
	AtNS int64 `json:"at_ns"`
	// IDs maps each path to its identity then; the zero ID for a path
	// that did not exist.
	IDs map[string]ID `json:"ids"`
	// Lists maps each path that was a directory to its Listing then.
	Lists map[string]string `json:"lists,omitempty"`
}

// Record stats every path now, and reads the listing of those that are
// directories. A path that cannot be stat'ed is recorded as missing; a
// directory that cannot be read, without a listing (any move of its
// identity is then a change).
func Record(paths ...string) Inputs {
	in := Inputs{AtNS: time.Now().UnixNano(), IDs: make(map[string]ID, len(paths)), Lists: make(map[string]string)}
	for _, p := range paths {
		if _, done := in.IDs[p]; done {
			continue // named twice (a source directory is also a listed one)
		}
		id, fi, err := Stat(p)
		if err == nil && fi.IsDir() {
			if lid, list, err := ReadListing(p); err == nil {
				id = lid
				in.Lists[p] = list
			}
		}
		in.IDs[p] = id
	}
	return in
}

// Changed reports the first recorded path that changed, and whether there
// is one: a file whose identity is not what it was, or that was racy when
// recorded (its stat cannot prove it unchanged); a directory that lists
// other entries, or was replaced. Inputs with nothing recorded have
// changed: they are a memo that was never made.
func (in Inputs) Changed() (string, bool) {
	_, p, changed := in.Verify()
	return p, changed
}

// Verify is Changed, and when nothing changed but a directory had to be
// re-read to prove it (its identity moved, or was too recent to trust),
// renewed holds the inputs to remember instead: the directories' new
// identities, observed as of the check, so that the next check is a stat
// again. renewed is nil when in is as good as it gets.
func (in Inputs) Verify() (renewed *Inputs, path string, changed bool) {
	if len(in.IDs) == 0 {
		return nil, "", true
	}
	// Every stat below is taken at or after start, so the whole set is
	// known to match at start: the observation time a renewal records.
	start := time.Now().UnixNano()
	var reread []string
	for p, was := range in.IDs {
		now, _, _ := Stat(p)
		racy := was != (ID{}) && Racy(was.MtimeNS, in.AtNS)
		if now == was && !racy {
			continue
		}
		if _, isDir := in.Lists[p]; !isDir || !SameDir(was, now) {
			return nil, p, true
		}
		reread = append(reread, p)
	}
	// Directories are re-read after every stat agreed: a change found by
	// a stat costs no readdir.
	var moved map[string]ID
	settles := false
	for _, p := range reread {
		was := in.IDs[p]
		now, list, err := ReadListing(p)
		if err != nil || !SameDir(was, now) || list != in.Lists[p] {
			return nil, p, true
		}
		if now != was {
			if moved == nil {
				moved = make(map[string]ID)
			}
			moved[p] = now
		}
		if !Racy(now.MtimeNS, start) {
			settles = true
		}
	}
	if moved == nil && !settles {
		return nil, "", false
	}
	r := Inputs{AtNS: start, IDs: maps.Clone(in.IDs), Lists: in.Lists}
	maps.Copy(r.IDs, moved)
	return &r, "", false
}
