package store

import (
	"fmt"
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
	if _, err := o.PutBytes("abcdef", obj); err != nil {
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
	if _, err := o.CopyToReusing("abcdef", dst, spare); err != nil {
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
	if _, err := o.CopyToReusing("abcdef", dst2, link); err != nil {
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
	if _, err := o.CopyToReusing("abcdef", dst3, hard); err != nil {
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
	if _, err := o.CopyToReusing("abcdef", dst5, fifo); err != nil {
		t.Fatal(err)
	}
	check(dst5)

	// No spare: a plain copy.
	dst4 := filepath.Join(dir, "new4.o")
	if _, err := o.CopyToReusing("abcdef", dst4, ""); err != nil {
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
	const h = int64(EntryHeaderLen)
	want(1, 100+h) // the first Stats walks
	o.PutBytes("bb02", make([]byte, 200))
	o.PutBytes("aa01", make([]byte, 150)) // replaces itself
	want(2, 350+2*h)

	// A file written behind the store's back is not seen without a walk:
	// Stats no longer walks.
	if err := os.MkdirAll(filepath.Join(dir, "cc"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cc", "cc03"), make([]byte, 50), 0o600); err != nil {
		t.Fatal(err)
	}
	want(2, 350+2*h)

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

// TestRemoveCacheKeepsSpares: `restart --clean` leaves an empty store whose
// old files the next puts fill (the same inodes) instead of creating files;
// everything else in the cache directory is gone, spares hold no bytes and
// count as no entries, and a spare that is not a plain file of its own is
// never written through.
func TestRemoveCacheKeepsSpares(t *testing.T) {
	cache := t.TempDir()
	objDir := filepath.Join(cache, "objects")
	o, err := OpenObjects(objDir, 0)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"aa01", "aa02", "bb03", "cc04"}
	old := map[uint64]bool{}
	for _, id := range ids {
		if _, err := o.PutBytes(id, []byte("old content of "+id)); err != nil {
			t.Fatal(err)
		}
		old[inode(t, o.Path(id))] = true
	}
	os.WriteFile(filepath.Join(cache, "manifests.log"), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(objDir, "aa", ".tmp-123"), []byte("half"), 0o600)

	if err := RemoveCache(cache); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cache, "manifests.log")); !os.IsNotExist(err) {
		t.Errorf("manifests.log kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(objDir, "aa", ".tmp-123")); !os.IsNotExist(err) {
		t.Errorf("temp file kept: %v", err)
	}
	spares, _ := os.ReadDir(filepath.Join(objDir, spareDir))
	if len(spares) != len(ids) {
		t.Fatalf("%d spares, want %d", len(spares), len(ids))
	}
	for _, s := range spares {
		if fi, _ := s.Info(); fi.Size() != 0 {
			t.Errorf("spare %s holds %d bytes", s.Name(), fi.Size())
		}
	}

	// A spare that is a symlink to a file outside, and one that shares
	// its inode with a file outside.
	outside := filepath.Join(t.TempDir(), "precious")
	os.WriteFile(outside, []byte("precious"), 0o600)
	os.Symlink(outside, filepath.Join(objDir, spareDir, "zz-link"))
	linked := filepath.Join(t.TempDir(), "linked")
	os.WriteFile(linked, []byte("linked"), 0o600)
	os.Link(linked, filepath.Join(objDir, spareDir, "zz-hard"))

	o, err = OpenObjects(objDir, 0) // the restarted daemon
	if err != nil {
		t.Fatal(err)
	}
	if st, err := o.Stats(); err != nil || st.Entries != 0 || st.Bytes != 0 {
		t.Fatalf("stats after clean = %+v, %v; want an empty store", st, err)
	}
	if o.Has("aa01") {
		t.Fatal("a cleared object is still found")
	}
	reused := 0
	for i := range 8 {
		id := fmt.Sprintf("dd%02d", i)
		if _, err := o.PutBytes(id, []byte("new "+id)); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(o.Path(id)); string(b[EntryHeaderLen:]) != "new "+id {
			t.Fatalf("%s holds %q", id, b)
		}
		if old[inode(t, o.Path(id))] {
			reused++
		}
	}
	if reused != len(ids) {
		t.Errorf("%d of %d spares reused by 8 puts", reused, len(ids))
	}
	if b, _ := os.ReadFile(outside); string(b) != "precious" {
		t.Errorf("written through a symlinked spare: %q", b)
	}
	if b, _ := os.ReadFile(linked); string(b) != "linked" {
		t.Errorf("written into a hard-linked spare: %q", b)
	}
	if st, _ := o.Stats(); st.Entries != 8 {
		t.Errorf("%d entries after 8 puts, want 8", st.Entries)
	}
	left, _ := os.ReadDir(filepath.Join(objDir, spareDir))
	if len(left) != 0 {
		t.Errorf("spares left: %v", left)
	}
	tmps, _ := filepath.Glob(filepath.Join(objDir, "*", ".tmp-*"))
	if len(tmps) != 0 {
		t.Errorf("temp files left: %v", tmps)
	}
}

// BenchmarkRestore restores objects of a typical C object's size over
// spare files, as a clean build with a warm cache does: the cost of
// checking each entry's digest on the way.
func BenchmarkRestore(b *testing.B) {
	dir := b.TempDir()
	o, err := OpenObjects(filepath.Join(dir, "objects"), 0)
	if err != nil {
		b.Fatal(err)
	}
	const n = 100
	obj := make([]byte, 4500) // the mean object of a generated 1000-unit project
	for i := range obj {
		obj[i] = byte(i * 7)
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%064x", i)
		if _, err := o.PutBytes(ids[i], obj); err != nil {
			b.Fatal(err)
		}
	}
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o755)
	b.SetBytes(int64(len(obj)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := ids[i%n]
		dst := filepath.Join(out, id[:8]+".o")
		if _, err := o.CopyToReusing(id, dst, dst); err != nil {
			b.Fatal(err)
		}
	}
}
