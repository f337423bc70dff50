package compile

import (
	"bytes"
	"context"
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
// (trimSearch): a partial link searches no directory, no link reads one
// directory twice, and an output's link with bfd or gold names the
// linker's default directories itself.
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
				continue // a default directory this system lacks
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
			if len(dirs) == 0 {
				t.Errorf("the output's link lost its library search: %q", shape.args)
			}
			// bfd and gold name their default directories (linkerDefaults),
			// which then join the -L list.
			if b := filepath.Base(shape.prog); (b == "ld.bfd" || b == "ld.gold") != slices.Contains(shape.args, "-nostdlib") {
				t.Errorf("%s: -nostdlib %v: %q", b, slices.Contains(shape.args, "-nostdlib"), shape.args)
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

// TestTrimSearch: -L directories named twice are read once, the linker's
// default directories join the list unless it names them already, and a
// script keeps the defaults where they are.
func TestTrimSearch(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"a", "b", "sys"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("a", filepath.Join(dir, "a2")); err != nil {
		t.Fatal(err)
	}
	sys := filepath.Join(dir, "sys")
	args := []string{"-o", directOut, "-La", "-Lb", "-La2", "-L" + filepath.Join(dir, "a"), directIn, "-lc"}
	got := trimSearch(args, dir, []string{filepath.Join(dir, "b"), sys, "/no/such/dir"})
	want := []string{"-o", directOut, "-La", "-Lb", directIn, "-lc", "-L" + sys, "-L/no/such/dir", "-nostdlib"}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	scripted := append(slices.Clone(args), "-Tlink.ld")
	got = trimSearch(scripted, dir, []string{sys})
	want = []string{"-o", directOut, "-La", "-Lb", directIn, "-lc", "-Tlink.ld"}
	if !slices.Equal(got, want) {
		t.Errorf("with a script: got %q, want %q", got, want)
	}
	got = trimSearch([]string{"-o", directOut, "-r", "-La", directIn}, dir, []string{sys})
	want = []string{"-o", directOut, "-r", directIn, "-nostdlib"}
	if !slices.Equal(got, want) {
		t.Errorf("partial link: got %q, want %q", got, want)
	}
}

// TestLinkerDefaults: bfd and gold name the directories they search
// beyond -L, among them the system's library directory; lld and mold
// search none.
func TestLinkerDefaults(t *testing.T) {
	b := &build{ctx: context.Background(), root: t.TempDir(), environ: os.Environ()}
	usrLib, err := os.Stat("/usr/lib")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bfd", "gold", "lld", "mold"} {
		prog, err := exec.LookPath("ld." + name)
		if err != nil {
			t.Logf("ld.%s not installed: %v", name, err)
			continue
		}
		dirs := b.linkerDefaults(prog, []string{"-m", "elf_x86_64"})
		if name == "lld" || name == "mold" {
			if dirs != nil {
				t.Errorf("ld.%s: %q, want none", name, dirs)
			}
			continue
		}
		if !slices.ContainsFunc(dirs, func(d string) bool {
			fi, err := os.Stat(d)
			return err == nil && os.SameFile(fi, usrLib)
		}) {
			t.Errorf("ld.%s: %q, without /usr/lib", name, dirs)
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
