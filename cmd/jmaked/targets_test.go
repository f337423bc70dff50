package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmake/jmake/internal/testenv"
)

// twoTargets is a versioned shared library of two units and a program
// that links it.
var twoTargets = map[string]string{
	"jmake.toml": `[project]
name = "core"
version = "1.2.3"

[compile]
flags = ["-Wall"]
include_dirs = ["include"]

[[library]]
name = "core"
sources = ["src/*.c"]

[[program]]
name = "app"
sources = ["app/main.c"]
links = ["core"]
`,
	"include/core.h": "int core_a(void);\nint core_b(void);\n",
	"src/a.c":        "#include \"core.h\"\nint core_a(void) { return 1; }\n",
	"src/b.c":        "#include \"core.h\"\nint core_b(void) { return 2; }\n",
	"app/main.c":     "#include <stdio.h>\n#include \"core.h\"\nint main(void) { printf(\"sum %d\\n\", core_a() + core_b()); return 0; }\n",
}

// twoTargetsWith writes twoTargets into a temp dir, then files over it.
func twoTargetsWith(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := testenv.Tree(t, twoTargets)
	testenv.WriteFiles(t, dir, files)
	return dir
}

// target returns the reply's entry for name.
func (r buildReply) target(t *testing.T, name string) (compiled int, linked bool) {
	t.Helper()
	for _, tg := range r.Targets {
		if tg.Name == name {
			return tg.Compiled, tg.Linked
		}
	}
	t.Fatalf("reply has no target %q: %+v", name, r.Targets)
	return 0, false
}

// readOutputs reads the library and the program.
func readOutputs(t *testing.T, dir string) [2][]byte {
	t.Helper()
	var out [2][]byte
	for i, n := range []string{"build/libcore.so.1.2.3", "build/app"} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

// An edit recompiles its unit and relinks its target, and the program
// that links a relinked library; a program's edit touches only the
// program; the result equals a clean build, byte for byte; and the
// in-process build gives the same outputs as the daemons.
func TestTargetsIncremental(t *testing.T) {
	e := testenv.New(t)
	dir := twoTargetsWith(t, nil)
	rep, r := buildJSON(t, e, dir)
	if !rep.Success || rep.Compiled != 3 || len(rep.Targets) != 2 {
		t.Fatalf("first build: %+v\n%s", rep, r.Stderr)
	}
	for link, want := range map[string]string{"libcore.so.1": "libcore.so.1.2.3", "libcore.so": "libcore.so.1.2.3"} {
		if got, err := os.Readlink(filepath.Join(dir, "build", link)); err != nil || got != want {
			t.Errorf("build/%s -> %q (%v), want %q", link, got, err, want)
		}
	}
	if out, err := exec.Command(filepath.Join(dir, "build", "app")).CombinedOutput(); err != nil || string(out) != "sum 3\n" {
		t.Fatalf("app from the build tree: %v %q", err, out)
	}

	rep, _ = buildJSON(t, e, dir)
	if c, l := rep.target(t, "app"); c != 0 || l || rep.Compiled != 0 {
		t.Fatalf("no-op: %+v", rep)
	}

	testenv.WriteFiles(t, dir, map[string]string{"src/a.c": "#include \"core.h\"\nint core_a(void) { return 10; }\n"})
	rep, _ = buildJSON(t, e, dir)
	if c, l := rep.target(t, "core"); c != 1 || !l {
		t.Errorf("library edit: core compiled %d, linked %v; want 1, true", c, l)
	}
	if c, l := rep.target(t, "app"); c != 0 || !l {
		t.Errorf("library edit: app compiled %d, linked %v; want 0, true (it links a relinked library)", c, l)
	}
	if out, _ := exec.Command(filepath.Join(dir, "build", "app")).CombinedOutput(); string(out) != "sum 12\n" {
		t.Errorf("app after the library edit: %q", out)
	}

	testenv.WriteFiles(t, dir, map[string]string{"app/main.c": strings.Replace(twoTargets["app/main.c"], "sum", "total", 1)})
	rep, _ = buildJSON(t, e, dir)
	if c, l := rep.target(t, "core"); c != 0 || l {
		t.Errorf("program edit: core compiled %d, linked %v; want 0, false", c, l)
	}
	if c, l := rep.target(t, "app"); c != 1 || !l {
		t.Errorf("program edit: app compiled %d, linked %v; want 1, true", c, l)
	}

	incremental := readOutputs(t, dir)
	e.MustRun("build", "--clean", dir)
	if clean := readOutputs(t, dir); !bytes.Equal(clean[0], incremental[0]) || !bytes.Equal(clean[1], incremental[1]) {
		t.Error("incremental outputs differ from a clean build's")
	}
	e.MustRun("clean", dir)
	e.MustRun("build", "--no-daemon", dir)
	if local := readOutputs(t, dir); !bytes.Equal(local[0], incremental[0]) || !bytes.Equal(local[1], incremental[1]) {
		t.Error("--no-daemon outputs differ from the daemons'")
	}

	// Named targets: the program and the library it links, nothing else.
	rep, _ = buildJSON(t, e, dir, "app")
	if !rep.Success || len(rep.Targets) != 2 {
		t.Errorf("build dir app: %+v", rep)
	}
}

// Mistakes in the targets are errors naming jmake.toml and the line.
func TestTargetErrors(t *testing.T) {
	e := testenv.New(t)
	base := twoTargets["jmake.toml"]
	for _, tc := range []struct {
		name, toml string
		args       []string
		want       string
	}{
		{"cycle", strings.Replace(base, "sources = [\"src/*.c\"]", "sources = [\"src/*.c\"]\nlinks = [\"core2\"]", 1) +
			"\n[[library]]\nname = \"core2\"\nsources = [\"src/b.c\"]\nlinks = [\"core\"]\n",
			nil, `jmake.toml:9:1: error: targets link each other in a cycle: core -> core2 -> core`},
		{"unknown link", strings.Replace(base, `links = ["core"]`, `links = ["nope"]`, 1),
			nil, `jmake.toml:13:1: error: target "app" links "nope", which is not a library of this project`},
		{"same output", base + "\n[[program]]\nname = \"app2\"\noutput = \"app\"\nsources = [\"app/main.c\"]\n",
			nil, `jmake.toml:18:1: error: target "app2" writes build/app, as does target "app"`},
		{"unknown target", base, []string{"nosuch"}, `no target "nosuch" (targets: core, app)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := twoTargetsWith(t, map[string]string{"jmake.toml": tc.toml})
			r := e.Run(append([]string{"build", "--no-daemon", dir}, tc.args...)...)
			if r.Code == 0 || !strings.Contains(r.Stderr, tc.want) {
				t.Fatalf("exit %d, want an error with %q:\n%s", r.Code, tc.want, r.Stderr)
			}
		})
	}
}

// A unit of one target that does not compile: its diagnostics show once,
// right below its unit's line, and the build ends with the plain summary,
// in daemon and --no-daemon builds alike.
func TestTargetsCompileErrorShownOnce(t *testing.T) {
	e := testenv.New(t)
	const msg = "‘undefined_var’ undeclared"
	for _, mode := range [][]string{{"--no-daemon"}, nil} {
		dir := twoTargetsWith(t, map[string]string{"src/b.c": "int core_b(void) { return undefined_var; }\n"})
		r := e.Run(append([]string{"build", "-j", "1", dir}, mode...)...)
		if r.Code != exitFailed || strings.Count(r.Stderr, msg) != 1 {
			t.Fatalf("%v: exit %d, want the error once:\n%s", mode, r.Code, r.Stderr)
		}
		if !strings.Contains(r.Stderr, "CC src/b.c\nsrc/b.c: In function") {
			t.Errorf("%v: the error does not follow its unit's line:\n%s", mode, r.Stderr)
		}
		if !strings.HasSuffix(r.Stderr, "jmake: src/b.c did not compile\n") {
			t.Errorf("%v: want the plain summary last:\n%s", mode, r.Stderr)
		}
	}
	e.Run("stop")
}
