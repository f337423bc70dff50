package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/testenv"
)

const brokenMain = "int main(void)\n{\n\treturn undefined_var;\n}\n"

// A compile error is shown once, with GCC's own colours at a terminal,
// and without any colour under NO_COLOR or through a pipe; a warning of a
// unit restored from the cache is shown again.
func TestTerminalDiagnostics(t *testing.T) {
	e := testenv.New(t)
	e.MustRun("start")
	t.Cleanup(func() { e.Run("stop") })
	dir := writeProject(t, map[string]string{"src/main.c": brokenMain})
	const msg = "undefined_var’ undeclared (first use"

	out, code := runTerminal(t, e, nil, "build", dir)
	if code != exitFailed || strings.Count(plain(out), msg) != 1 {
		t.Fatalf("terminal: exit %d, want the error once:\n%q", code, out)
	}
	if !strings.Contains(out, "\x1b[01;31m\x1b[Kerror: ") {
		t.Fatalf("terminal: no GCC colour around error:\n%q", out)
	}
	if strings.Contains(out, "compilation: compile:") || !strings.Contains(out, "src/main.c did not compile") {
		t.Fatalf("terminal: want the plain summary, not the layered error:\n%s", out)
	}

	out, code = runTerminal(t, e, []string{"NO_COLOR=1"}, "build", dir)
	if code != exitFailed || strings.Count(out, msg) != 1 || sgrColour.MatchString(out) {
		t.Fatalf("NO_COLOR terminal: exit %d, want the error once and no colour:\n%q", code, out)
	}

	r := e.Run("build", dir)
	if r.Code != exitFailed || strings.Count(r.Stderr, msg) != 1 || strings.Contains(r.Stderr+r.Stdout, "\x1b[") {
		t.Fatalf("pipe: exit %d, want the error once and no escapes:\n%q", r.Code, r.Stderr)
	}
	// Right below its unit's line, as the unit finished, before the
	// next unit's (one compile at a time, in unit order).
	two := writeProject(t, map[string]string{"src/a.c": "int a(void) { return undefined_var; }\n", "src/b.c": "int main(void) { return 0; }\n"})
	r = e.Run("build", "-j", "1", two)
	if !strings.Contains(r.Stderr, "CC src/a.c\nsrc/a.c: In function") || strings.Index(r.Stderr, msg) > strings.Index(r.Stderr, "CC src/b.c") {
		t.Fatalf("pipe: the error does not follow its unit's line:\n%s", r.Stderr)
	}

	// The warning's compile ran at a terminal (coloured); its replay from
	// the cache through a pipe is plain.
	warn := writeProject(t, map[string]string{"src/main.c": "int main(void)\n{\n\tint unused_here;\n\treturn 0;\n}\n"})
	out, code = runTerminal(t, e, nil, "build", warn)
	if code != 0 || !strings.Contains(out, "unused_here") || !sgrColour.MatchString(out) {
		t.Fatalf("warning at a terminal: exit %d\n%q", code, out)
	}
	e.MustRun("clean", warn)
	r = e.MustRun("build", warn)
	if !strings.Contains(r.Stdout, "1 from cache") || strings.Count(r.Stderr, "unused variable ‘unused_here’") != 1 || strings.Contains(r.Stderr, "\x1b[") {
		t.Fatalf("warning of a cached unit: want it once, plain:\nstdout %q\nstderr %q", r.Stdout, r.Stderr)
	}
}

// Each kind of failure has its exit status and a plain message.
func TestExitStatuses(t *testing.T) {
	e := testenv.New(t)
	good := writeProject(t, map[string]string{"src/main.c": "int main(void) { return 0; }\n"})
	bad := writeProject(t, map[string]string{"src/main.c": brokenMain})
	invalid := writeProject(t, map[string]string{"src/main.c": "int main(void) { return 0; }\n",
		"jmake.toml": "[target]\nopt_level = \"9\"\n"})
	typo := writeProject(t, map[string]string{"src/main.c": "int main(void) { return 0; }\n",
		"jmake.toml": "[compile]\nflgas = [\"-g\"]\n[binary]\nlibrary_type = \"executable\"\n"})
	empty := t.TempDir()
	// A state directory where logs/ cannot be made: no daemon can start.
	brokenHome := t.TempDir()
	os.WriteFile(filepath.Join(brokenHome, "logs"), nil, 0o644)
	missing := filepath.Join(t.TempDir(), "nonexistent")
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string   // in stderr
		env  []string // besides the test's
	}{
		{"success", []string{"build", "--no-daemon", good}, exitOK, "", nil},
		{"compile error", []string{"build", "--no-daemon", bad}, exitFailed, "jmake: src/main.c did not compile\n", nil},
		{"unknown flag", []string{"build", "--frobnicate"}, exitUsage, "unknown flag: --frobnicate", nil},
		{"bad init type", []string{"init", t.TempDir(), "--type", "rust"}, exitUsage, `--type "rust": want c, cpp or binary`, nil},
		{"no jmake.toml", []string{"build", "--no-daemon", empty}, exitUsage,
			"jmake: No jmake.toml in " + empty + ": run `jmake init` there, or pass the project directory.\n", nil},
		{"wrong path", []string{"build", "--no-daemon", missing}, exitUsage,
			"jmake: " + missing + " does not exist: pass the directory that holds jmake.toml\n", nil},
		{"invalid jmake.toml", []string{"build", "--no-daemon", invalid}, exitUsage,
			"jmake: " + filepath.Join(invalid, "jmake.toml") + ":2:1: error: opt_level \"9\" is not one of", nil},
		{"strict unknown key", []string{"build", "--no-daemon", "--strict", typo}, exitUsage,
			"error: unknown key compile.flgas (did you mean flags?)", nil},
		{"CC not found", []string{"build", "--no-daemon", good}, exitUsage,
			"jmake: C compiler \"no-such-cc\" (CC) not found on PATH; set CC to one that is\n", []string{"CC=no-such-cc"}},
		{"daemons not running", []string{"stats"}, exitDaemons, "daemon at 127.0.0.1:", nil},
		{"daemons cannot start", []string{"build", good}, exitDaemons, "jmake: the daemons could not start: ", []string{"JMAKE_HOME=" + brokenHome}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.RunWith("", tc.env, tc.args...)
			if r.Code != tc.code || !strings.Contains(r.Stderr, tc.msg) {
				t.Fatalf("jmake %s: exit %d, want %d and %q in stderr:\n%s", strings.Join(tc.args, " "), r.Code, tc.code, tc.msg, r.Stderr)
			}
			for _, layer := range []string{"scan_files:", "validate_config:", "compilation: compile:", "build failed:"} {
				if strings.Contains(r.Stderr, layer) {
					t.Fatalf("stderr shows jmake's layers (%q):\n%s", layer, r.Stderr)
				}
			}
		})
	}
	t.Run("interrupted", func(t *testing.T) {
		for _, mode := range []string{"--no-daemon", "--json"} {
			marker := filepath.Join(t.TempDir(), "started")
			slow := writeWrapper(t, "slowcc", marker, `case "$*" in *" -c "*) exec sleep 60;; esac; exec gcc "$@"`)
			dir := writeProject(t, map[string]string{"src/main.c": "int main(void) { return 0; }\n",
				"jmake.toml": "[compile]\ncompiler = " + `"` + filepath.Join(slow, "slowcc") + `"` + "\n[binary]\nlibrary_type = \"executable\"\n"})
			build := e.Start(t, "build", mode, dir)
			// The compile is running once the wrapper logged it (after
			// --version and -dumpmachine, which it passes to gcc).
			testenv.WaitFor(t, time.Minute, "the slow compiler to compile", func() bool {
				b, _ := os.ReadFile(marker)
				return strings.Contains(string(b), " -c ")
			})
			code, stderr := build.Interrupt()
			if code != exitInterrupted || !strings.HasSuffix("\n"+stderr, "\njmake: interrupted\n") ||
				strings.Contains(stderr, "signal received") {
				t.Fatalf("%s build after SIGINT: exit %d, stderr %q; want exit 130 and the plain word", mode, code, stderr)
			}
		}
		e.Run("stop")
	})
}

// The shell's PATH, CC and flags variables choose the tools for daemon
// and --no-daemon builds alike; a change of compiler or CFLAGS rebuilds.
func TestCallerEnvironment(t *testing.T) {
	e := testenv.New(t)
	e.MustRun("start") // the daemons' PATH has no wrapper
	t.Cleanup(func() { e.Run("stop") })
	log := filepath.Join(t.TempDir(), "wrapper.log")
	wrap := writeWrapper(t, "cc", log, `exec gcc "$@"`)
	withWrapper := []string{"PATH=" + wrap + string(os.PathListSeparator) + os.Getenv("PATH")}
	compiled := func() string {
		b, _ := os.ReadFile(log)
		os.Remove(log)
		return string(b)
	}
	viaDaemons := writeProject(t, map[string]string{"src/main.c": "int main(void) { return 1; }\n"})
	inProcess := writeProject(t, map[string]string{"src/main.c": "int main(void) { return 2; }\n"})

	if r := e.RunWith("", withWrapper, "build", viaDaemons); r.Code != 0 || !strings.Contains(compiled(), "-c src/main.c") {
		t.Fatalf("daemon build did not run the wrapper on the caller's PATH: exit %d\n%s", r.Code, r.Stderr)
	}
	if r := e.RunWith("", withWrapper, "build", "--no-daemon", inProcess); r.Code != 0 || !strings.Contains(compiled(), "-c src/main.c") {
		t.Fatalf("--no-daemon build did not run the wrapper: exit %d\n%s", r.Code, r.Stderr)
	}
	// Without the wrapper the compiler differs: the object is rebuilt,
	// never reused from the wrapper's build.
	rep, r := buildJSON(t, e, "--explain", viaDaemons)
	if !rep.Success || rep.Compiled != 1 || !strings.Contains(r.Stderr, "compiler changed") || compiled() != "" {
		t.Fatalf("build without the wrapper: %+v\n%s", rep, r.Stderr)
	}
	for _, tc := range []struct {
		env      []string
		compiled int
	}{
		{nil, 0},
		{[]string{"CFLAGS=-DFROM_ENV=1"}, 1},
		{[]string{"CFLAGS=-DFROM_ENV=1"}, 0},
		{[]string{"CFLAGS=-DFROM_ENV=2"}, 1},
		{[]string{"CC=gcc"}, 1}, // a compiler other than cc
	} {
		r := e.RunWith("", tc.env, "build", "--json", viaDaemons)
		lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
		var rep buildReply
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil || !rep.Success || rep.Compiled != tc.compiled {
			t.Fatalf("build with %v: %+v (%v), want %d compiled\n%s", tc.env, rep, err, tc.compiled, r.Stderr)
		}
	}
}

// A typo'd key is warned about before anything compiles, with what was
// meant.
func TestUnknownKeyWarnedFirst(t *testing.T) {
	e := testenv.New(t)
	dir := writeProject(t, map[string]string{"src/main.c": "int main(void) { return 0; }\n",
		"jmake.toml": "[compile]\nflgas = [\"-g\"]\n[binary]\nlibrary_type = \"executable\"\n"})
	r := e.Run("build", "--no-daemon", dir)
	warn := strings.Index(r.Stderr, "warning: unknown key compile.flgas (did you mean flags?)")
	cc := strings.Index(r.Stderr, "CC src/main.c")
	if r.Code != 0 || warn < 0 || cc < 0 || warn > cc || strings.Count(r.Stderr, "flgas") != 1 {
		t.Fatalf("exit %d; want the warning once, before the compile:\n%s", r.Code, r.Stderr)
	}
}

// init in a tree that has sources writes jmake.toml alone: a program when
// a source defines main().
func TestInitExistingTree(t *testing.T) {
	e := testenv.New(t)
	dir := writeProject(t, map[string]string{"app/main.c": "int f(void);\nint main(void) { return f(); }\n",
		"lib/f.c": "int f(void) { return 0; }\n", "jmake.toml": ""})
	os.Remove(filepath.Join(dir, "jmake.toml"))
	r := e.MustRun("init", dir)
	if !strings.Contains(r.Stdout, "wrote jmake.toml only") || !strings.Contains(r.Stdout, "main() in app/main.c") {
		t.Fatalf("init: %s", r.Stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "src")); err == nil {
		t.Fatal("init wrote template sources into a tree that has sources")
	}
	rep, r := buildJSON(t, e, "--no-daemon", dir)
	if !rep.Success || rep.Units != 2 {
		t.Fatalf("build: %+v\n%s", rep, r.Stderr)
	}
	if err := exec.Command(rep.Output).Run(); err != nil {
		t.Fatalf("the program: %v", err)
	}
}

// stats is a table for people and JSON with --json.
func TestStatsTable(t *testing.T) {
	e := testenv.New(t)
	e.MustRun("start")
	t.Cleanup(func() { e.Run("stop") })
	dir := writeProject(t, map[string]string{"src/main.c": "int main(void) { return 0; }\n"})
	e.MustRun("build", dir)
	r := e.MustRun("stats")
	for _, want := range []string{"DAEMON", "HIT RATE", "compilation", "objects", "all daemons:", dir} {
		if !strings.Contains(r.Stdout, want) {
			t.Fatalf("stats lacks %q:\n%s", want, r.Stdout)
		}
	}
	r = e.MustRun("stats", "--json")
	var v struct {
		Daemons map[string]any `json:"daemons"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &v); err != nil || len(v.Daemons) != 4 {
		t.Fatalf("stats --json: %v\n%s", err, r.Stdout)
	}
}
