package store_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/jmake/jmake/internal/store"
	"github.com/jmake/jmake/internal/testenv"
)

// TestMapAppendOnFullDisk: an append that a full disk cuts short leaves no
// part of its record in the log (which frees the room it took), so what is
// appended next survives the next load.
func TestMapAppendOnFullDisk(t *testing.T) {
	dir := testenv.MountTmpfs(t, 256<<10)
	path := filepath.Join(dir, "c.log")
	m, rep := store.OpenMap("c", path)
	t.Cleanup(func() { m.Close() }) // before the unmount
	if rep.Warning != nil {
		t.Fatal(rep.Warning)
	}
	if err := m.Put("before", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	size := fi.Size()
	err := m.Put("big", bytes.Repeat([]byte{'x'}, 512<<10)) // more than the tmpfs holds
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Put on a full disk: %v, want ENOSPC", err)
	}
	if fi, _ := os.Stat(path); fi.Size() != size {
		t.Fatalf("the failed append left %d bytes in %s", fi.Size()-size, path)
	}
	if err := m.Put("after", []byte("room again")); err != nil {
		t.Fatal(err)
	}
	m.Close()
	m2, rep := store.OpenMap("c", path)
	t.Cleanup(func() { m2.Close() })
	if rep.Recovered != 0 || rep.Warning != nil || m2.Stats().Corrupt != 0 {
		t.Fatalf("reload: %+v", rep)
	}
	for k, want := range map[string]string{"before": "kept", "after": "room again"} {
		if v, ok := m2.Get(k); !ok || string(v) != want {
			t.Fatalf("%s after reload = %q, %v; want %q", k, v, ok, want)
		}
	}
}
