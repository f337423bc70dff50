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
