package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/testenv"
)

// chaosTrials is how many times each kind of damage is tried: a few in
// the default suite (each trial is two builds), JMAKE_CHAOS_LONG=1 for
// the full run docs/reliability.md reports.
func chaosTrials() int {
	if os.Getenv("JMAKE_CHAOS_LONG") == "1" {
		return 20
	}
	return 5
}

// chaosSetup starts a chaos test: the number of trials, a random source
// (its seed logged), a generated project, the files of its clean
// --no-daemon build, and an Env whose daemons built it once (so the
// object cache holds every object).
func chaosSetup(t *testing.T) (int, *rand.Rand, string, map[string][]byte, *testenv.Env) {
	trials := chaosTrials()
	seed := chaosSeed(t)
	t.Logf("%d trials of each damage; JMAKE_CHAOS_SEED=%d replays them", trials, seed)
	proj := testenv.GenProject(t, 12)
	ref := testenv.New(t) // its own state: nothing cached
	ref.MustRun("build", "--no-daemon", proj)
	want := buildFiles(t, proj)
	e := testenv.New(t)
	e.MustRun("build", "--clean", proj)
	sameFiles(t, "first build", want, buildFiles(t, proj))
	return trials, rand.New(rand.NewPCG(seed, 0)), proj, want, e
}

// chaosSeed is the random seed of a chaos test, from JMAKE_CHAOS_SEED to
// replay a run, else the clock; the test logs it.
func chaosSeed(t *testing.T) uint64 {
	if s := os.Getenv("JMAKE_CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("JMAKE_CHAOS_SEED=%q: %v", s, err)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

// buildFiles reads every file of dir's build directory but jmake's own
// hidden ones: the objects, the library, compile_commands.json.
func buildFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := make(map[string][]byte)
	root := filepath.Join(dir, "build")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			out[rel] = b
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameFiles fails the test unless got holds exactly want's files with
// want's bytes.
func sameFiles(t *testing.T, when string, want, got map[string][]byte) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Fatalf("%s: build/%s is missing", when, name)
		}
		if !bytes.Equal(g, w) {
			t.Fatalf("%s: build/%s differs from the clean --no-daemon build's (%d vs %d bytes)", when, name, len(g), len(w))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Fatalf("%s: build/%s is not in the clean --no-daemon build", when, name)
		}
	}
}

// cacheEntries lists the object cache's entries.
func cacheEntries(t *testing.T, e *testenv.Env) []string {
	t.Helper()
	dir := filepath.Join(e.StateDir, "cache", "compilation", "objects")
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") && p != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	if len(out) == 0 {
		t.Fatalf("no entries in %s", dir)
	}
	return out
}

// damage flips one random bit of the file at p, or cuts it to a random
// shorter length, and says what it did.
func damage(t *testing.T, rng *rand.Rand, p string, truncate bool) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil || len(b) == 0 {
		t.Fatalf("read %s: %d bytes, %v", p, len(b), err)
	}
	if truncate {
		n := rng.IntN(len(b))
		if err := os.Truncate(p, int64(n)); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("cut %s from %d to %d bytes", filepath.Base(p), len(b), n)
	}
	i, bit := rng.IntN(len(b)), rng.IntN(8)
	b[i] ^= 1 << bit
	// Written in place, as a bad disk would: same inode, same size.
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteAt(b[i:i+1], int64(i))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("flipped bit %d of byte %d of %s (%d bytes)", bit, i, filepath.Base(p), len(b))
}

// corruptCount is the compilation daemon's count of damaged object cache
// entries.
func corruptCount(t *testing.T, e *testenv.Env) int64 {
	t.Helper()
	st, err := e.Lifecycle().Client("compilation").Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Caches["objects"].Corrupt
}

// logCount is how many times the log at path names s.
func logCount(path, s string) int {
	b, _ := os.ReadFile(path)
	return strings.Count(string(b), s)
}

// A damaged object cache entry, a bit flipped or the file cut short, never
// reaches a build: after each damage a clean build and an incremental one
// that restores objects exit 0 with the very bytes of a clean --no-daemon
// build, the entry is counted once, and the build and the daemon's log
// say which entry it was.
func TestChaosDamagedCacheEntries(t *testing.T) {
	trials, rng, proj, want, e := chaosSetup(t)
	logPath := filepath.Join(e.StateDir, "logs", "compilation.log")

	counted := corruptCount(t, e)
	for trial := range trials {
		for _, truncate := range []bool{false, true} {
			for _, clean := range []bool{true, false} {
				entries := cacheEntries(t, e)
				entry := entries[rng.IntN(len(entries))]
				logged := logCount(logPath, entry)
				what := damage(t, rng, entry, truncate)
				when := fmt.Sprintf("trial %d: %s, then a", trial, what)
				var r testenv.Result
				if clean {
					when += " clean build"
					r = e.Run("build", "--clean", proj)
				} else {
					// The objects go, the build state stays: an
					// incremental build restores every object.
					when += " build with build/obj removed"
					if err := os.RemoveAll(filepath.Join(proj, "build", "obj")); err != nil {
						t.Fatal(err)
					}
					r = e.Run("build", proj)
				}
				if r.Code != 0 {
					t.Fatalf("%s: exit %d\n%s\n%s", when, r.Code, r.Stdout, r.Stderr)
				}
				sameFiles(t, when, want, buildFiles(t, proj))
				if n := corruptCount(t, e); n != counted+1 {
					t.Fatalf("%s: the daemon counts %d damaged entries, want %d", when, n, counted+1)
				}
				counted++
				if strings.Count(r.Stderr, entry) != 1 || !strings.Contains(r.Stderr, "damaged") {
					t.Fatalf("%s: the build's warnings do not name %s once:\n%s", when, entry, r.Stderr)
				}
				if _, err := os.Stat(entry); err != nil {
					t.Fatalf("%s: the unit compiled again was not stored again: %v", when, err)
				}
				if n := logCount(logPath, entry) - logged; n != 1 {
					t.Fatalf("%s: %s names %s %d times, want once", when, logPath, entry, n)
				}
				// And the next build finds nothing to do, with the same bytes.
				r = e.MustRun("build", proj)
				if strings.Contains(r.Stderr, "damaged") {
					t.Fatalf("%s: the next build warns again:\n%s", when, r.Stderr)
				}
				sameFiles(t, when+", then a no-op build", want, buildFiles(t, proj))
			}
		}
	}
	e.MustRun("stop")
}

// A bit flipped in any daemon's persisted cache log (the compile state,
// manifests, file hashes, discovery's scans, setup's configs, ...) while
// the daemons are stopped is found at the next start by the records'
// checksums: the damaged record and what follows it are dropped, counted
// and logged, and the build is still byte for byte a clean one.
func TestChaosDamagedCacheLogs(t *testing.T) {
	trials, rng, proj, want, e := chaosSetup(t)
	for trial := range trials {
		logs, _ := filepath.Glob(filepath.Join(e.StateDir, "cache", "*", "*.log"))
		var big []string
		for _, p := range logs {
			if fi, err := os.Stat(p); err == nil && fi.Size() > 8 { // more than a header
				big = append(big, p)
			}
		}
		if len(big) == 0 {
			t.Fatalf("no cache logs with records in %s", e.StateDir)
		}
		e.MustRun("stop")
		p := big[rng.IntN(len(big))]
		what := damage(t, rng, p, false)
		daemonName := filepath.Base(filepath.Dir(p))
		cache := strings.TrimSuffix(filepath.Base(p), ".log")
		when := fmt.Sprintf("trial %d: %s (%s's %s), then a build", trial, what, daemonName, cache)
		logPath := filepath.Join(e.StateDir, "logs", daemonName+".log")
		damagedLogged := func() int { return logCount(logPath, "damaged tail") + logCount(logPath, "moved it to") }
		before := damagedLogged()

		r := e.Run("build", proj)
		if r.Code != 0 {
			t.Fatalf("%s: exit %d\n%s\n%s", when, r.Code, r.Stdout, r.Stderr)
		}
		sameFiles(t, when, want, buildFiles(t, proj))
		st, err := e.Lifecycle().Client(daemonName).Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n := st.Caches[cache].Corrupt; n != 1 {
			t.Fatalf("%s: %s counts %d damaged records in %s, want 1", when, daemonName, n, cache)
		}
		if damagedLogged() != before+1 {
			t.Fatalf("%s: %s does not say once that the cache was damaged", when, logPath)
		}
		r = e.MustRun("build", "--clean", proj)
		sameFiles(t, when+", then a clean build", want, buildFiles(t, proj))
	}
	e.MustRun("stop")
}
