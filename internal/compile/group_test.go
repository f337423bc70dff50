package compile

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jmake/jmake/internal/project"
)

// runDemoApp links the generated project's app/main.c against the library
// in root's build dir and returns what it prints.
func runDemoApp(t *testing.T, root string) string {
	t.Helper()
	app := filepath.Join(t.TempDir(), "app")
	out, err := exec.Command("gcc", "-O2", "-I"+filepath.Join(root, "include"), "-o", app,
		filepath.Join(root, "app/main.c"), "-L"+filepath.Join(root, "build"), "-ldemo").CombinedOutput()
	if err != nil {
		t.Fatalf("link app: %v\n%s", err, out)
	}
	cmd := exec.Command(app)
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+filepath.Join(root, "build"))
	out, err = cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run app: %v\n%s", err, out)
	}
	return string(out)
}

// groupObjectsIn lists the link groups' objects in root's build dir.
func groupObjectsIn(t *testing.T, root string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(root, "build/link/*.o"))
	return m
}

func explained(o outcome, prefix string) []string {
	var out []string
	for _, e := range o.res.Explain {
		if strings.HasPrefix(e, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// TestLinkGroups builds a project big enough for link groups and checks
// that the library is the one a direct link makes (same symbols, same
// program output), that an edit relinks one group, an added unit at most
// two, that incremental and clean builds make the same bytes, and that a
// clean tree takes its groups from the cache.
func TestLinkGroups(t *testing.T) {
	requireTools(t, "nm")
	root := t.TempDir()
	genProject(t, root, 100)
	backdate(t, root)
	te := newEnv(t, 0)
	first := te.mustBuild(t, root, nil)
	groups := groupObjectsIn(t, root)
	if len(groups) < 2 || int64(len(groups)) != te.e.groupLinks.Load() {
		t.Fatalf("%d group objects, %d partial links", len(groups), te.e.groupLinks.Load())
	}

	// "auto" links an output made of groups with the first installed of
	// groupedLinkerOrder.
	for _, name := range groupedLinkerOrder {
		if _, err := exec.LookPath("ld." + name); err == nil {
			if first.res.Linker != name {
				t.Errorf("auto linked the groups with %q, want %q (the first of %v installed)", first.res.Linker, name, groupedLinkerOrder)
			}
			break
		}
	}

	// The same tree linked from the objects directly.
	direct := t.TempDir()
	copyTree(t, root, direct)
	os.RemoveAll(filepath.Join(direct, "build"))
	replaceInFile(t, filepath.Join(direct, "jmake.toml"), "[binary]", "[binary]\npartial_link = false")
	// "auto" may pick another linker without groups; the comparison is of
	// grouping alone, so the direct link uses the grouped link's linker.
	replaceInFile(t, filepath.Join(direct, "jmake.toml"), "[compile]", "[compile]\nlinker = \""+first.res.Linker+"\"")
	de := newEnv(t, 0)
	d := de.mustBuild(t, direct, nil)
	if de.e.groupLinks.Load() != 0 || len(groupObjectsIn(t, direct)) != 0 {
		t.Fatalf("partial_link = false still made %d groups", de.e.groupLinks.Load())
	}
	if x, y := nmDynamic(t, first.res.Output), nmDynamic(t, d.res.Output); x != y {
		t.Fatalf("nm -D of the grouped link differs from the direct link's:\n%s\n---\n%s", x, y)
	}
	if x, y := runDemoApp(t, root), runDemoApp(t, direct); x != y || x == "" {
		t.Fatalf("the program prints %q with the grouped library, %q with the direct one", x, y)
	}

	// An edit relinks the one group holding the unit.
	replaceInFile(t, filepath.Join(root, "src/mod_0042.c"), "_salt = 0u;", "_salt = 7u;")
	before := te.e.groupLinks.Load()
	o := te.mustBuild(t, root, nil)
	if !slices.Equal(o.compiled, []string{"src/mod_0042.c"}) || !o.linked || te.e.groupLinks.Load()-before != 1 {
		t.Fatalf("edit: compiled %v, linked %v, %d partial links", o.compiled, o.linked, te.e.groupLinks.Load()-before)
	}
	if g := explained(o, "link group "); len(g) != 1 || !strings.HasSuffix(g[0], ": linked") {
		t.Fatalf("edit: explain %q", o.res.Explain)
	}

	// A unit added at the front changes the group it falls in (two if it
	// ends a group itself), not every group after it.
	writeFile(t, filepath.Join(root, "src/aaa_added.c"), "int aaa_added(int x) { return x + 1; }\n")
	before = te.e.groupLinks.Load()
	o = te.mustBuild(t, root, nil)
	if n := te.e.groupLinks.Load() - before; n < 1 || n > 2 || !strings.Contains(nmDynamic(t, o.res.Output), "aaa_added") {
		t.Fatalf("add: %d partial links (want 1 or 2)", n)
	}
	os.Remove(filepath.Join(root, "src/mod_0077.c"))
	inc := te.mustBuild(t, root, nil)
	if strings.Contains(nmDynamic(t, inc.res.Output), "mod_0077_run") {
		t.Fatal("removed unit still linked")
	}
	if got := len(groupObjectsIn(t, root)); got != len(splitGroups(sources(t, root, mustLoad(t, root)))) {
		t.Fatalf("%d group objects on disk after adding and removing units", got)
	}

	// A clean build of the same tree elsewhere makes the same bytes.
	clean := t.TempDir()
	copyTree(t, root, clean)
	os.RemoveAll(filepath.Join(clean, "build"))
	full := newEnv(t, 0).mustBuild(t, clean, nil)
	x, err := os.ReadFile(inc.res.Output)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(full.res.Output)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Fatal("the incrementally built library differs from a clean build's")
	}

	// A clean tree with a warm cache restores objects and groups: no
	// compiler, no partial link.
	before = te.e.groupLinks.Load()
	o = te.mustBuild(t, root, func(r *Request) { r.Clean = true })
	if len(o.compiled) != 0 || te.e.groupLinks.Load() != before || len(explained(o, "link group ")) == 0 {
		t.Fatalf("clean from cache: compiled %d, %d partial links, explain %q", len(o.compiled), te.e.groupLinks.Load()-before, o.res.Explain)
	}
	for _, e := range explained(o, "link group ") {
		if !strings.HasSuffix(e, ": restored from the cache") {
			t.Fatalf("clean from cache: %s", e)
		}
	}
	if z, _ := os.ReadFile(o.res.Output); !bytes.Equal(x, z) {
		t.Fatal("the library rebuilt from the cache differs")
	}
}

// TestLinkGroupFallback: a linker that cannot partially link (here a
// wrapper refusing -r, found through -B) still gets the output linked, from
// the objects, and is not asked for partial links again.
func TestLinkGroupFallback(t *testing.T) {
	ld, err := exec.LookPath("ld")
	if err != nil {
		t.Skip("no ld on PATH")
	}
	root := t.TempDir()
	genProject(t, root, 70)
	bin := t.TempDir()
	writeFile(t, filepath.Join(bin, "ld"), "#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = -r ] && { echo 'ld: no partial links here' >&2; exit 1; }; done\nexec "+ld+" \"$@\"\n")
	if err := os.Chmod(filepath.Join(bin, "ld"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The driver's own linker, ld, which -B replaces.
	replaceInFile(t, filepath.Join(root, "jmake.toml"), "[compile]", "[compile]\nlinker = \"default\"\nlink_flags = [\"-B"+bin+"/\"]")
	te := newEnv(t, 0)
	o := te.mustBuild(t, root, nil)
	if !slices.Contains(o.res.Explain, "link: partial link failed, linking the objects directly") {
		t.Fatalf("explain %q", o.res.Explain)
	}
	if !strings.Contains(nmDynamic(t, o.res.Output), "mod_0001_run") {
		t.Fatal("library not linked from the objects")
	}
	replaceInFile(t, filepath.Join(root, "src/mod_0003.c"), "_salt = 0u;", "_salt = 9u;")
	o = te.mustBuild(t, root, nil)
	if !o.linked || len(explained(o, "link: partial")) != 0 || len(explained(o, "link group")) != 0 {
		t.Fatalf("partial links tried again: explain %q", o.res.Explain)
	}
}

// TestGroupsDroppedBelowThreshold: a project that shrinks below
// groupMinUnits is linked from its objects, and its group objects go.
func TestGroupsDroppedBelowThreshold(t *testing.T) {
	root := t.TempDir()
	genProject(t, root, groupMinUnits+2)
	te := newEnv(t, 0)
	te.mustBuild(t, root, nil)
	if len(groupObjectsIn(t, root)) == 0 {
		t.Fatal("no link groups to begin with")
	}
	for i := range 10 {
		os.Remove(filepath.Join(root, "src", fmt.Sprintf("mod_%04d.c", 50+i)))
	}
	o := te.mustBuild(t, root, nil)
	if !o.linked || o.res.Units >= groupMinUnits {
		t.Fatalf("linked %v with %d units", o.linked, o.res.Units)
	}
	if _, err := os.Stat(filepath.Join(root, "build", "link")); !os.IsNotExist(err) {
		t.Fatalf("build/link still there: %v", err)
	}
	if !strings.Contains(nmDynamic(t, o.res.Output), "mod_0001_run") {
		t.Fatal("library not linked from the objects")
	}
}

// TestNoGroupsForPerInputOptions: options that work per input section or
// object, LTO, static libraries and small projects link from the objects.
func TestNoGroupsForPerInputOptions(t *testing.T) {
	base := func() *project.Config {
		c := &project.Config{}
		c.Binary.LibraryType = project.Shared
		return c
	}
	no := false
	cases := []struct {
		name  string
		units int
		mod   func(*project.Config)
		want  bool
	}{
		{"plain", 100, func(*project.Config) {}, true},
		{"executable", 100, func(c *project.Config) { c.Binary.LibraryType = project.Executable }, true},
		{"few units", groupMinUnits - 1, func(*project.Config) {}, false},
		{"static", 100, func(c *project.Config) { c.Binary.LibraryType = project.Static }, false},
		{"partial_link = false", 100, func(c *project.Config) { c.Binary.PartialLink = &no }, false},
		{"lto", 100, func(c *project.Config) { c.Target.LTO = true }, false},
		{"-flto=auto", 100, func(c *project.Config) { c.Compile.CFlags = []string{"-flto=auto"} }, false},
		{"gc-sections", 100, func(c *project.Config) { c.Compile.LinkFlags = []string{"-Wl,--as-needed,--gc-sections"} }, false},
		{"icf", 100, func(c *project.Config) { c.Compile.LinkFlags = []string{"-fuse-ld=gold", "-Wl,--icf=all"} }, false},
		{"linker script", 100, func(c *project.Config) { c.Compile.LinkFlags = []string{"-Tlink.ld"} }, false},
		{"-Wl script", 100, func(c *project.Config) { c.Compile.LinkFlags = []string{"-Wl,--script=link.ld"} }, false},
		{"version script", 100, func(c *project.Config) { c.Compile.LinkFlags = []string{"-Wl,--version-script,x.map"} }, true},
		{"-Wl,-rpath", 100, func(c *project.Config) { c.Compile.LinkFlags = []string{"-Wl,-rpath,/opt/lib"} }, true},
	}
	for _, tc := range cases {
		c := base()
		tc.mod(c)
		if got := groupable(c, nil, tc.units); got != tc.want {
			t.Errorf("%s: groupable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSplitGroups: groups cover the units in order, respect groupMax, and
// an inserted unit changes at most two groups.
func TestSplitGroups(t *testing.T) {
	var units []string
	for i := range 1000 {
		units = append(units, fmt.Sprintf("src/mod_%04d.c", i))
	}
	groups := splitGroups(units)
	if n := len(groups); n < 1000/groupSpan/3 || n > 1000/groupSpan*3 {
		t.Fatalf("%d groups for 1000 units (mean span %d)", n, groupSpan)
	}
	var all []string
	for _, g := range groups {
		if len(g) > groupMax {
			t.Fatalf("group of %d > %d", len(g), groupMax)
		}
		all = append(all, g...)
	}
	if !slices.Equal(all, units) {
		t.Fatal("groups do not cover the units in order")
	}
	key := func(g []string) string { return strings.Join(g, " ") }
	old := map[string]bool{}
	for _, g := range groups {
		old[key(g)] = true
	}
	for _, added := range []string{"src/aaa.c", "src/mod_0500x.c", "src/zzz.c"} {
		at, _ := slices.BinarySearch(units, added)
		next := slices.Insert(slices.Clone(units), at, added)
		changed := 0
		for _, g := range splitGroups(next) {
			if !old[key(g)] {
				changed++
			}
		}
		if changed < 1 || changed > 2 {
			t.Errorf("adding %s changed %d groups", added, changed)
		}
	}
}

// TestLinkGroupsCXX links a C++ program from link groups: an inline
// function's and a template's COMDAT copies must be folded into one across
// groups, and every unit's static constructor must run.
func TestLinkGroupsCXX(t *testing.T) {
	requireTools(t, "g++", "nm")
	const units = groupMinUnits + 6
	files := map[string]string{
		"jmake.toml": "[project]\nname = \"reg\"\n[binary]\nlibrary_type = \"executable\"\n[compile]\ninclude_dirs = [\"include\"]\n",
		"include/reg.hpp": `#pragma once
inline int& counter() { static int c = 0; return c; }
template <int N> struct Reg { Reg() { counter() += N; } };
template <class T> T twice(T x) { return x + x; }
`,
		"src/main.cpp": "#include <cstdio>\n#include \"reg.hpp\"\nint main() { std::printf(\"%d %d\\n\", counter(), twice(21)); }\n",
	}
	want := 0
	for i := 1; i <= units; i++ {
		files[fmt.Sprintf("src/u%03d.cpp", i)] = fmt.Sprintf("#include \"reg.hpp\"\nstatic Reg<%d> reg;\nint u%03d() { return twice(%d); }\n", i, i, i)
		want += i
	}
	root := writeProject(t, files)
	te := newEnv(t, 0)
	o := te.mustBuild(t, root, nil)
	if te.e.groupLinks.Load() < 2 {
		t.Fatalf("%d partial links; the program was not linked from groups", te.e.groupLinks.Load())
	}
	out, err := exec.Command(o.res.Output).CombinedOutput()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != fmt.Sprintf("%d 42", want) {
		t.Fatalf("program printed %q, want \"%d 42\"", got, want)
	}
	nm, err := exec.Command("nm", "-C", "--defined-only", o.res.Output).Output()
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(nm), "int twice<int>(int)"); n != 1 {
		t.Fatalf("twice<int> defined %d times in the program", n)
	}
}
