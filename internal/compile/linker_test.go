package compile

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jmake/jmake/internal/toolenv"
)

// definedSymbols is the dynamic symbols lib defines, by type and name,
// without those a linker defines itself: gold exports __bss_start, _edata
// and _end, which the others keep local.
func definedSymbols(tb testing.TB, lib string) []string {
	tb.Helper()
	var out []string
	for _, line := range strings.Split(nmDynamic(tb, lib), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		typ, name := f[len(f)-2], f[len(f)-1]
		switch name {
		case "__bss_start", "_edata", "_end":
			continue
		}
		out = append(out, typ+" "+name)
	}
	slices.Sort(out)
	return out
}

// TestEveryLinker builds a shared library big enough for link groups (so
// partial links run through each linker too) with every linker present,
// and checks that each exports the same symbols as GNU ld's, that a
// program linked against it, and one jmake links with the same linker,
// run the same, that the build names the linker, and that changing
// linker relinks without compiling.
func TestEveryLinker(t *testing.T) {
	requireTools(t, "nm", "ld.bfd")
	root := t.TempDir()
	genProject(t, root, 100)
	te := newEnv(t, 0)

	o := te.mustBuild(t, root, func(r *Request) { r.Config.Compile.Linker = "bfd" })
	if o.res.Linker != "bfd" || len(explained(o, "link: linker bfd (GNU ld")) != 1 {
		t.Fatalf("Linker %q, explain %q", o.res.Linker, o.res.Explain)
	}
	if len(groupObjectsIn(t, root)) == 0 {
		t.Fatal("no link groups: the partial links are not exercised")
	}
	wantSyms := definedSymbols(t, o.res.Output)
	wantRun := runDemoApp(t, root)

	for _, name := range []string{"gold", "lld", "mold", "bfd"} {
		t.Run(name, func(t *testing.T) {
			if _, err := exec.LookPath("ld." + name); err != nil {
				t.Skipf("linker %s not installed (ld.%s not on PATH): %v", name, name, err)
			}
			o := te.mustBuild(t, root, func(r *Request) { r.Config.Compile.Linker = name })
			if o.res.Linker != name || o.res.Compiled != 0 || !o.linked ||
				!slices.Contains(o.res.Explain, "link: link settings changed") ||
				len(explained(o, "link: linker "+name+" (")) != 1 {
				t.Fatalf("linker %q compiled %d linked %v explain %q", o.res.Linker, o.res.Compiled, o.linked, o.res.Explain)
			}
			if got := definedSymbols(t, o.res.Output); !slices.Equal(got, wantSyms) {
				t.Errorf("%s exports %d symbols, bfd %d; first of %s: %q", name, len(got), len(wantSyms), name, got[:min(5, len(got))])
			}
			if got := runDemoApp(t, root); got != wantRun {
				t.Errorf("program linked against %s's library prints %q, against bfd's %q", name, got, wantRun)
			}
			if got := buildDemoProgram(t, te, root, name); got != wantRun {
				t.Errorf("program linked by %s prints %q, by gcc's default %q", name, got, wantRun)
			}
			if o := te.mustBuild(t, root, func(r *Request) { r.Config.Compile.Linker = name }); o.linked {
				t.Errorf("same linker again relinked: %q", o.res.Explain)
			}
		})
	}
}

// buildDemoProgram builds the generated project's app/main.c as a program
// of its own, linked by linker against the library in root's build dir,
// runs it and returns what it prints.
func buildDemoProgram(t *testing.T, te *testEnv, root, linker string) string {
	t.Helper()
	lib := filepath.Join(root, "build")
	main, err := os.ReadFile(filepath.Join(root, "app", "main.c"))
	if err != nil {
		t.Fatal(err)
	}
	app := writeProject(t, map[string]string{
		"jmake.toml": fmt.Sprintf("[project]\nname = \"app\"\n[binary]\nlibrary_type = \"executable\"\n"+
			"[compile]\nlinker = %q\ninclude_dirs = [%q]\nlink_flags = [%q, %q]\nlink_libraries = [\"demo\"]\n",
			linker, filepath.Join(root, "include"), "-L"+lib, "-Wl,-rpath,"+lib),
		"src/main.c": string(main),
	})
	o := te.mustBuild(t, app, nil)
	if o.res.Linker != linker {
		t.Fatalf("program linked by %q, want %q", o.res.Linker, linker)
	}
	out, err := exec.Command(o.res.Output).CombinedOutput()
	if err != nil {
		t.Fatalf("run the program linked by %s: %v\n%s", linker, err, out)
	}
	return string(out)
}

// TestLinkerChoice checks auto (the first usable of linkerOrder), the
// driver's default, that the probes are remembered, and that a -fuse-ld=
// of the link flags wins over [compile] linker.
func TestLinkerChoice(t *testing.T) {
	requireTools(t, "gcc", "ld.bfd")
	root := writeProject(t, map[string]string{
		"jmake.toml": "[project]\nname = \"lc\"\n",
		"src/a.c":    "int lc_a(void) { return 1; }\n",
	})
	te := newEnv(t, 0)
	var want string
	for _, name := range linkerOrder {
		if _, err := exec.LookPath("ld." + name); err == nil {
			want = name
			break
		}
	}
	o := te.mustBuild(t, root, nil)
	if o.res.Linker != want {
		t.Errorf("auto chose %q, want %q (the first of %v installed)", o.res.Linker, want, linkerOrder)
	}
	probes := te.e.Counters().LinkerProbes
	if o := te.mustBuild(t, root, func(r *Request) { r.Clean = true }); o.res.Linker != want || te.e.Counters().LinkerProbes != probes {
		t.Errorf("second build: linker %q, probes %d -> %d (want them remembered)", o.res.Linker, probes, te.e.Counters().LinkerProbes)
	}
	o = te.mustBuild(t, root, func(r *Request) { r.Config.Compile.Linker = "default" })
	if o.res.Linker != "default" || !o.linked {
		t.Errorf("default: linker %q linked %v", o.res.Linker, o.linked)
	}
	// GCC's LTO objects: lld cannot link them, auto takes the next.
	o = te.mustBuild(t, root, func(r *Request) { r.Config.Target.LTO = true })
	if o.res.Linker == "lld" || o.res.Linker == "" {
		t.Errorf("LTO with gcc: linker %q", o.res.Linker)
	}
	if !strings.Contains(nmDynamic(t, o.res.Output), "lc_a") {
		t.Errorf("LTO library lacks lc_a")
	}
	o = te.mustBuild(t, root, func(r *Request) {
		r.Config.Compile.Linker = "gold"
		r.Config.Compile.LinkFlags = []string{"-fuse-ld=bfd"}
	})
	if o.res.Linker != "bfd" {
		t.Errorf("-fuse-ld=bfd in link_flags: linker %q", o.res.Linker)
	}
}

// TestUnusableLinker checks the error for a linker the driver cannot use.
func TestUnusableLinker(t *testing.T) {
	requireTools(t, "gcc")
	te := newEnv(t, 0)
	cc, err := te.e.resolveTool(context.Background(), toolenv.Env{}, "gcc", true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = te.e.usableLinker(context.Background(), toolenv.Env{}, cc, "nosuch")
	if err == nil || !strings.Contains(err.Error(), "ld.nosuch not found on PATH") {
		t.Fatalf("err = %v", err)
	}
}

func TestFuseLdFlag(t *testing.T) {
	if v, ok := fuseLdFlag([]string{"-fuse-ld=gold"}, []string{"-O2", "-fuse-ld=lld"}); !ok || v != "lld" {
		t.Errorf("got %q %v, want the last one, lld", v, ok)
	}
	if _, ok := fuseLdFlag([]string{"-Wl,--as-needed"}); ok {
		t.Error("found a -fuse-ld= where there is none")
	}
}
