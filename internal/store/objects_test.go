package store

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// TestCopyToReusing: an object restored over a spare file has the object's
// bytes in the spare's inode; a spare that is a symlink or has a second
// link is never written, and the restore is a plain copy.
func TestCopyToReusing(t *testing.T) {
	dir := t.TempDir()
	o, err := OpenObjects(filepath.Join(dir, "objects"), 0)
	if err != nil {
		t.Fatal(err)
	}
	obj := []byte("the object's bytes")
	if err := o.PutBytes("abcdef", obj); err != nil {
		t.Fatal(err)
	}
	write := func(p, content string) {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	check := func(dst string) {
		t.Helper()
		got, err := os.ReadFile(dst)
		if err != nil || string(got) != string(obj) {
			t.Fatalf("%s holds %q (%v), want %q", dst, got, err, obj)
		}
		if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o644 {
			t.Fatalf("%s mode %v", dst, fi.Mode())
		}
	}

	// A spare longer than the object: its inode now holds exactly the object.
	spare := filepath.Join(dir, "old.o")
	write(spare, "a much longer old object file, longer than the new one")
	ino := inode(t, spare)
	dst := filepath.Join(dir, "new.o")
	if err := o.CopyToReusing("abcdef", dst, spare); err != nil {
		t.Fatal(err)
	}
	check(dst)
	if inode(t, dst) != ino {
		t.Fatal("the spare's inode was not reused")
	}
	if _, err := os.Lstat(spare); !os.IsNotExist(err) {
		t.Fatalf("spare still there: %v", err)
	}

	// A symlink as spare: its target is left alone.
	target := filepath.Join(dir, "precious")
	write(target, "keep me")
	link := filepath.Join(dir, "link.o")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	dst2 := filepath.Join(dir, "new2.o")
	if err := o.CopyToReusing("abcdef", dst2, link); err != nil {
		t.Fatal(err)
	}
	check(dst2)
	if b, _ := os.ReadFile(target); string(b) != "keep me" {
		t.Fatalf("symlink target overwritten: %q", b)
	}

	// A spare with a second hard link: the other name keeps its content.
	other := filepath.Join(dir, "other-name")
	hard := filepath.Join(dir, "hard.o")
	write(other, "shared content")
	if err := os.Link(other, hard); err != nil {
		t.Fatal(err)
	}
	dst3 := filepath.Join(dir, "new3.o")
	if err := o.CopyToReusing("abcdef", dst3, hard); err != nil {
		t.Fatal(err)
	}
	check(dst3)
	if b, _ := os.ReadFile(other); string(b) != "shared content" {
		t.Fatalf("hard-linked file overwritten: %q", b)
	}

	// A FIFO as spare (a name taken after the spares were listed): no
	// hang waiting for a reader, a plain copy.
	fifo := filepath.Join(dir, "fifo.o")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	dst5 := filepath.Join(dir, "new5.o")
	if err := o.CopyToReusing("abcdef", dst5, fifo); err != nil {
		t.Fatal(err)
	}
	check(dst5)

	// No spare: a plain copy.
	dst4 := filepath.Join(dir, "new4.o")
	if err := o.CopyToReusing("abcdef", dst4, ""); err != nil {
		t.Fatal(err)
	}
	check(dst4)
}

// TestObjectStatsKeptUpToDate: Stats walks the store once, then follows
// puts (new and replacing), trims and clears without walking again.
func TestObjectStatsKeptUpToDate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "objects")
	o, err := OpenObjects(dir, 1000)
	if err != nil {
		t.Fatal(err)
	}
	o.PutBytes("aa01", make([]byte, 100))
	want := func(entries int, bytes int64) {
		t.Helper()
		s, err := o.Stats()
		if err != nil || s.Entries != entries || s.Bytes != bytes {
			t.Fatalf("Stats = %+v, %v; want %d entries, %d bytes", s, err, entries, bytes)
		}
	}
	want(1, 100) // the first Stats walks
	o.PutBytes("bb02", make([]byte, 200))
	o.PutBytes("aa01", make([]byte, 150)) // replaces itself
	want(2, 350)

	// A file written behind the store's back is not seen without a walk:
	// Stats no longer walks.
	if err := os.MkdirAll(filepath.Join(dir, "cc"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cc", "cc03"), make([]byte, 50), 0o600); err != nil {
		t.Fatal(err)
	}
	want(2, 350)

	// Trim walks, and recounts: 2000 bytes put over a 1000-byte limit.
	o.PutBytes("dd04", make([]byte, 1600))
	if _, err := o.Trim(); err != nil {
		t.Fatal(err)
	}
	files, _ := o.list()
	var total int64
	for _, f := range files {
		total += f.size
	}
	want(len(files), total)
	if total > 900 {
		t.Fatalf("trim left %d bytes over a 1000-byte limit", total)
	}

	if err := o.Clear(); err != nil {
		t.Fatal(err)
	}
	want(0, 0)
}
