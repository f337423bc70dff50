package project

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/jmake/jmake/internal/testenv"
)

// loadTargets writes files into a temp dir and resolves its targets.
func loadTargets(t *testing.T, files map[string]string, p Profile) ([]*Target, error) {
	t.Helper()
	dir := testenv.Tree(t, files)
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c.Targets(dir, p)
}

func byName(ts []*Target, name string) *Target {
	for _, t := range ts {
		if t.Name == name {
			return t
		}
	}
	return nil
}

const geomToml = `[project]
name = "geom"
version = "1.2.3"

[compile]
c_std = "c11"
flags = ["-Wall"]
include_dirs = ["include"]
defines = { LEVEL = "1", KEEP = "" }

[[library]]
name = "geom"
sources = ["src/*.c"]

[[library]]
name = "extra"
type = "static"
sources = ["extra/*.c"]
links = ["geom"]

[[program]]
name = "shapes"
sources = ["app/main.c"]
links = ["extra"]
flags = ["-O0"]
c_std = "c99"
defines = { LEVEL = "2" }
include_dirs = ["app"]
`

// Targets inherit [compile] and add their own; links are transitive, in
// link order; a versioned library gets its soname and symlinks.
func TestTargetsResolve(t *testing.T) {
	ts, err := loadTargets(t, map[string]string{"jmake.toml": geomToml}, Profile{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 3 {
		t.Fatalf("%d targets", len(ts))
	}
	geom, shapes := byName(ts, "geom"), byName(ts, "shapes")
	if b := geom.Config.Binary; b.LibraryName != "libgeom.so.1.2.3" || b.Soname != "libgeom.so.1" || geom.Kind != KindShared {
		t.Errorf("geom: %+v kind %s", b, geom.Kind)
	}
	if !reflect.DeepEqual(geom.Symlinks, []string{"libgeom.so.1", "libgeom.so"}) {
		t.Errorf("geom symlinks: %q", geom.Symlinks)
	}
	if !reflect.DeepEqual(shapes.Links, []string{"extra", "geom"}) {
		t.Errorf("shapes links %q, want extra then geom", shapes.Links)
	}
	flags := shapes.Config.FlagsFor("", "app/main.c")
	want := []string{"-std=c99", "-Wall", "-O0", "-Iinclude", "-Iapp", "-DKEEP", "-DLEVEL=2"}
	if !reflect.DeepEqual(flags, want) {
		t.Errorf("shapes flags %q, want %q", flags, want)
	}
	cm := shapes.Config.Compile
	if !slices.Equal(cm.LinkLibraries[:2], []string{"build/libextra.a", "build/libgeom.so.1.2.3"}) {
		t.Errorf("shapes link libraries %q", cm.LinkLibraries)
	}
	if !slices.Contains(cm.LinkFlags, "-Wl,-rpath,$ORIGIN:$ORIGIN/../lib") {
		t.Errorf("shapes link flags lack the rpath: %q", cm.LinkFlags)
	}
	if !slices.Contains(shapes.LinkInputs, "build/libgeom.so.1.2.3") {
		t.Errorf("shapes link inputs %q", shapes.LinkInputs)
	}
	if shapes.Config.Paths.Build != "build/shapes.dir" || shapes.Config.Paths.Output != "build" {
		t.Errorf("shapes paths %+v", shapes.Config.Paths)
	}
	// The project's own [compile] is left as it was.
	if geom.Config.Compile.Defines["LEVEL"] != "1" {
		t.Errorf("a target's define leaked: %v", geom.Config.Compile.Defines)
	}
}

// A profile adds its flags and moves every output into its directory,
// under its own state key.
func TestTargetsProfile(t *testing.T) {
	ts, err := loadTargets(t, map[string]string{"jmake.toml": geomToml}, Profile{Name: "debug", Sanitize: []string{"address"}})
	if err != nil {
		t.Fatal(err)
	}
	shapes := byName(ts, "shapes")
	if p := shapes.Config.Paths; p.Build != "build/debug-san-address/shapes.dir" || p.Output != "build/debug-san-address" {
		t.Errorf("paths %+v", p)
	}
	f := shapes.Config.Compile.Flags
	if !slices.Contains(f, "-O0") || !slices.Contains(f, "-g") || !slices.Contains(f, "-fsanitize=address") {
		t.Errorf("flags %q", f)
	}
	if !slices.Contains(shapes.Config.Compile.LinkFlags, "-fsanitize=address") {
		t.Errorf("link flags %q lack the sanitizer", shapes.Config.Compile.LinkFlags)
	}
	if !strings.Contains(shapes.StateKey, "debug") {
		t.Errorf("state key %q", shapes.StateKey)
	}
	if _, err := loadTargets(t, map[string]string{"jmake.toml": geomToml}, Profile{Name: "fast"}); err == nil || !strings.Contains(err.Error(), `unknown profile "fast"`) {
		t.Errorf("unknown profile: %v", err)
	}
}

// Without [[test]] tables, tests/*.c are tests linking the libraries; the
// single-output form is one target with the [binary] output.
func TestTargetsConventionAndSingle(t *testing.T) {
	ts, err := loadTargets(t, map[string]string{
		"jmake.toml":     "[project]\nname = \"one\"\n[compile]\npkg = [\"zlib\"]\n",
		"src/a.c":        "",
		"tests/t_a.c":    "",
		"tests/t_b.cpp":  "",
		"tests/notes.md": "",
	}, Profile{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tg := range ts {
		names = append(names, tg.Name+":"+tg.Kind)
	}
	if !reflect.DeepEqual(names, []string{"one:shared", "t_a:test", "t_b:test"}) {
		t.Fatalf("targets %q", names)
	}
	one, ta := ts[0], ts[1]
	if one.StateKey != "" || one.Config.Paths.Build != "build" || one.Config.Binary.LibraryName != "libone.so" || !slices.Equal(one.Pkg, []string{"zlib"}) {
		t.Errorf("single output changed: key %q %+v %+v", one.StateKey, one.Config.Paths, one.Config.Binary)
	}
	if !reflect.DeepEqual(ta.Links, []string{"one"}) || ta.Dir != "tests" {
		t.Errorf("t_a: links %q dir %q", ta.Links, ta.Dir)
	}
	sel, err := Select(ts, nil, false)
	if err != nil || len(sel) != 1 {
		t.Errorf("Select without tests: %d targets, %v", len(sel), err)
	}
	sel, err = Select(ts, []string{"t_b"}, false)
	if err != nil || len(sel) != 2 {
		t.Errorf("Select t_b: %d targets (want it and its library), %v", len(sel), err)
	}
	if _, err := Select(ts, []string{"nope"}, false); err == nil || !strings.Contains(err.Error(), `no target "nope" (targets: one, t_a, t_b)`) {
		t.Errorf("Select nope: %v", err)
	}
}

// Mistakes name jmake.toml and the line of the table.
func TestTargetsErrors(t *testing.T) {
	for _, tc := range []struct {
		name, toml, want string
	}{
		{"twice", "[[library]]\nname = \"a\"\n\n[[program]]\nname = \"a\"\nsources = [\"m.c\"]\n", `jmake.toml:4: target "a" is declared twice (also at `},
		{"unknown", "[[program]]\nname = \"p\"\nsources = [\"m.c\"]\nlinks = [\"zz\"]\n", `jmake.toml:1: target "p" links "zz", which is not a library`},
		{"program", "[[program]]\nname = \"p\"\nsources = [\"m.c\"]\n\n[[program]]\nname = \"q\"\nsources = [\"m.c\"]\nlinks = [\"p\"]\n", `jmake.toml:5: target "q" links "p", which is a program, not a library`},
		{"cycle", "[[library]]\nname = \"a\"\nlinks = [\"b\"]\n\n[[library]]\nname = \"b\"\nlinks = [\"a\"]\n", `jmake.toml:1: targets link each other in a cycle: a -> b -> a`},
		{"no sources", "[[test]]\nname = \"t\"\n", `jmake.toml:1: [[test]] "t" has no sources`},
		{"no name", "[[library]]\nsources = [\"a.c\"]\n", `jmake.toml:1: a target without a name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadTargets(t, map[string]string{"jmake.toml": tc.toml}, Profile{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), filepath.Join("", FileName)) {
				t.Errorf("err does not name the file: %v", err)
			}
		})
	}
}

// TestAcceptedValuesAreCopies checks that a caller changing the profile or
// opt-level list it got cannot change what validation accepts.
func TestAcceptedValuesAreCopies(t *testing.T) {
	p := Profiles()
	p[0] = "changed"
	if err := (Profile{Name: "debug"}).Check(); err != nil {
		t.Fatalf("profile debug refused after a caller changed its copy: %v", err)
	}
	o := OptLevels()
	o[0] = "changed"
	if !slices.Contains(OptLevels(), "0") {
		t.Fatalf("OptLevels() after a caller changed its copy = %v, want it to hold \"0\"", OptLevels())
	}
}
