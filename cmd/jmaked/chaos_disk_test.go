package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/jmake/jmake/internal/store"
	"github.com/jmake/jmake/internal/testenv"
)

// The state directory on a 2 MiB tmpfs that fills while the object cache
// is being written: the build succeeds from its compiles, names ENOSPC and
// the path that could not be written, the daemons stay up, the cache
// holds no half-written entry, and once there is room again builds store
// objects as before.
func TestChaosStateDiskFull(t *testing.T) {
	state := testenv.MountTmpfs(t, 2<<20)
	proj := testenv.GenProject(t, 40)
	e := testenv.New(t)
	e.StateDir = state // before any process starts: cleanups kill what runs on it
	e.MustRun("start")
	pid := e.PID("compilation")

	// Leave the cache less room than the build's objects need (40 units
	// of 3-6 KB, a 4 KiB page or two each on tmpfs), so that it fills
	// halfway through.
	var fs syscall.Statfs_t
	if err := syscall.Statfs(state, &fs); err != nil {
		t.Fatal(err)
	}
	const room = 120 << 10
	free := int64(fs.Bavail) * int64(fs.Bsize)
	filler := filepath.Join(state, "filler")
	if err := os.WriteFile(filler, make([]byte, free-room), 0o600); err != nil {
		t.Fatal(err)
	}

	rep, r := buildJSON(t, e, proj)
	if r.Code != 0 || !rep.Success || rep.Compiled != rep.Units {
		t.Fatalf("build on a full disk: exit %d, %+v\n%s", r.Code, rep, r.Stderr)
	}
	objects := filepath.Join(state, "cache", "compilation", "objects")
	if !strings.Contains(r.Stderr, "ENOSPC") || !strings.Contains(r.Stderr, objects) {
		t.Fatalf("the build's warnings do not say that %s is full (ENOSPC):\n%s", objects, r.Stderr)
	}
	if n := strings.Count(r.Stderr, "object cache failed"); n != 1 {
		t.Fatalf("the full object cache is reported %d times, want once:\n%s", n, r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(proj, "build", "libdemo.so")); err != nil {
		t.Fatal(err)
	}
	if got := e.PID("compilation"); got != pid || !testenv.Alive(pid) {
		t.Fatalf("the compilation daemon (pid %d) did not stay up: now pid %d", pid, got)
	}
	stored := checkEntries(t, objects)
	if stored == 0 || stored >= rep.Units {
		t.Fatalf("%d of %d objects stored: the cache did not fill halfway", stored, rep.Units)
	}

	// Room again: a clean build restores what was stored, compiles and
	// stores the rest, and says nothing about the disk.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	rep, r = buildJSON(t, e, "--clean", proj)
	if r.Code != 0 || rep.Cached != stored || strings.Contains(r.Stderr, "ENOSPC") {
		t.Fatalf("clean build with room again: exit %d, %+v (want %d from cache)\n%s", r.Code, rep, stored, r.Stderr)
	}
	if n := checkEntries(t, objects); n != rep.Units {
		t.Fatalf("%d of %d objects stored with room again", n, rep.Units)
	}
	e.MustRun("stop")
}

// checkEntries verifies every entry of the object cache at dir and that
// no temp file is left, and returns the number of entries.
func checkEntries(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") {
				return fmt.Errorf("%s left behind", p) // spares only come of restart --clean
			}
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			return fmt.Errorf("%s left behind", p)
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.Copy(io.Discard, store.Verify(d.Name(), f)); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
