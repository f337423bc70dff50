package compile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/project"
)

// TestIncremental walks one project through a sequence of changes and
// checks after each exactly which units were recompiled, and why.
func TestIncremental(t *testing.T) {
	root, te, first := builtProject(t, 10, false)
	units := sources(t, root, mustLoad(t, root))
	if !slices.Equal(first.compiled, units) || !first.linked {
		t.Fatalf("first build compiled %v (linked %v), want every unit %v", first.compiled, first.linked, units)
	}
	lib := first.res.Output
	if _, err := os.Stat(lib); err != nil {
		t.Fatal(err)
	}
	touch := func(p string) {
		later := time.Now().Add(time.Minute)
		if err := os.Chtimes(p, later, later); err != nil {
			t.Fatal(err)
		}
	}
	logH := "include/demo/log.h"
	modH := "include/demo/mod/mod_0001.h"
	typesH := "include/demo/types.h"
	steps := []struct {
		name   string
		change func()
		opt    func(*Request)
		want   func() []string // units expected to compile
		cached []string
		linked bool
		reason string // expected in Explain
	}{
		{name: "no-op", change: func() {}, want: none},
		{
			name:   "edit one .c",
			change: func() { replaceInFile(t, filepath.Join(root, "src/mod_0002.c"), "_salt = 0u;", "_salt = 7u;") },
			want:   fixed("src/mod_0002.c"), linked: true, reason: "src/mod_0002.c: source changed",
		},
		{name: "touch one .c", change: func() { touch(filepath.Join(root, "src/mod_0003.c")) }, want: none},
		{name: "after touch", change: func() {}, want: none},
		{
			name:   "revert the edit",
			change: func() { replaceInFile(t, filepath.Join(root, "src/mod_0002.c"), "_salt = 7u;", "_salt = 0u;") },
			want:   none, cached: []string{"src/mod_0002.c"}, linked: true,
		},
		{
			name:   "edit a header included directly",
			change: func() { editFile(t, filepath.Join(root, logH), "/* edited */") },
			want:   func() []string { return unitsIncluding(t, root, units, logH) }, linked: true,
			reason: "header include/demo/log.h changed",
		},
		{
			name:   "edit a unit's header",
			change: func() { editFile(t, filepath.Join(root, modH), "int mod_0001_extra(void);") },
			want:   func() []string { return unitsIncluding(t, root, units, modH) }, linked: true,
			reason: "header include/demo/mod/mod_0001.h changed",
		},
		{
			name:   "edit a header included transitively",
			change: func() { editFile(t, filepath.Join(root, typesH), "typedef int demo_extra_t;") },
			want:   func() []string { return unitsIncluding(t, root, units, typesH) }, linked: true,
			reason: "header include/demo/types.h changed",
		},
		{name: "touch a header", change: func() { touch(filepath.Join(root, typesH)) }, want: none},
		{
			name:   "add a define",
			change: func() {},
			opt: func(r *Request) {
				r.Config.Compile.Defines = map[string]string{"JM_TEST": "1"}
			},
			want: func() []string { return units }, linked: true, reason: "flags changed",
		},
		{
			name:   "same define again",
			change: func() {},
			opt:    func(r *Request) { r.Config.Compile.Defines = map[string]string{"JM_TEST": "1"} },
			want:   none,
		},
		{
			name:   "drop the define: every object from the cache",
			change: func() {},
			want:   none, cached: units, linked: true, reason: "flags changed",
		},
		{
			name:   "object missing",
			change: func() { os.Remove(filepath.Join(root, "build/obj/src/mod_0004.c.o")) },
			want:   none, cached: []string{"src/mod_0004.c"}, reason: "src/mod_0004.c: object missing",
		},
		{
			name:   "output modified",
			change: func() { editFile(t, lib, "garbage") },
			want:   none, linked: true, reason: "link: output modified",
		},
		{
			name:   "output missing",
			change: func() { os.Remove(lib) },
			want:   none, linked: true, reason: "link: output missing",
		},
	}
	for _, s := range steps {
		// Each step depends on the one before it.
		ok := t.Run(s.name, func(t *testing.T) {
			s.change()
			o := te.mustBuild(t, root, s.opt)
			want := s.want()
			if !slices.Equal(o.compiled, want) {
				t.Errorf("compiled %v, want %v\nexplain: %q", o.compiled, want, o.res.Explain)
			}
			if len(o.cached) != len(s.cached) || s.cached != nil && !slices.Equal(o.cached, s.cached) {
				t.Errorf("cached %v, want %v", o.cached, s.cached)
			}
			if o.linked != s.linked {
				t.Errorf("linked = %v, want %v (explain %q)", o.linked, s.linked, o.res.Explain)
			}
			if s.reason != "" && !slices.ContainsFunc(o.res.Explain, func(l string) bool { return strings.Contains(l, s.reason) }) {
				t.Errorf("explain %q lacks %q", o.res.Explain, s.reason)
			}
			if n := len(want) + len(s.cached); o.res.UpToDate != len(units)-n {
				t.Errorf("UpToDate = %d, want %d", o.res.UpToDate, len(units)-n)
			}
		})
		if !ok {
			t.FailNow()
		}
	}
}

func none() []string { return nil }

func fixed(units ...string) func() []string { return func() []string { return units } }

func mustLoad(t testing.TB, root string) *project.Config {
	t.Helper()
	cfg, err := project.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestIncrementalEqualsClean checks that after a series of incremental
// builds the objects are byte for byte those of a clean build with an empty
// cache, and the library exports the same symbols.
func TestIncrementalEqualsClean(t *testing.T) {
	root, te, _ := builtProject(t, 8, false)
	replaceInFile(t, filepath.Join(root, "src/mod_0001.c"), "_salt = 0u;", "_salt = 3u;")
	te.mustBuild(t, root, nil)
	replaceInFile(t, filepath.Join(root, "include/demo/core.h"), "return 0u; /* jm-edit */", "return 5u; /* jm-edit */")
	te.mustBuild(t, root, nil)
	writeFile(t, filepath.Join(root, "src/extra.c"), "#include \"demo/core.h\"\nint extra_fn(int x) { return x + (int)core_salt(); }\n")
	te.mustBuild(t, root, nil)
	os.Remove(filepath.Join(root, "src/mod_0003.c"))
	inc := te.mustBuild(t, root, nil)

	clean := t.TempDir()
	copyTree(t, root, clean)
	other := newEnv(t, 0)
	full := other.mustBuild(t, clean, nil)
	if full.res.Cached != 0 || full.res.Compiled != full.res.Units {
		t.Fatalf("fresh build compiled %d cached %d of %d", full.res.Compiled, full.res.Cached, full.res.Units)
	}
	a, b := objectFiles(t, filepath.Join(root, "build/obj")), objectFiles(t, filepath.Join(clean, "build/obj"))
	if len(a) != len(b) || len(a) != inc.res.Units {
		t.Fatalf("%d incremental objects, %d clean, %d units", len(a), len(b), inc.res.Units)
	}
	for p, data := range a {
		if string(b[p]) != string(data) {
			t.Errorf("object %s differs from the clean build's", p)
		}
	}
	if x, y := nmDynamic(t, inc.res.Output), nmDynamic(t, full.res.Output); x != y {
		t.Errorf("nm -D differs:\nincremental:\n%s\nclean:\n%s", x, y)
	}
	if strings.Contains(nmDynamic(t, inc.res.Output), "mod_0003_run") {
		t.Error("removed unit's symbols still in the library")
	}
}

// TestSourceSetChanges adds, removes and renames units.
func TestSourceSetChanges(t *testing.T) {
	root, te, _ := builtProject(t, 5, false)
	lib := filepath.Join(root, "build/libdemo.so")

	writeFile(t, filepath.Join(root, "src/added.c"), "int added_fn(int x) { return x * 3; }\n")
	o := te.mustBuild(t, root, nil)
	if !slices.Equal(o.compiled, []string{"src/added.c"}) || !o.linked {
		t.Fatalf("add: compiled %v linked %v", o.compiled, o.linked)
	}
	if !strings.Contains(nmDynamic(t, lib), "added_fn") {
		t.Fatal("added unit not linked")
	}

	if err := os.Rename(filepath.Join(root, "src/added.c"), filepath.Join(root, "src/renamed.c")); err != nil {
		t.Fatal(err)
	}
	o = te.mustBuild(t, root, nil)
	if len(o.compiled)+len(o.cached) != 1 || !o.linked {
		t.Fatalf("rename: compiled %v cached %v linked %v", o.compiled, o.cached, o.linked)
	}
	if _, err := os.Stat(filepath.Join(root, "build/obj/src/added.c.o")); !os.IsNotExist(err) {
		t.Errorf("stale object of the renamed unit: %v", err)
	}
	if !slices.Contains(o.res.Explain, "src/added.c: removed from the sources") {
		t.Errorf("explain %q", o.res.Explain)
	}

	os.Remove(filepath.Join(root, "src/renamed.c"))
	o = te.mustBuild(t, root, nil)
	if len(o.compiled) != 0 || !o.linked || !slices.Contains(o.res.Explain, "link: set of units changed") {
		t.Fatalf("remove: compiled %v linked %v explain %q", o.compiled, o.linked, o.res.Explain)
	}
	if strings.Contains(nmDynamic(t, lib), "added_fn") {
		t.Fatal("removed unit still linked")
	}
}

// TestCompileError checks that a failing unit reports the compiler's
// diagnostics, stores nothing, lets the others build, prevents the link,
// and that after the fix only it is compiled.
func TestCompileError(t *testing.T) {
	root := t.TempDir()
	genProject(t, root, 6)
	bad := filepath.Join(root, "src/mod_0002.c")
	data, err := os.ReadFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	good := string(data)
	lines := strings.Split(good, "\n")
	// An undeclared identifier at a known line and column.
	line := len(lines) - 1
	lines = append(lines[:line], "int broken(void) { return undeclared_thing; }", lines[line])
	writeFile(t, bad, strings.Join(lines, "\n"))
	wantPos := "src/mod_0002.c:" + strconv.Itoa(line+1) + ":" + strconv.Itoa(len("int broken(void) { return ")+1)

	te := newEnv(t, 0)
	o := te.build(t, root, nil)
	var be *BuildError
	if !errors.As(o.err, &be) {
		t.Fatalf("error %v (%T), want a *BuildError", o.err, o.err)
	}
	if !slices.Equal(be.Units, []string{"src/mod_0002.c"}) {
		t.Errorf("failed units %v", be.Units)
	}
	if !strings.Contains(be.Diagnostics, wantPos) || !strings.Contains(be.Error(), wantPos) {
		t.Errorf("diagnostics lack %s:\n%s", wantPos, be.Diagnostics)
	}
	if o.res == nil || o.res.Linked || o.linked {
		t.Fatalf("result %+v: want one without a link", o.res)
	}
	if o.res.Compiled != o.res.Units-1 {
		t.Errorf("compiled %d of %d units", o.res.Compiled, o.res.Units)
	}
	if _, err := os.Stat(o.res.Output); !os.IsNotExist(err) {
		t.Errorf("output exists after a failed build: %v", err)
	}
	if st := te.e.CacheStats(); st.Entries != o.res.Units-1 {
		t.Errorf("%d objects cached, want %d (nothing for the failed unit)", st.Entries, o.res.Units-1)
	}

	// Still broken: only the broken unit is tried again.
	o = te.build(t, root, nil)
	if !errors.As(o.err, &be) || !slices.Equal(o.compiled, []string{"src/mod_0002.c"}) {
		t.Fatalf("rebuild while broken: err %v compiled %v", o.err, o.compiled)
	}

	writeFile(t, bad, good)
	o = te.mustBuild(t, root, nil)
	if !slices.Equal(o.compiled, []string{"src/mod_0002.c"}) || !o.linked {
		t.Fatalf("after the fix compiled %v linked %v, want only the fixed unit and a link", o.compiled, o.linked)
	}
}

// TestRelocatedProjectHitsCache builds a project, then the same project
// at another path: every unit must come from the cache.
func TestRelocatedProjectHitsCache(t *testing.T) {
	a := t.TempDir()
	genProject(t, a, 8)
	te := newEnv(t, 0)
	first := te.mustBuild(t, a, nil)
	b := filepath.Join(t.TempDir(), "elsewhere", "checkout")
	copyTree(t, a, b)
	o := te.mustBuild(t, b, nil)
	if o.res.Compiled != 0 || o.res.Cached != first.res.Units || !o.linked {
		t.Fatalf("relocated build compiled %d, cached %d of %d, linked %v", o.res.Compiled, o.res.Cached, o.res.Units, o.linked)
	}
	if x, y := nmDynamic(t, first.res.Output), nmDynamic(t, o.res.Output); x != y {
		t.Error("relocated library differs")
	}
}

// TestCleanBuildFromCache checks that Clean removes the outputs and state
// but a clean build restores every object from the cache.
func TestCleanBuildFromCache(t *testing.T) {
	root, te, first := builtProject(t, 6, false)
	marker := filepath.Join(root, "build", "stale-file")
	writeFile(t, marker, "x")
	o := te.mustBuild(t, root, func(r *Request) { r.Clean = true })
	if o.res.Compiled != 0 || o.res.Cached != first.res.Units || !o.linked {
		t.Fatalf("clean build compiled %d cached %d of %d linked %v", o.res.Compiled, o.res.Cached, o.res.Units, o.linked)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("clean left %s: %v", marker, err)
	}
	if !slices.Contains(o.res.Explain, "src/mod_0001.c: no previous build") {
		t.Errorf("explain %q", o.res.Explain)
	}
}

// TestCleanBuildReusesObjectFiles: a clean build with a warm cache writes
// the restored objects over the old object files (no new inodes), removes
// what is left of the old build directory, and never writes into the old
// library, which a running program may have mapped.
func TestCleanBuildReusesObjectFiles(t *testing.T) {
	root, te, first := builtProject(t, 6, false)
	// Hold every old object file open: afterwards each must still be
	// linked into the tree (reused), not unlinked (replaced).
	var held []*os.File
	for p := range objectFiles(t, filepath.Join(root, "build/obj")) {
		f, err := os.Open(filepath.Join(root, "build/obj", p))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		held = append(held, f)
	}
	lib, err := os.Open(first.res.Output) // as a running program would hold it
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	libBefore, err := io.ReadAll(lib)
	if err != nil {
		t.Fatal(err)
	}

	// What a clean build killed halfway would have left.
	writeFile(t, filepath.Join(recycleDir(filepath.Join(root, "build")), "obj/stale.o"), "x")

	o := te.mustBuild(t, root, func(r *Request) { r.Clean = true })
	if o.res.Cached != first.res.Units {
		t.Fatalf("clean build cached %d of %d", o.res.Cached, first.res.Units)
	}
	reused := 0
	for _, f := range held {
		if fi, err := f.Stat(); err == nil && fi.Sys().(*syscall.Stat_t).Nlink == 1 {
			reused++
		}
	}
	if reused != len(held) {
		t.Errorf("%d of %d old object files were reused by the restore", reused, len(held))
	}
	if _, err := os.Stat(recycleDir(filepath.Join(root, "build"))); !os.IsNotExist(err) {
		t.Errorf("old build directory left behind: %v", err)
	}
	libAfter, err := io.ReadAll(io.NewSectionReader(lib, 0, 1<<30))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(libAfter, libBefore) {
		t.Error("the old library's file was written to")
	}
}

// TestDeadCompilesTempFilesAreSwept: temp files that a killed daemon's
// compiles left in the build directory, and the old build directory of a
// clean build it did not finish, are removed by the next daemon's first
// build of the project; temp files of a live process stay.
func TestDeadCompilesTempFilesAreSwept(t *testing.T) {
	root, te, _ := builtProject(t, 3, false)

	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(root, "build", tmpDir)
	deadO := filepath.Join(tmp, fmt.Sprintf("mod_0001.c.o.%d-7.tmp", dead.Process.Pid))
	deadD := filepath.Join(tmp, fmt.Sprintf("mod_0001.c.o.%d-7.d", dead.Process.Pid))
	live := filepath.Join(tmp, fmt.Sprintf("mod_0002.c.o.%d-9.tmp", os.Getppid()))
	other := filepath.Join(tmp, "notes.txt")
	for _, p := range []string{deadO, deadD, live, other} {
		writeFile(t, p, "x")
	}
	// And the old build directory of a clean build killed halfway.
	old := recycleDir(filepath.Join(root, "build"))
	writeFile(t, filepath.Join(old, "obj", "src", "mod_0001.c.o"), "x")

	// A new engine on the same caches: a restarted daemon.
	te.close()
	te2 := openEnv(t, te.cacheDir, 0)
	te2.mustBuild(t, root, nil)
	for _, p := range []string{deadO, deadD} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", filepath.Base(p), err)
		}
	}
	for _, p := range []string{live, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", filepath.Base(p), err)
		}
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("old build directory left behind: %v", err)
	}
}

// TestDeadLinkTempFilesAreSwept: the temp file a daemon killed while
// linking left beside the library is removed when the library is linked
// again; one of a live process stays.
func TestDeadLinkTempFilesAreSwept(t *testing.T) {
	root := t.TempDir()
	genProject(t, root, 3)
	te := newEnv(t, 0)
	out := te.mustBuild(t, root, nil).res.Output

	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadTmp := fmt.Sprintf("%s.%d-5.tmp", out, dead.Process.Pid)
	liveTmp := fmt.Sprintf("%s.%d-6.tmp", out, os.Getppid())
	for _, p := range []string{deadTmp, liveTmp} {
		writeFile(t, p, "x")
	}
	editFile(t, filepath.Join(root, "src", "mod_0001.c"), "int mod_0001_more(void) { return 1; }")
	if o := te.mustBuild(t, root, nil); !o.linked {
		t.Fatal("an edited unit did not relink the library")
	}
	if _, err := os.Stat(deadTmp); !os.IsNotExist(err) {
		t.Errorf("%s left behind: %v", filepath.Base(deadTmp), err)
	}
	if _, err := os.Stat(liveTmp); err != nil {
		t.Errorf("%s removed: %v", filepath.Base(liveTmp), err)
	}
}

// TestCachedWarningsReplayed: a unit restored from the cache reports the
// warnings its compile printed, as a compile would; an up-to-date unit
// prints nothing.
func TestCachedWarningsReplayed(t *testing.T) {
	requireTools(t, "gcc")
	root, te, first := builtFiles(t, map[string]string{
		"jmake.toml": "[project]\nname = \"w\"\n[compile]\nflags = [\"-Wall\"]\n",
		"src/a.c":    "int a(void) { int unused = 1; return 2; }\n",
		"src/b.c":    "int b(void) { return 3; }\n",
	})
	if !strings.Contains(first.res.Diagnostics, "src/a.c:1:19: warning: unused variable") {
		t.Fatalf("first build's diagnostics: %q", first.res.Diagnostics)
	}
	if o := te.mustBuild(t, root, nil); o.res.Diagnostics != "" {
		t.Fatalf("a no-op build printed %q", o.res.Diagnostics)
	}
	o := te.mustBuild(t, root, func(r *Request) { r.Clean = true })
	if o.res.Cached != 2 || o.res.Diagnostics != first.res.Diagnostics {
		t.Fatalf("from the cache: cached %d, diagnostics %q, want %q", o.res.Cached, o.res.Diagnostics, first.res.Diagnostics)
	}
}

// TestConcurrentBuilds runs two builds of one root at once: they are
// serialized and both succeed.
func TestConcurrentBuilds(t *testing.T) {
	root := t.TempDir()
	genProject(t, root, 6)
	te := newEnv(t, 0)
	var wg sync.WaitGroup
	outs := make([]outcome, 2)
	for i := range outs {
		wg.Go(func() { outs[i] = te.build(t, root, nil) })
	}
	wg.Wait()
	total := 0
	for i, o := range outs {
		if o.err != nil {
			t.Fatalf("build %d: %v", i, o.err)
		}
		total += o.res.Compiled + o.res.Cached
	}
	if total != outs[0].res.Units {
		t.Errorf("the two builds compiled %d units together, want %d", total, outs[0].res.Units)
	}
}

// TestCancel cancels a build after its first unit: it returns the
// context's error, and the next build finishes the rest.
func TestCancel(t *testing.T) {
	root := t.TempDir()
	genProject(t, root, 8)
	te := newEnv(t, 0)
	cfg := mustLoad(t, root)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := Request{Root: root, Config: cfg, Sources: sources(t, root, cfg), Jobs: 1}
	res, err := te.e.Build(ctx, req, func(ev Event) {
		if ev.Kind == "compile" {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if res == nil || res.Compiled < 1 || res.Compiled == res.Units || res.Linked {
		t.Fatalf("cancelled build: %+v", res)
	}
	o := te.mustBuild(t, root, nil)
	if o.res.Compiled != o.res.Units-res.Compiled || !o.linked {
		t.Fatalf("after cancel compiled %d of %d (had %d)", o.res.Compiled, o.res.Units, res.Compiled)
	}
}

// TestTrim checks that a size limit on the object cache is applied.
func TestTrim(t *testing.T) {
	root := t.TempDir()
	genProject(t, root, 6)
	te := newEnv(t, 20<<10)
	te.mustBuild(t, root, nil)
	if st := te.e.CacheStats(); st.Bytes > 20<<10 {
		t.Fatalf("object cache holds %d bytes, limit 20 KiB", st.Bytes)
	}
}

// TestFailedUnitKeepsStaleRecord checks that a unit whose compile failed is
// rebuilt once fixed even when its source returns to the content of its
// last good build: a header it includes changed in between.
func TestFailedUnitKeepsStaleRecord(t *testing.T) {
	requireTools(t, "gcc")
	root, te, _ := builtFiles(t, map[string]string{
		"jmake.toml":  "[project]\nname = \"stale\"\n[compile]\ninclude_dirs = [\"include\"]\n",
		"include/h.h": "#define VALUE 1\n",
		"src/a.c":     "#include \"h.h\"\nint a(void) { return VALUE; }\n",
		"src/b.c":     "#include \"h.h\"\nint b(void) { return VALUE; }\n",
	})
	writeFile(t, filepath.Join(root, "include/h.h"), "#define VALUE 2\n")
	writeFile(t, filepath.Join(root, "src/b.c"), "#include \"h.h\"\nint b(void) { return VALUE +; }\n")
	if o := te.build(t, root, nil); o.err == nil || !slices.Equal(o.compiled, []string{"src/a.c", "src/b.c"}) {
		t.Fatalf("broken build: err %v compiled %v", o.err, o.compiled)
	}
	writeFile(t, filepath.Join(root, "src/b.c"), "#include \"h.h\"\nint b(void) { return VALUE; }\n")
	o := te.mustBuild(t, root, nil)
	if !slices.Equal(o.compiled, []string{"src/b.c"}) || !o.linked {
		t.Fatalf("after the fix compiled %v linked %v (explain %q)", o.compiled, o.linked, o.res.Explain)
	}
	if !slices.Contains(o.res.Explain, "src/b.c: header include/h.h changed") {
		t.Errorf("explain %q", o.res.Explain)
	}
}

// TestRelinkAfterFailedBuild: a build in which one unit compiled and
// another failed does not link; when the failing unit is then reverted to
// its last good content (so that nothing compiles), the link must still
// happen, to take in the first unit's new object.
func TestRelinkAfterFailedBuild(t *testing.T) {
	requireTools(t, "gcc", "nm")
	root, te, _ := builtFiles(t, map[string]string{
		"jmake.toml": "[project]\nname = \"relink\"\n",
		"src/a.c":    "int a_old(void) { return 1; }\n",
		"src/b.c":    "int b(void) { return 2; }\n",
	})
	writeFile(t, filepath.Join(root, "src/a.c"), "int a_new(void) { return 1; }\n")
	writeFile(t, filepath.Join(root, "src/b.c"), "int b(void) { return 2 }\n")
	if f := te.build(t, root, nil); f.err == nil {
		t.Fatal("broken build succeeded")
	}
	writeFile(t, filepath.Join(root, "src/b.c"), "int b(void) { return 2; }\n")
	o := te.mustBuild(t, root, nil)
	if len(o.compiled)+len(o.cached) != 0 || !o.linked {
		t.Fatalf("compiled %v cached %v linked %v", o.compiled, o.cached, o.linked)
	}
	if nm := nmDynamic(t, o.res.Output); !strings.Contains(nm, "a_new") || strings.Contains(nm, "a_old") {
		t.Fatalf("library not relinked:\n%s", nm)
	}
}

// TestToolchainAndCacheSettings: another compiler recompiles everything
// ("compiler changed"), and a project with the cache disabled neither uses
// nor fills it.
func TestToolchainAndCacheSettings(t *testing.T) {
	requireTools(t, "gcc", "cc")
	files := map[string]string{
		"jmake.toml": "[project]\nname = \"tc\"\n[compile]\ncompiler = \"gcc\"\n",
		"src/a.c":    "int a(void) { return 1; }\n",
		"src/b.c":    "int b(void) { return 2; }\n",
	}
	root := writeProject(t, files)
	te := newEnv(t, 0)
	te.mustBuild(t, root, nil)
	o := te.mustBuild(t, root, func(r *Request) { r.Config.Compile.Compiler = "cc" })
	if o.res.Compiled != 2 || !slices.Contains(o.res.Explain, "src/a.c: compiler changed") {
		t.Fatalf("compiled %d explain %q", o.res.Compiled, o.res.Explain)
	}

	files["jmake.toml"] = "[project]\nname = \"nc\"\n[cache]\nenabled = false\n"
	other := writeProject(t, files)
	before := te.e.CacheStats()
	o = te.mustBuild(t, other, func(r *Request) { r.Clean = true })
	after := te.e.CacheStats()
	if o.res.Compiled != 2 || o.res.Cached != 0 || after.Entries != before.Entries || after.Hits != before.Hits {
		t.Fatalf("cache disabled: compiled %d cached %d, cache entries %d -> %d", o.res.Compiled, o.res.Cached, before.Entries, after.Entries)
	}
}

// TestRequestErrors checks the requests Build refuses before compiling.
func TestRequestErrors(t *testing.T) {
	requireTools(t, "gcc")
	root := writeProject(t, map[string]string{
		"jmake.toml": "[project]\nname = \"re\"\n",
		"src/a.c":    "int a(void) { return 1; }\n",
	})
	cfg := mustLoad(t, root)
	noCC := mustLoad(t, root)
	noCC.Compile.Compiler = "no-such-compiler-jm"
	buildInRoot := mustLoad(t, root)
	buildInRoot.Paths.Build = "."
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"relative root", Request{Root: "rel", Config: cfg, Sources: []string{"src/a.c"}}, "not absolute"},
		{"no config", Request{Root: root, Sources: []string{"src/a.c"}}, "without a config"},
		{"no sources", Request{Root: root, Config: cfg}, "no source files"},
		{"source outside the root", Request{Root: root, Config: cfg, Sources: []string{"../x.c"}}, "not under"},
		{"missing compiler", Request{Root: root, Config: noCC, Sources: []string{"src/a.c"}}, "no-such-compiler-jm"},
		{"clean would remove the project", Request{Root: root, Config: buildInRoot, Sources: []string{"src/a.c"}, Clean: true}, "refusing"},
	}
	te := newEnv(t, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := te.e.Build(context.Background(), tt.req, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if res != nil {
				t.Errorf("result %+v for a refused request", res)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(root, "jmake.toml")); err != nil {
		t.Fatal("the project was damaged:", err)
	}
}

// TestDebugInfoIsRelocatable checks that with -g the checkout path does not
// reach the objects (it is remapped), which is what lets the cache key
// leave it out: two checkouts compiled without a cache give identical
// objects.
func TestDebugInfoIsRelocatable(t *testing.T) {
	requireTools(t, "gcc")
	files := map[string]string{
		"jmake.toml":  "[project]\nname = \"dbg\"\n[compile]\nflags = [\"-g\", \"-O1\"]\ninclude_dirs = [\"include\"]\n",
		"include/h.h": "static inline int twice(int x) { return 2 * x; }\n",
		"src/a.c":     "#include \"h.h\"\nint a(int x) { return twice(x) + __LINE__; }\n",
	}
	a, b := writeProject(t, files), writeProject(t, files)
	oa := newEnv(t, 0).mustBuild(t, a, nil)
	ob := newEnv(t, 0).mustBuild(t, b, nil)
	if oa.res.Compiled != 1 || ob.res.Compiled != 1 {
		t.Fatal("both checkouts should compile")
	}
	x, y := objectFiles(t, filepath.Join(a, "build/obj")), objectFiles(t, filepath.Join(b, "build/obj"))
	if string(x["src/a.c.o"]) != string(y["src/a.c.o"]) || len(x["src/a.c.o"]) == 0 {
		t.Fatal("objects with debug info differ between checkouts")
	}
	if strings.Contains(string(x["src/a.c.o"]), a) {
		t.Fatal("the object records the checkout path")
	}
}

// TestReturnMemory: a build of returnAfter units or more gives the heap it
// freed back to the system, in the background; a smaller one, or a no-op,
// does not.
func TestReturnMemory(t *testing.T) {
	root := t.TempDir()
	genProject(t, root, 6)
	te := newEnv(t, 0)
	te.e.returnAfter = 8 // the project's 6 units and its two others
	te.mustBuild(t, root, nil)
	if n := te.e.memReturns.Load(); n != 1 {
		t.Fatalf("%d returns after a build of every unit, want 1", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for te.e.returning.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the return of memory is still running after 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	replaceInFile(t, filepath.Join(root, "src/mod_0002.c"), "_salt = 0u;", "_salt = 5u;")
	te.mustBuild(t, root, nil)
	te.mustBuild(t, root, nil)
	if n := te.e.memReturns.Load(); n != 1 {
		t.Fatalf("%d returns after an edit and a no-op, want still 1", n)
	}
}
