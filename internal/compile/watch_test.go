package compile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"testing"

	"github.com/fsnotify/fsnotify"
	"github.com/jmake/jmake/internal/change"
)

// The watched fast path answers a no-op without stats, and never hides a
// change: an edit right after a build (no pause: the cookie orders it), a
// deleted object, a deleted output, a touched header all go the full way.
func TestWatchedFastPath(t *testing.T) {
	root, te, _ := builtProject(t, 6, true)
	// The first build added watches, so the next one stats everything to
	// cover changes made while it ran; from then on no-ops are answered
	// by the watch.
	te.mustBuild(t, root, nil)
	fast := func() bool {
		_, ok := te.e.fast.Quiet(root)
		return ok
	}
	if !fast() {
		t.Fatal("fast path not armed after two builds")
	}
	before := te.e.CacheStats().WatchedNoops
	if o := te.mustBuild(t, root, nil); len(o.compiled)+len(o.cached) != 0 || o.linked || o.res.UpToDate != o.res.Units {
		t.Fatalf("fast no-op: %+v", o.res)
	}
	if got := te.e.CacheStats().WatchedNoops; got != before+1 {
		t.Fatalf("the no-op was not answered by the watch (watched no-ops %d -> %d)", before, got)
	}

	mod := filepath.Join(root, "src", "mod_0002.c")
	for i, step := range []struct {
		name    string
		change  func()
		compile []string
		cached  []string
		link    bool
	}{
		{"edit a source right after a build", func() {
			b, _ := os.ReadFile(mod)
			os.WriteFile(mod, []byte(strings.Replace(string(b), "= 0u; /* jm-edit */", "= 7u; /* jm-edit */", 1)), 0o644)
		}, []string{"src/mod_0002.c"}, nil, true},
		{"delete an object", func() {
			os.Remove(filepath.Join(root, "build", "obj", "src", "mod_0003.c.o"))
		}, nil, []string{"src/mod_0003.c"}, false},
		{"delete the output", func() {
			matches, _ := filepath.Glob(filepath.Join(root, "build", "lib*.so"))
			for _, m := range matches {
				os.Remove(m)
			}
		}, nil, nil, true},
		{"delete compile_commands.json", func() {
			os.Remove(filepath.Join(root, "build", "compile_commands.json"))
		}, nil, nil, false},
	} {
		// Bring the fast path back first.
		for range 3 {
			te.mustBuild(t, root, nil)
		}
		if !fast() {
			t.Fatalf("step %d (%s): fast path not armed", i, step.name)
		}
		step.change()
		o := te.mustBuild(t, root, nil)
		if strings.Join(o.compiled, ",") != strings.Join(step.compile, ",") ||
			strings.Join(o.cached, ",") != strings.Join(step.cached, ",") || o.linked != step.link {
			t.Fatalf("%s: compiled %v cached %v linked %v, want %v %v %v", step.name, o.compiled, o.cached, o.linked, step.compile, step.cached, step.link)
		}
		if _, err := os.Stat(filepath.Join(root, "build", "compile_commands.json")); err != nil {
			t.Fatalf("%s: compile_commands.json: %v", step.name, err)
		}
	}
}

// TestWatchAfterCleanBuild: a clean build replaces the build directory (its
// old directories are moved aside and removed at the end), and the watch
// must then cover the new object directories: an object deleted after a
// few no-ops is restored, not missed by the fast path.
func TestWatchAfterCleanBuild(t *testing.T) {
	root := t.TempDir()
	genProject(t, root, 6)
	backdate(t, root)
	te := newEnv(t, 0)
	for range 3 {
		te.mustBuild(t, root, nil)
	}
	for round := range 5 {
		te.mustBuild(t, root, func(r *Request) { r.Clean = true })
		for range 3 {
			te.mustBuild(t, root, nil)
		}
		obj := filepath.Join(root, "build", "obj", "src", "mod_0003.c.o")
		if err := os.Remove(obj); err != nil {
			t.Fatal(err)
		}
		o := te.mustBuild(t, root, nil)
		if strings.Join(o.cached, ",") != "src/mod_0003.c" {
			t.Fatalf("round %d: object deleted after a clean build: compiled %v cached %v", round, o.compiled, o.cached)
		}
	}
}

// TestCompilesWriteOutsideObjectDirs: a compiler writes its object and
// depfile in the build directory's temp dir and the object is renamed into
// place, so the watched object directory gets one event per compiled unit,
// not one per write.
func TestCompilesWriteOutsideObjectDirs(t *testing.T) {
	root, te, _ := builtProject(t, 6, false)
	objDir := filepath.Join(root, "build", "obj", "src")
	w := watchDir(t, objDir)
	units := []string{"mod_0001.c", "mod_0002.c", "mod_0003.c"}
	for _, u := range units {
		replaceInFile(t, filepath.Join(root, "src", u), "_salt = 0u;", "_salt = 5u;")
	}
	if o := te.mustBuild(t, root, nil); len(o.compiled) != len(units) {
		t.Fatalf("compiled %v", o.compiled)
	}
	if events := eventsSoFar(t, w, objDir); len(events) > len(units) {
		t.Fatalf("%d events in the object directory for %d compiles:\n%s", len(events), len(units), events)
	}
}

// watchDir watches dir with inotify for the rest of the test.
func watchDir(t *testing.T, dir string) *fsnotify.Watcher {
	t.Helper()
	w, err := fsnotify.NewWatcher()
	if err != nil {
		t.Skip("no inotify:", err)
	}
	t.Cleanup(func() { w.Close() })
	if err := w.Add(dir); err != nil {
		t.Fatal(err)
	}
	return w
}

// eventsSoFar returns the events w has seen in dir until now: it writes a
// marker file there, whose event comes after every earlier one.
func eventsSoFar(t *testing.T, w *fsnotify.Watcher, dir string) []fsnotify.Event {
	t.Helper()
	marker := filepath.Join(dir, "zz-marker")
	writeFile(t, marker, "")
	defer os.Remove(marker)
	var events []fsnotify.Event
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-w.Events:
			if ev.Name == marker {
				return events
			}
			events = append(events, ev)
		case err := <-w.Errors:
			t.Fatal(err)
		case <-deadline:
			t.Fatal("no event for the marker file")
		}
	}
}

// TestDepfilesReused: compiles overwrite a few depfiles instead of
// creating and removing one per unit (each removal is an inode that ext4
// without a journal then skips for a minute), and none is left behind.
func TestDepfilesReused(t *testing.T) {
	root, te, _ := builtProject(t, 12, false)
	tmp := filepath.Join(root, "build", tmpDir)
	w := watchDir(t, tmp)
	editFile(t, filepath.Join(root, "include", "demo", "core.h"), "/* edited */")
	o := te.mustBuild(t, root, func(r *Request) { r.Jobs = 2 })
	if len(o.compiled) != 14 {
		t.Fatalf("compiled %d units, want all 14", len(o.compiled))
	}
	removed := map[string]int{}
	for _, ev := range eventsSoFar(t, w, tmp) {
		if ev.Has(fsnotify.Remove) && strings.HasSuffix(ev.Name, ".d") {
			removed[filepath.Base(ev.Name)]++
		}
	}
	// At most one depfile per goroutine that compiles (2 x jobs), each
	// removed once, at the end.
	if len(removed) > 4 {
		t.Errorf("%d depfiles created and removed for 14 compiles: %v", len(removed), removed)
	}
	for name, n := range removed {
		if n != 1 {
			t.Errorf("%s removed %d times", name, n)
		}
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "*.d"))
	if len(left) > 0 {
		t.Errorf("depfiles left behind: %v", left)
	}
}

// TestDepfileNotWritten: a compiler that exits 0 without writing its
// depfile fails the unit; it never inherits the dependencies that the
// previous compile wrote to the same reused file.
func TestDepfileNotWritten(t *testing.T) {
	requireTools(t, "gcc")
	// The wrapper drops -MD -MF <file> for c.c only, which comes after a.c
	// or b.c in the same goroutine: its depfile name is a used one.
	root := writeProject(t, map[string]string{
		"jmake.toml": "[project]\nname = \"d\"\n[binary]\nlibrary_type = \"static\"\n[compile]\ncompiler = \"./cc.sh\"\n",
		"src/a.c":    "#include \"a.h\"\nint a(void) { return A; }\n",
		"src/a.h":    "#define A 1\n",
		"src/b.c":    "int b(void) { return 2; }\n",
		"src/c.c":    "int c(void) { return 3; }\n",
		"cc.sh": `#!/bin/sh
case "$*" in *src/c.c*) ;; *) exec gcc "$@" ;; esac
args=""
skip=0
for a in "$@"; do
  if [ $skip = 1 ]; then skip=0; continue; fi
  case "$a" in -MD) ;; -MF) skip=1 ;; *) args="$args $a" ;; esac
done
exec gcc $args
`,
	})
	if err := os.Chmod(filepath.Join(root, "cc.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	te := newEnv(t, 0)
	o := te.build(t, root, func(r *Request) { r.Jobs = 1 })
	if o.err == nil {
		t.Fatalf("build succeeded; c.c's dependencies came from a stale depfile")
	}
	if !strings.Contains(o.err.Error(), "src/c.c") || !strings.Contains(o.err.Error(), "depfile") {
		t.Errorf("error %q does not name c.c and its depfile", o.err)
	}
	var be *BuildError
	if !errors.As(o.err, &be) || !slices.Equal(be.Units, []string{"src/c.c"}) {
		t.Errorf("error %v: want a BuildError for src/c.c alone", o.err)
	}
}

// TestWatchReadsRemovalLate replays, deterministically, how a loaded machine
// once armed the fast path with an unwatched object directory: the watch
// reads the removal of a clean build's old directory only during the next
// build's settle, after watchDirs took the old entry for the new
// directory. The fast path must stay off until a build watches the new
// directory, so an object deleted afterwards is still restored.
func TestWatchReadsRemovalLate(t *testing.T) {
	root := t.TempDir()
	genProject(t, root, 3)
	backdate(t, root)
	// Hold every event from the clean build on, until the second settle
	// (the clean build's own is the first; its syncs time out).
	release := make(chan struct{})
	var settles atomic.Int32
	var on atomic.Bool
	hooks := change.Hooks{
		BeforeEvent: func() {
			if on.Load() {
				<-release
			}
		},
		BeforeSettle: func() {
			if on.Load() && settles.Add(1) == 2 {
				close(release)
			}
		},
	}
	te := openEnvWith(t, t.TempDir(), 0, func(o *Options) { o.WatchHooks = hooks })
	for range 3 {
		te.mustBuild(t, root, nil)
	}

	on.Store(true)
	te.mustBuild(t, root, func(r *Request) { r.Clean = true })
	te.mustBuild(t, root, nil) // full: the request differs from the clean one
	on.Store(false)

	for range 3 {
		te.mustBuild(t, root, nil)
	}
	if err := os.Remove(filepath.Join(root, "build", "obj", "src", "mod_0001.c.o")); err != nil {
		t.Fatal(err)
	}
	o := te.mustBuild(t, root, nil)
	if strings.Join(o.cached, ",") != "src/mod_0001.c" {
		t.Fatalf("deleted object not restored: compiled %v cached %v", o.compiled, o.cached)
	}
}

// A unit removed with its directory leaves that directory out of the
// build's inputs: the fast path comes back, where it once stayed off for
// good because the gone directory could not be watched.
func TestWatchAfterRemovedDir(t *testing.T) {
	root := t.TempDir()
	genProject(t, root, 3)
	te := newEnv(t, 0)
	extra := filepath.Join(root, "src", "extra")
	if err := os.MkdirAll(extra, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(extra, "extra.c"), "int extra(void) { return 1; }\n")
	te.mustBuild(t, root, nil)
	if err := os.RemoveAll(extra); err != nil {
		t.Fatal(err)
	}
	o := te.mustBuild(t, root, nil)
	for _, d := range o.res.InputDirs {
		if d == extra {
			t.Fatalf("input dirs list the removed %s: %v", extra, o.res.InputDirs)
		}
	}
	before := te.e.CacheStats().WatchedNoops
	for range 3 {
		te.mustBuild(t, root, nil)
	}
	if te.e.CacheStats().WatchedNoops == before {
		t.Fatal("no no-op answered by the watch after a directory was removed")
	}
}

// A build's input directories follow its units' headers: an edit that
// includes a header from a new directory adds that directory, and the
// edit that drops the include removes it again; edits that leave the
// headers alone leave the list as it was.
func TestInputDirsFollowHeaders(t *testing.T) {
	root := t.TempDir()
	genProject(t, root, 3)
	te := newEnv(t, 0)
	other := filepath.Join(root, "other")
	writeFile(t, filepath.Join(other, "x.h"), "#define X_VALUE 3\n")
	src := filepath.Join(root, "src", "mod_0001.c")
	has := func(o outcome) bool { return slices.Contains(o.res.InputDirs, other) }
	if o := te.mustBuild(t, root, nil); has(o) {
		t.Fatalf("%s listed before any unit includes from it: %v", other, o.res.InputDirs)
	}
	replaceInFile(t, src, "/* jm-edit */", "/* jm-edit */\n#include \"../other/x.h\"")
	if o := te.mustBuild(t, root, nil); !has(o) || len(o.compiled) != 1 {
		t.Fatalf("after including ../other/x.h: compiled %v, input dirs %v", o.compiled, o.res.InputDirs)
	}
	replaceInFile(t, src, "_salt = 0u;", "_salt = 4u;")
	if o := te.mustBuild(t, root, nil); !has(o) || len(o.compiled) != 1 {
		t.Fatalf("after an edit beside the include: compiled %v, input dirs %v", o.compiled, o.res.InputDirs)
	}
	replaceInFile(t, src, "\n#include \"../other/x.h\"", "")
	if o := te.mustBuild(t, root, nil); has(o) {
		t.Fatalf("%s still listed after the include went: %v", other, o.res.InputDirs)
	}
}
