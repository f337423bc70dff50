package compile

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDirectLinks: once the first link of a shape has proven that running
// the linker directly writes the driver's bytes, the partial link of an
// edited unit's group and the output's link skip the driver, and the
// library is still byte for byte a clean build's, with each linker.
func TestDirectLinks(t *testing.T) {
	for _, name := range []string{"bfd", "gold", "lld", "mold"} {
		t.Run(name, func(t *testing.T) {
			if _, err := exec.LookPath("ld." + name); err != nil {
				t.Skipf("ld.%s not installed: %v", name, err)
			}
			root := t.TempDir()
			genProject(t, root, 70)
			replaceInFile(t, filepath.Join(root, "jmake.toml"), "[compile]", "[compile]\nlinker = \""+name+"\"")
			te := newEnv(t, 0)
			te.mustBuild(t, root, nil)
			// The first partial link proves the groups' shape; others may
			// already link directly.
			before := te.e.directLinks.Load()
			replaceInFile(t, filepath.Join(root, "src/mod_0042.c"), "_salt = 0u;", "_salt = 5u;")
			o := te.mustBuild(t, root, nil)
			if !slices.Equal(o.compiled, []string{"src/mod_0042.c"}) || !o.linked {
				t.Fatalf("edit: compiled %v, linked %v", o.compiled, o.linked)
			}
			// The group's partial link and the output's.
			if n := te.e.directLinks.Load() - before; n != 2 {
				t.Fatalf("%d direct links after an edit, want 2 (its group, the output)", n)
			}
			assertSearchTrimmed(t, te.e)
			clean := t.TempDir()
			copyTree(t, root, clean)
			os.RemoveAll(filepath.Join(clean, "build"))
			full := newEnv(t, 0).mustBuild(t, clean, nil)
			assertSameFile(t, o.res.Output, full.res.Output)
			for _, g := range groupObjectsIn(t, root) {
				assertSameFile(t, g, filepath.Join(clean, "build", "link", filepath.Base(g)))
			}
		})
	}
}

// assertSearchTrimmed checks the proven direct links' library search
// (trimSearch): a partial link searches no directory, and no link reads
// one directory twice.
func assertSearchTrimmed(t *testing.T, e *Engine) {
	t.Helper()
	partial, full := 0, 0
	e.directShapes.Range(func(_, v any) bool {
		shape := v.(*directShape)
		if shape.state.Load() != directProven {
			return true
		}
		var dirs []os.FileInfo
		for _, a := range shape.args {
			d, ok := strings.CutPrefix(a, "-L")
			if !ok {
				continue
			}
			fi, err := os.Stat(d)
			if err != nil {
				t.Fatalf("%s: %v", a, err)
			}
			for _, s := range dirs {
				if os.SameFile(s, fi) {
					t.Errorf("%s names a directory twice: %q", shape.prog, shape.args)
				}
			}
			dirs = append(dirs, fi)
		}
		if slices.Contains(shape.args, "-r") {
			partial++
			if len(dirs) != 0 || !slices.Contains(shape.args, "-nostdlib") {
				t.Errorf("partial link searches directories: %q", shape.args)
			}
		} else {
			full++
			if len(dirs) == 0 || slices.Contains(shape.args, "-nostdlib") {
				t.Errorf("the output's link lost its library search: %q", shape.args)
			}
		}
		return true
	})
	if partial == 0 || full == 0 {
		t.Fatalf("proven shapes: %d partial links, %d output links; want both", partial, full)
	}
}

// TestSearchesNothing: only a link of objects alone searches nothing.
func TestSearchesNothing(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"--eh-frame-hdr", "-m", "elf_x86_64", "-dynamic-linker", "/lib64/ld-linux-x86-64.so.2", "-o", directOut, "-r", "-L/usr/lib", directIn}, true},
		{[]string{"-o", directOut, "-r", directIn, "-lm"}, false},
		{[]string{"-o", directOut, "-r", directIn, "--library=m"}, false},
		{[]string{"-o", directOut, "-r", directIn, "-Tlink.ld"}, false},
		{[]string{"-o", directOut, "-r", directIn, "@more.rsp"}, false},
		{[]string{"-o", directOut, "-shared", "/usr/lib/crti.o", directIn}, false},
		{[]string{"-o", directOut, "-r", "-z", "relro", directIn}, false},
	} {
		if got := searchesNothing(c.args); got != c.want {
			t.Errorf("searchesNothing(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}

// TestDirectLinkRefused: a link whose output differs from run to run (here
// a random build id) never proves its shape: the output's links all go
// through the driver, while the partial links, which do not take the
// flag, run directly.
func TestDirectLinkRefused(t *testing.T) {
	root := t.TempDir()
	genProject(t, root, 70)
	replaceInFile(t, filepath.Join(root, "jmake.toml"), "[compile]", "[compile]\nlinker = \"bfd\"\nlink_flags = [\"-Wl,--build-id=uuid\"]")
	te := newEnv(t, 0)
	te.mustBuild(t, root, nil)
	before := te.e.directLinks.Load()
	for _, salt := range []string{"1u", "2u", "3u"} {
		replaceInFile(t, filepath.Join(root, "src/mod_0042.c"), "_salt = 0u;", "_salt = "+salt+";")
		o := te.mustBuild(t, root, nil)
		if !o.linked {
			t.Fatalf("edit not relinked: %q", o.res.Explain)
		}
		replaceInFile(t, filepath.Join(root, "src/mod_0042.c"), "_salt = "+salt+";", "_salt = 0u;")
	}
	if n := te.e.directLinks.Load() - before; n != 3 {
		t.Fatalf("%d direct links in 3 edits, want 3 (the partial links; the output's link is not reproducible)", n)
	}
}

// TestSplitDriverLine reads -###'s quoting.
func TestSplitDriverLine(t *testing.T) {
	words, ok := splitDriverLine(` /usr/lib/gcc/collect2 -plugin /p.so "-plugin-opt=-fresolution=/tmp/a b.res" -o out "a\"b\\c" x.o`)
	want := []string{"/usr/lib/gcc/collect2", "-plugin", "/p.so", "-plugin-opt=-fresolution=/tmp/a b.res", "-o", "out", `a"b\c`, "x.o"}
	if !ok || !slices.Equal(words, want) {
		t.Fatalf("got %q, %v", words, ok)
	}
	for _, line := range []string{"COLLECT_GCC_OPTIONS='-shared'", ` "unterminated`} {
		if _, ok := splitDriverLine(line); ok {
			t.Errorf("%q taken for a command", line)
		}
	}
}

func assertSameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Fatalf("%s differs from %s", a, b)
	}
}
