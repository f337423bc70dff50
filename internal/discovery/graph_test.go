package discovery

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/testenv"
)

func TestWalkDependenciesScan(t *testing.T) {
	root := testenv.Tree(t, map[string]string{
		"include/lib/api.h":    "#include \"lib/detail.h\"\n#include <stdio.h>\n",
		"include/lib/detail.h": "#include \"../lib/api.h\" /* a cycle */\n",
		"src/a.c":              "#include \"local.h\"\n#include <lib/api.h>\n#include \"gen.h\"\n",
		"src/local.h":          "#include \"local2.h\"\n",
		"src/local2.h":         "",
		"src/b.c":              "#include \"local2.h\"\n",
		"src/c.c":              "#include <local2.h>\n",
		"src/sub/d.c":          "#include \"local2.h\"\n#include \"../local2.h\"\n",
	})
	d := New(Options{Logger: testLogger(t)})
	units := []string{"src/a.c", "src/b.c", "src/c.c", filepath.Join(root, "src/sub/d.c")}
	g, err := d.WalkDependencies(root, []string{"include"}, units)
	if err != nil {
		t.Fatal(err)
	}
	want := []UnitDeps{
		{Unit: "src/a.c", From: "scan", Headers: []string{"include/lib/api.h", "include/lib/detail.h", "src/local.h", "src/local2.h"}, External: []string{`"gen.h"`, "<stdio.h>"}},
		{Unit: "src/b.c", From: "scan", Headers: []string{"src/local2.h"}},
		// <...> is not looked up beside the includer.
		{Unit: "src/c.c", From: "scan", Headers: []string{}, External: []string{"<local2.h>"}},
		{Unit: "src/sub/d.c", From: "scan", Headers: []string{"src/local2.h"}, External: []string{`"local2.h"`}},
	}
	if len(g.Units) != len(want) {
		t.Fatalf("units %+v", g.Units)
	}
	for i, w := range want {
		if got := g.Units[i]; got.Unit != w.Unit || got.From != w.From || !slices.Equal(got.Headers, w.Headers) || !slices.Equal(got.External, w.External) {
			t.Errorf("unit %d =\n %+v\nwant\n %+v", i, got, w)
		}
	}
	if got := g.Dependents("src/local2.h"); !slices.Equal(got, []string{"src/a.c", "src/b.c", "src/sub/d.c"}) {
		t.Errorf("Dependents(src/local2.h) = %q", got)
	}
	if got := g.Dependents("include/lib/detail.h"); !slices.Equal(got, []string{"src/a.c"}) {
		t.Errorf("Dependents(include/lib/detail.h) = %q", got)
	}
	if g.Dependents("nothing.h") != nil {
		t.Error("Dependents of an unknown header not nil")
	}
	if g.FilesParsed != 7 { // b.c and local.h have the same content
		t.Errorf("first walk parsed %d files, want 7", g.FilesParsed)
	}

	// Unchanged: nothing parsed again.
	g, err = d.WalkDependencies(root, []string{"include"}, units)
	if err != nil || g.FilesParsed != 0 {
		t.Fatalf("second walk parsed %d files, err %v", g.FilesParsed, err)
	}
	// One header gains an include: only it is parsed, and the new edge shows.
	testenv.WriteFiles(t, root, map[string]string{"src/local2.h": "#include \"lib/api.h\"\n"})
	g, err = d.WalkDependencies(root, []string{"include"}, units[1:2])
	if err != nil || g.FilesParsed != 1 {
		t.Fatalf("walk after edit parsed %d files, err %v", g.FilesParsed, err)
	}
	if h := g.Units[0].Headers; !slices.Equal(h, []string{"include/lib/api.h", "include/lib/detail.h", "src/local2.h"}) {
		t.Errorf("src/b.c after edit: %q", h)
	}
	// A copy of a file already seen is not parsed either: facts are by content.
	testenv.WriteFiles(t, root, map[string]string{"src/e.c": "#include \"local2.h\"\n"})
	if g, err = d.WalkDependencies(root, []string{"include"}, []string{"src/e.c"}); err != nil || g.FilesParsed != 0 {
		t.Errorf("walk of a copy parsed %d files, err %v", g.FilesParsed, err)
	}

	// No units: every source.
	if g, err = d.WalkDependencies(root, []string{"include"}, nil); err != nil || len(g.Units) != 5 || g.Units[0].Unit != "src/a.c" {
		t.Errorf("walk of every source: %+v, %v", g.Units, err)
	}

	_, err = d.WalkDependencies(root, nil, []string{"src/missing.c"})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "src/missing.c")) {
		t.Errorf("missing unit: error %v does not name it", err)
	}
}

// TestWalkDependenciesDepfile compiles with gcc -MD and checks that the
// compiler's list is used while it is current: it knows what a macro
// include named, which no scan can.
func TestWalkDependenciesDepfile(t *testing.T) {
	needTool(t, "gcc")
	root := testenv.Tree(t, map[string]string{
		"include/p/x.h": "#define X 1\n",
		"src/m.c":       "#include MACRO_H\n#include <stddef.h>\nint m = X;\n",
		"lib/m.c":       "int lm;\n",
	})
	if err := os.MkdirAll(filepath.Join(root, "build/obj"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The flat layout of the Makefiles gen_project.py writes: build/obj/m.o.
	run(t, root, "gcc", "-Iinclude", `-DMACRO_H="p/x.h"`, "-MD", "-c", "src/m.c", "-o", "build/obj/m.o")

	d := New(Options{Logger: testLogger(t)})
	walk := func() Graph {
		t.Helper()
		g, err := d.WalkDependencies(root, []string{"include"}, []string{"src/m.c", "lib/m.c"})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	g := walk()
	m := g.Units[0]
	if m.From != "depfile" || m.Depfile != "build/obj/m.d" || !slices.Contains(m.Headers, "include/p/x.h") {
		t.Errorf("src/m.c = %+v, want include/p/x.h from build/obj/m.d", m)
	}
	if !slices.ContainsFunc(m.Headers, func(h string) bool { return filepath.IsAbs(h) && strings.HasSuffix(h, "/stddef.h") }) {
		t.Errorf("src/m.c headers %q lack the system header gcc -MD listed", m.Headers)
	}
	// build/obj/m.d is a candidate for lib/m.c too, but names src/m.c.
	if lm := g.Units[1]; lm.From != "scan" || lm.Depfile != "" {
		t.Errorf("lib/m.c = %+v, want a scan", lm)
	}
	if got := g.Dependents("include/p/x.h"); !slices.Equal(got, []string{"src/m.c"}) {
		t.Errorf("Dependents(include/p/x.h) = %q", got)
	}

	// A header newer than the depfile: the depfile may be stale. The scan
	// is used, and the depfile's headers that still exist are kept.
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(root, "include/p/x.h"), future, future); err != nil {
		t.Fatal(err)
	}
	m = walk().Units[0]
	if m.From != "scan+depfile" || !slices.Contains(m.Headers, "include/p/x.h") || !slices.Contains(m.External, "<stddef.h>") {
		t.Errorf("src/m.c with a newer header = %+v", m)
	}

	// Recompiled: current again.
	run(t, root, "touch", "-d", "@0", "include/p/x.h")
	run(t, root, "gcc", "-Iinclude", `-DMACRO_H="p/x.h"`, "-MD", "-c", "src/m.c", "-o", "build/obj/m.o")
	if m = walk().Units[0]; m.From != "depfile" {
		t.Errorf("src/m.c after recompiling = %+v", m)
	}
}

func TestWalkDependenciesDepfileResolver(t *testing.T) {
	needTool(t, "gcc")
	root := testenv.Tree(t, map[string]string{"a.h": "", "u.c": "#include \"a.h\"\n"})
	if err := os.MkdirAll(filepath.Join(root, "objs"), 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, root, "gcc", "-MMD", "-MF", "objs/u.dep", "-c", "u.c", "-o", "objs/u.o")
	d := New(Options{DepfilePaths: func(root, unit string) []string {
		return []string{filepath.Join(root, "objs", strings.TrimSuffix(unit, ".c")+".dep")}
	}})
	g, err := d.WalkDependencies(root, nil, []string{"u.c"})
	if err != nil {
		t.Fatal(err)
	}
	if u := g.Units[0]; u.From != "depfile" || u.Depfile != "objs/u.dep" || !slices.Equal(u.Headers, []string{"a.h"}) {
		t.Errorf("u.c = %+v", u)
	}
}

func TestDefaultDepfilePaths(t *testing.T) {
	got := DefaultDepfilePaths("/p", "src/a.c")
	want := []string{
		"/p/build/obj/src/a.c.d", "/p/build/obj/src/a.d", "/p/build/obj/src/a.c.o.d", "/p/build/obj/src/a.o.d",
		"/p/build/obj/a.c.d", "/p/build/obj/a.d", "/p/build/obj/a.c.o.d", "/p/build/obj/a.o.d",
	}
	if !slices.Equal(got, want) {
		t.Errorf("DefaultDepfilePaths = %q, want %q", got, want)
	}
}
