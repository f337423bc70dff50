package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmake/jmake/internal/testenv"
)

// jmake test: passing tests pass; a failing, a crashing and a hung test
// each fail the run, named, with their output.
func TestJmakeTestFailures(t *testing.T) {
	e := testenv.New(t)
	dir := twoTargetsWith(t, map[string]string{
		"tests/pass.c":     "#include \"core.h\"\nint main(void) { return core_a() == 1 ? 0 : 1; }\n",
		"tests/fail.c":     "#include <stdio.h>\nint main(void) { printf(\"expected 2, got 3\\n\"); return 1; }\n",
		"tests/segv.c":     "#include <signal.h>\nint main(void) { raise(SIGSEGV); return 0; }\n",
		"tests/hang.c":     "#include <unistd.h>\nint main(void) { for (;;) pause(); }\n",
		"tests/data.txt":   "beside the test\n",
		"tests/readsdir.c": "#include <stdio.h>\nint main(void) { FILE *f = fopen(\"data.txt\", \"r\"); return f ? 0 : 1; }\n",
	})
	r := e.Run("test", "--no-daemon", dir, "pass", "readsdir")
	if r.Code != 0 || !strings.Contains(r.Stdout, "2 passed, 0 failed") {
		t.Fatalf("passing tests: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"fail", nil, []string{"FAILED (exit 1)", "expected 2, got 3"}},
		{"segv", nil, []string{"FAILED (signal: segmentation fault)"}},
		{"hang", []string{"--timeout", "500ms"}, []string{"FAILED (timeout 500ms)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.Run(append([]string{"test", "--no-daemon", dir, "pass", tc.name}, tc.args...)...)
			if r.Code == 0 {
				t.Fatalf("exit 0 with a failing test:\n%s", r.Stdout)
			}
			want := append(tc.want, tc.name, "1 passed, 1 failed\n")
			for _, w := range want {
				if !strings.Contains(r.Stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, r.Stdout)
				}
			}
		})
	}
}

// jmake install puts the library (with its symlinks), the program, the
// headers and a .pc under DESTDIR+prefix; without DESTDIR, the .pc lets
// gcc build a program against the installed library.
func TestInstall(t *testing.T) {
	e := testenv.New(t)
	dir := copyTree(t, filepath.Join(repoRoot(), "examples", "c"))
	destdir, prefix := t.TempDir(), "/opt/geom"
	cmd := exec.Command(e.Bin, "install", "--no-daemon", dir, "--prefix", prefix)
	cmd.Env = append(e.Environ(), "DESTDIR="+destdir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("install with DESTDIR: %v\n%s", err, out)
	}
	for _, p := range []string{"lib/libgeom.so.1.0.0", "lib/libgeom.so.1", "lib/libgeom.so", "bin/shapes", "include/geom/shape.h", "lib/pkgconfig/geom.pc"} {
		if _, err := os.Stat(filepath.Join(destdir, prefix, p)); err != nil {
			t.Errorf("not installed: %v", err)
		}
	}
	for _, p := range []string{"bin/test_vec", "bin/test_polygon"} {
		if _, err := os.Stat(filepath.Join(destdir, prefix, p)); err == nil {
			t.Errorf("a test was installed: %s", p)
		}
	}

	prefix = t.TempDir()
	e.MustRun("install", "--no-daemon", dir, "--prefix", prefix)
	pc, _ := os.ReadFile(filepath.Join(prefix, "lib", "pkgconfig", "geom.pc"))
	if !strings.Contains(string(pc), "Version: 1.0.0") {
		t.Errorf("geom.pc:\n%s", pc)
	}
	use := testenv.Tree(t, map[string]string{"use.c": "#include <stdio.h>\n#include <geom/shape.h>\nint main(void) { printf(\"%s\\n\", geom_version()); return 0; }\n"})
	sh := exec.Command("sh", "-c", `gcc use.c $(pkg-config --cflags --libs geom) -o use && ./use`)
	sh.Dir = use
	sh.Env = append(os.Environ(), "PKG_CONFIG_PATH="+filepath.Join(prefix, "lib", "pkgconfig"), "LD_LIBRARY_PATH="+filepath.Join(prefix, "lib"))
	if out, err := sh.CombinedOutput(); err != nil || !strings.Contains(string(out), "1.0") {
		t.Fatalf("gcc use.c $(pkg-config --cflags --libs geom): %v\n%s", err, out)
	}
	// The installed program finds the installed library by its rpath.
	if out, err := exec.Command(filepath.Join(prefix, "bin", "shapes")).CombinedOutput(); err != nil {
		t.Fatalf("installed shapes: %v\n%s", err, out)
	}
}

// pkg-config: a package adds its flags; a missing one names itself and
// the line asking for it. [project] root other than "." builds.
func TestPkgConfigAndRoot(t *testing.T) {
	e := testenv.New(t)
	dir := copyTree(t, filepath.Join(repoRoot(), "examples", "zlib"))
	if r := e.MustRun("run", "--no-daemon", dir, "squeezer"); !strings.Contains(r.Stdout, "zlib ") {
		t.Fatalf("squeezer: %q", r.Stdout)
	}
	toml, _ := os.ReadFile(filepath.Join(dir, "jmake.toml"))
	testenv.WriteFiles(t, dir, map[string]string{"jmake.toml": strings.Replace(string(toml), `pkg = ["zlib"]`, `pkg = ["zlib-no-such-package"]`, 1)})
	r := e.Run("build", "--no-daemon", dir)
	if r.Code == 0 || !strings.Contains(r.Stderr, `jmake.toml:11: pkg-config package "zlib-no-such-package"`) {
		t.Fatalf("missing package: exit %d\n%s", r.Code, r.Stderr)
	}

	top := testenv.Tree(t, map[string]string{
		"jmake.toml":      "[project]\nname = \"rooted\"\nroot = \"code\"\n\n[compile]\nsources = [\"lib/*.c\"]\n",
		"code/lib/x.c":    "int x(void) { return 1; }\n",
		"outside/skip.c":  "#error not under the root\n",
		"code/lib/skip.h": "",
	})
	if r := e.Run("build", "--no-daemon", top); r.Code != 0 || !strings.Contains(r.Stdout, "1 units, 1 compiled") {
		t.Fatalf("root = \"code\": exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(top, "code", "build", "librooted.so")); err != nil {
		t.Errorf("root = \"code\": %v", err)
	}
}

// The caller's CFLAGS and CC reach every target of a project of several,
// through the daemons and without them, as they reach a [binary]'s.
func TestCallersEnvironmentReachesTargets(t *testing.T) {
	e := testenv.New(t)
	e.MustRun("start")
	dir := testenv.Tree(t, map[string]string{
		"jmake.toml": "[project]\nname = \"hello\"\n\n[[library]]\nname = \"greet\"\ntype = \"static\"\nsources = [\"greet.c\"]\n\n" +
			"[[program]]\nname = \"hello\"\nsources = [\"main.c\"]\nlinks = [\"greet\"]\n",
		"greet.c": "int greeting(void) { return GREETING; }\n",
		"main.c":  "#include <stdio.h>\nint greeting(void);\nint main(void) { printf(\"greeting %d\\n\", greeting()); return 0; }\n",
	})
	for _, mode := range [][]string{nil, {"--no-daemon"}} {
		for _, greeting := range []string{"1", "2"} {
			args := append(append([]string{"run"}, mode...), dir, "hello")
			r := e.RunWith(dir, []string{"CFLAGS=-DGREETING=" + greeting}, args...)
			if r.Code != 0 || !strings.Contains(r.Stdout, "greeting "+greeting+"\n") {
				t.Fatalf("jmake %s with CFLAGS=-DGREETING=%s: exit %d\n%s\n%s", strings.Join(args, " "), greeting, r.Code, r.Stdout, r.Stderr)
			}
		}
	}
	r := e.RunWith(dir, []string{"CFLAGS=-DGREETING=3", "CC=/nonexistent/cc"}, "build", dir)
	if r.Code == 0 || !strings.Contains(r.Stderr, "/nonexistent/cc") {
		t.Fatalf("CC=/nonexistent/cc: exit %d\n%s", r.Code, r.Stderr)
	}
}

// The variables the compiler reads itself come from the caller's shell,
// not from the daemons': a header found only through the caller's CPATH
// builds while the daemons have another CPATH, another CPATH recompiles
// (the variables are in the keys), with the daemons and without them, and
// without a CPATH the daemons' own is not used.
func TestCompilerVariablesFromCallersShell(t *testing.T) {
	e := testenv.New(t)
	first, second := t.TempDir(), t.TempDir()
	testenv.WriteFiles(t, first, map[string]string{"greet.h": "#define GREETING 1\n"})
	testenv.WriteFiles(t, second, map[string]string{"greet.h": "#define GREETING 2\n"})
	if r := e.RunWith("", []string{"CPATH=" + first}, "start"); r.Code != 0 {
		t.Fatalf("start: exit %d\n%s", r.Code, r.Stderr)
	}
	dir := testenv.Tree(t, map[string]string{
		"jmake.toml": "[project]\nname = \"hello\"\n\n[[program]]\nname = \"hello\"\nsources = [\"main.c\"]\n",
		"main.c":     "#include <stdio.h>\n#include <greet.h>\nint main(void) { printf(\"greeting %d\\n\", GREETING); return 0; }\n",
	})
	for _, tc := range []struct {
		cpath, want string
		mode        []string
	}{{second, "2", nil}, {first, "1", nil}, {second, "2", []string{"--no-daemon"}}} {
		args := append(append([]string{"run"}, tc.mode...), dir, "hello")
		r := e.RunWith(dir, []string{"CPATH=" + tc.cpath}, args...)
		if r.Code != 0 || !strings.Contains(r.Stdout, "greeting "+tc.want+"\n") {
			t.Fatalf("jmake %s with CPATH=%s: exit %d\n%s\n%s", strings.Join(args, " "), tc.cpath, r.Code, r.Stdout, r.Stderr)
		}
	}
	if r := e.RunWith(dir, []string{"CPATH="}, "build", dir); r.Code == 0 || !strings.Contains(r.Stderr, "greet.h") {
		t.Fatalf("without CPATH, built with the daemons' own: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// pkg-config runs as in the caller's shell: a package found only through
// the PKG_CONFIG_PATH of the shell that runs `jmake run`, not of the one
// that started the daemons, builds; another PKG_CONFIG_PATH rebuilds with
// its flags, and so does the package installed again in the same place;
// none fails naming the package and the line asking for it.
func TestPkgConfigFromCallersShell(t *testing.T) {
	e := testenv.New(t)
	e.MustRun("start")
	install := func(dir, greeting string) {
		testenv.WriteFiles(t, dir, map[string]string{"greet.pc": "Name: greet\nDescription: a test package\nVersion: 1.0\n" +
			"Cflags: -DGREETING=" + greeting + "\nLibs: -lm\n"})
	}
	dir := testenv.Tree(t, map[string]string{
		"jmake.toml": "[project]\nname = \"hello\"\n\n[compile]\npkg = [\"greet\"]\n\n[[program]]\nname = \"hello\"\nsources = [\"main.c\"]\n",
		"main.c":     "#include <math.h>\n#include <stdio.h>\nint main(void) { printf(\"greeting %d\\n\", GREETING + (int)floor(0.5)); return 0; }\n",
	})
	run := func(pcDir, want string) {
		t.Helper()
		r := e.RunWith(dir, []string{"PKG_CONFIG_PATH=" + pcDir}, "run", dir, "hello")
		if r.Code != 0 || !strings.Contains(r.Stdout, "greeting "+want+"\n") {
			t.Fatalf("PKG_CONFIG_PATH=%s, want greeting %s: exit %d\n%s\n%s", pcDir, want, r.Code, r.Stdout, r.Stderr)
		}
	}
	first, second := t.TempDir(), t.TempDir()
	install(first, "1")
	install(second, "2")
	run(first, "1")
	run(second, "2")
	install(second, "3")
	run(second, "3")
	r := e.RunWith(dir, []string{"PKG_CONFIG_PATH="}, "build", dir)
	if r.Code == 0 || !strings.Contains(r.Stderr, `jmake.toml:5: pkg-config package "greet"`) {
		t.Fatalf("without PKG_CONFIG_PATH: exit %d\n%s", r.Code, r.Stderr)
	}
}

// Each profile builds in its own directory: switching back and forth
// rebuilds nothing. A sanitizer reaches compiles and links: AddressSanitizer
// fails a test that overflows the heap.
func TestProfiles(t *testing.T) {
	e := testenv.New(t)
	dir := twoTargetsWith(t, map[string]string{
		"tests/overflow.c": "#include <stdlib.h>\nint main(void) { volatile char *p = malloc(4); p[4] = 1; free((void *)p); return 0; }\n",
	})
	e.MustRun("build", "--no-daemon", dir)
	e.MustRun("build", "--no-daemon", "--profile", "debug", dir)
	for _, p := range []string{"", "debug"} {
		rep, r := buildJSON(t, e, "--no-daemon", "--profile="+p, dir)
		if !rep.Success || rep.Compiled != 0 || rep.Cached != 0 {
			t.Errorf("profile %q again: %+v\n%s", p, rep, r.Stderr)
		}
	}
	cc, _ := os.ReadFile(filepath.Join(dir, "build", "debug", "core.dir", "compile_commands.json"))
	if !bytes.Contains(cc, []byte(`"-O0"`)) || !bytes.Contains(cc, []byte(`"-g"`)) {
		t.Errorf("debug profile's compile commands lack -O0 -g:\n%s", cc)
	}
	if _, err := os.Stat(filepath.Join(dir, "build", "debug", "app")); err != nil {
		t.Errorf("debug profile's program: %v", err)
	}
	if r := e.Run("test", "--no-daemon", dir, "overflow"); r.Code != 0 {
		t.Fatalf("overflow without a sanitizer: exit %d\n%s", r.Code, r.Stdout)
	}
	r := e.Run("test", "--no-daemon", "--sanitize", "address", dir, "overflow")
	if r.Code == 0 || !strings.Contains(r.Stdout, "heap-buffer-overflow") {
		t.Fatalf("overflow under AddressSanitizer: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// A version script is a link input: editing it relinks the library
// (and nothing is compiled). The single-output form with a versioned
// library_name and soname gets its symlinks too.
func TestVersionScriptAndSymlinks(t *testing.T) {
	e := testenv.New(t)
	dir := twoTargetsWith(t, map[string]string{
		"jmake.toml": strings.Replace(twoTargets["jmake.toml"], `sources = ["src/*.c"]`, `sources = ["src/*.c"]`+"\nversion_script = \"core.map\"", 1),
		"core.map":   "CORE_1 { global: core_a; core_b; local: *; };\n",
	})
	rep, r := buildJSON(t, e, "--no-daemon", dir)
	if !rep.Success {
		t.Fatalf("build: %+v\n%s", rep, r.Stderr)
	}
	lib := filepath.Join(dir, "build", "libcore.so.1.2.3")
	if out, _ := exec.Command("nm", "-D", "--defined-only", lib).CombinedOutput(); !strings.Contains(string(out), "core_a@@CORE_1") {
		t.Fatalf("the version script was not applied:\n%s", out)
	}
	testenv.WriteFiles(t, dir, map[string]string{"core.map": "CORE_2 { global: core_a; core_b; local: *; };\n"})
	rep, _ = buildJSON(t, e, "--no-daemon", dir)
	if c, l := rep.target(t, "core"); c != 0 || !l {
		t.Errorf("after the version script's edit: core compiled %d, linked %v; want 0, true", c, l)
	}
	if out, _ := exec.Command("nm", "-D", "--defined-only", lib).CombinedOutput(); !strings.Contains(string(out), "core_a@@CORE_2") {
		t.Errorf("the edited version script was not applied:\n%s", out)
	}

	single := testenv.Tree(t, map[string]string{
		"jmake.toml": "[project]\nname = \"x\"\n\n[binary]\nlibrary_name = \"libx.so.1.2.3\"\nsoname = \"libx.so.1\"\n",
		"src/x.c":    "int x(void) { return 1; }\n",
	})
	e.MustRun("build", "--no-daemon", single)
	for _, l := range []string{"libx.so.1", "libx.so"} {
		if got, err := os.Readlink(filepath.Join(single, "build", l)); err != nil || got != "libx.so.1.2.3" {
			t.Errorf("build/%s -> %q (%v), want libx.so.1.2.3", l, got, err)
		}
	}
}

// jmake run passes arguments and stdin through, and exits with the
// program's status.
func TestRunExitStatus(t *testing.T) {
	e := testenv.New(t)
	dir := twoTargetsWith(t, map[string]string{"app/main.c": `#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) { char buf[64] = ""; fgets(buf, sizeof buf, stdin); printf("%s %s", argv[1], buf); return atoi(argv[2]); }
`})
	cmd := exec.Command(e.Bin, "run", "--no-daemon", dir, "app", "--", "hello", "7")
	cmd.Env = e.Environ()
	cmd.Stdin = strings.NewReader("from stdin\n")
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 || string(out) != "hello from stdin\n" {
		t.Fatalf("jmake run: %v, stdout %q; want exit 7 and %q", err, out, "hello from stdin\n")
	}
	if r := e.Run("run", "--no-daemon", dir, "core"); r.Code == 0 || !strings.Contains(r.Stderr, `target "core" is not a program`) {
		t.Errorf("run of a library: exit %d\n%s", r.Code, r.Stderr)
	}
}

// A source directory reached through a symbolic link is built; a link
// back to an ancestor does not make the scan loop.
func TestSymlinkedSourceDir(t *testing.T) {
	e := testenv.New(t)
	dir, vendor := t.TempDir(), t.TempDir()
	testenv.WriteFiles(t, dir, map[string]string{
		"jmake.toml": "[project]\nname = \"v\"\n\n[compile]\nsources = [\"src/**/*.c\"]\n",
		"src/a.c":    "int a(void) { return 1; }\n",
	})
	testenv.WriteFiles(t, vendor, map[string]string{"b.c": "int b(void) { return 2; }\n"})
	for link, target := range map[string]string{"src/vendor": vendor, "src/loop": dir} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	if r := e.Run("build", "--no-daemon", dir); r.Code != 0 || !strings.Contains(r.Stdout, "2 units, 2 compiled") {
		t.Fatalf("exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// A library that fails to compile fails the build with the compiler's
// words, and the program that links it is not linked; its own unit still
// compiles, so the fixed build only compiles the library's unit.
func TestLibraryFailureStopsItsPrograms(t *testing.T) {
	e := testenv.New(t)
	dir := twoTargetsWith(t, map[string]string{"src/b.c": "int core_b(void) { return oops; }\n"})
	rep, r := buildJSON(t, e, "--no-daemon", dir)
	if rep.Success || !strings.Contains(r.Stderr, "oops") || !strings.Contains(r.Stderr, "undeclared") {
		t.Fatalf("build with a broken library: %+v\n%s", rep, r.Stderr)
	}
	if !strings.Contains(rep.Error, `target "app" not linked: library "core" failed`) {
		t.Errorf("error: %q", rep.Error)
	}
	if _, err := os.Stat(filepath.Join(dir, "build", "app")); err == nil {
		t.Error("app was linked against a library that failed")
	}
	testenv.WriteFiles(t, dir, map[string]string{"src/b.c": twoTargets["src/b.c"]})
	rep, _ = buildJSON(t, e, "--no-daemon", dir)
	if !rep.Success || rep.Compiled != 1 {
		t.Errorf("fixed build: %+v, want 1 unit compiled", rep)
	}
}

// A test file added to tests/ is a test at the next run of the daemons,
// although jmake.toml did not change; builds and test runs do not answer
// for each other.
func TestNewTestFileIsFound(t *testing.T) {
	e := testenv.New(t)
	dir := copyTree(t, filepath.Join(repoRoot(), "examples", "c"))
	if r := e.MustRun("test", dir); !strings.Contains(r.Stdout, "2 passed, 0 failed") {
		t.Fatalf("jmake test: %q", r.Stdout)
	}
	testenv.WriteFiles(t, dir, map[string]string{"tests/test_three.c": "int main(void) { return 0; }\n"})
	if r := e.MustRun("test", dir); !strings.Contains(r.Stdout, "test_three") || !strings.Contains(r.Stdout, "3 passed, 0 failed") {
		t.Fatalf("jmake test after adding a test: %q", r.Stdout)
	}
	// The orchestrator answers a build and a test run each from its own
	// memo: a build after tests ran reports the library and the program.
	for range 3 {
		rep, _ := buildJSON(t, e, dir)
		if !rep.Success || len(rep.Targets) != 2 {
			t.Fatalf("build after jmake test: %+v", rep)
		}
		e.MustRun("test", dir)
	}
	e.MustRun("stop")
}
