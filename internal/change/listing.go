package change

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// A directory's identity moves whenever an entry is created, removed or
// renamed in it, including when an editor saves a file by writing a temp
// file beside it and renaming it over the file (sed -i, vim, most IDEs):
// the directory then lists the same names as before, yet its mtime and
// ctime say it changed. What a scan or a validation reads from a directory
// is its listing: the names in it and what kind of file each is. So a
// directory whose identity moved is re-read (one readdir, not a walk) and
// counts as unchanged when its listing hashes the same.

// Listing hashes what a directory's readers see of it: its mode (the
// permission bits decide whether they may read and enter it, and chmod
// moves its ctime like an entry does) and its entries, each name with its
// type bits (a directory, a regular file, a symbolic link...) and, for a
// symbolic link, its target, which decides what the link is to a reader
// that follows it. The order of ents does not matter; dir is the
// directory they were read from, mode its mode.
func Listing(dir string, mode os.FileMode, ents []os.DirEntry) string {
	// Sorted as plain structs: sorting the DirEntry interfaces costs as
	// much as reading the directory; so would a hash write per entry.
	type entry struct {
		name string
		typ  os.FileMode
	}
	es := make([]entry, len(ents))
	size := 0
	for i, e := range ents {
		es[i] = entry{e.Name(), e.Type()}
		size += len(es[i].name) + 8
	}
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	buf := strconv.AppendUint(make([]byte, 0, 16+size), uint64(mode), 10)
	buf = append(buf, 0)
	for _, e := range es {
		buf = append(buf, e.name...)
		buf = append(buf, 0)
		buf = strconv.AppendUint(buf, uint64(e.typ), 10)
		buf = append(buf, 0)
		if e.typ&os.ModeSymlink != 0 {
			target, _ := os.Readlink(filepath.Join(dir, e.name))
			buf = append(append(buf, target...), 0)
		}
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:16])
}

// ReadListing returns the identity of the directory at dir (following a
// symbolic link) and its Listing. It stats before it reads: an entry
// added in between then shows next time as an identity that moved again,
// whereas read first, stat second, the identity recorded could already
// include an entry the listing missed.
func ReadListing(dir string) (ID, string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return ID{}, "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ID{}, "", err
	}
	if !fi.IsDir() {
		return ID{}, "", fmt.Errorf("%s: not a directory", dir)
	}
	ents, err := f.ReadDir(-1)
	if err != nil {
		return ID{}, "", fmt.Errorf("read directory %s: %w", dir, err)
	}
	return IDOf(fi), Listing(dir, fi.Mode(), ents), nil
}

// SameDir reports whether two identities of a directory are the same
// directory (device and inode) and may differ only in what an entry
// created, removed or renamed in it moves: size, mtime and ctime. Then
// comparing its listings says whether its readers would see a change. A
// directory replaced by another of the same name is not the same one: it
// is treated as changed, whatever it lists.
func SameDir(was, now ID) bool {
	return was.Ino != 0 && was.Ino == now.Ino && was.Dev == now.Dev
}
