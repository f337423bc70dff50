package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/jmake/jmake/internal/testenv"
)

type buildReply struct {
	Success     bool   `json:"success"`
	Error       string `json:"error"`
	Output      string `json:"output"`
	Units       int    `json:"units"`
	Compiled    int    `json:"compiled"`
	Cached      int    `json:"cached"`
	Diagnostics string `json:"diagnostics"`
	Stages      []struct {
		Name string `json:"name"`
	} `json:"stages"`
	Targets []struct {
		Name     string `json:"name"`
		Kind     string `json:"kind"`
		Output   string `json:"output"`
		Compiled int    `json:"compiled"`
		Linked   bool   `json:"linked"`
		Linker   string `json:"linker"`
	} `json:"targets"`
}

// buildJSON runs `jmake build --json dir` and decodes the last stdout line.
func buildJSON(t *testing.T, e *testenv.Env, args ...string) (buildReply, testenv.Result) {
	t.Helper()
	r := e.Run(append([]string{"build", "--json"}, args...)...)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	var rep buildReply
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("build --json: last line is not JSON: %v\nstdout:\n%s\nstderr:\n%s", err, r.Stdout, r.Stderr)
	}
	return rep, r
}

// copyTree copies the example src to a temp dir, so tests never write into
// the repository.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	if out, err := exec.Command("cp", "-a", src+"/.", dst).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v\n%s", src, err, out)
	}
	return dst
}

// geomLib is examples/c's library as a single-output project (the
// jmake.toml of testdata/geomlib: [binary], no targets) in a temp dir.
func geomLib(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	ex := filepath.Join(repoRoot(), "examples", "c")
	args := []string{"-a", filepath.Join(ex, "src"), filepath.Join(ex, "include"), filepath.Join("testdata", "geomlib", "jmake.toml"), dst}
	if out, err := exec.Command("cp", args...).CombinedOutput(); err != nil {
		t.Fatalf("copy the example library: %v\n%s", err, out)
	}
	return dst
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// The README's main job: the C example (a library, a program, tests) built
// in one command through daemons that `jmake build` starts itself, its
// program run, its tests passed; then the C++ example likewise.
func TestBuildExamplesThroughDaemons(t *testing.T) {
	e := testenv.New(t)
	ex := copyTree(t, filepath.Join(repoRoot(), "examples"))
	c := filepath.Join(ex, "c")
	r := e.Run("build", c)
	if r.Code != 0 || !strings.Contains(r.Stderr, "starting the daemons") {
		t.Fatalf("first build: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "2 targets: 4 units, 4 compiled") {
		t.Errorf("summary: %q", r.Stdout)
	}
	r = e.MustRun("run", c, "shapes")
	if !strings.Contains(r.Stdout, "square area 4.0") {
		t.Fatalf("jmake run shapes: %q", r.Stdout)
	}
	r = e.MustRun("test", c)
	if !strings.Contains(r.Stdout, "2 passed, 0 failed") {
		t.Fatalf("jmake test: %q", r.Stdout)
	}
	cpp := filepath.Join(ex, "cpp")
	e.MustRun("build", cpp)
	if r = e.MustRun("run", cpp, "wordcount"); !strings.Contains(r.Stdout, "the=3") {
		t.Fatalf("wordcount: %q", r.Stdout)
	}

	// A no-op build runs nothing and the reply says so.
	rep, _ := buildJSON(t, e, c)
	if !rep.Success || rep.Compiled != 0 || rep.Cached != 0 || rep.Units != 4 || len(rep.Stages) != 3 || len(rep.Targets) != 2 {
		t.Fatalf("no-op build: %+v", rep)
	}
	// The next ones are answered by the orchestrator's watch alone (the
	// second would be, unless a loaded machine delays the watch's cookie).
	var om string
	for range 3 {
		rep, _ = buildJSON(t, e, c)
		if !rep.Success || rep.Compiled != 0 || rep.Units != 4 {
			t.Fatalf("no-op build: %+v", rep)
		}
		om = e.MustRun("metrics", "orchestrator").Stdout
		if strings.Contains(om, `jmake_watched_noops_total{daemon="orchestrator"} `) &&
			!strings.Contains(om, `jmake_watched_noops_total{daemon="orchestrator"} 0`) {
			break
		}
	}
	if !strings.Contains(om, `jmake_watched_noops_total{daemon="orchestrator"} `) ||
		strings.Contains(om, `jmake_watched_noops_total{daemon="orchestrator"} 0`) {
		t.Errorf("the orchestrator answered no no-op from its watch:\n%s", om)
	}
	// One compile_commands.json holds the units of both targets.
	cc, err := os.ReadFile(filepath.Join(c, "build", "compile_commands.json"))
	if err != nil || !bytes.Contains(cc, []byte("src/polygon.c")) || !bytes.Contains(cc, []byte("app/shapes.c")) {
		t.Fatalf("compile_commands.json: %v", err)
	}

	// The compilation daemon's /metrics count its work: the two
	// projects' libraries and programs, and the C project's two tests.
	metrics := e.MustRun("metrics", "compilation").Stdout
	for _, want := range []string{
		`jmake_compiles_total{daemon="compilation"} `,
		`jmake_links_total{daemon="compilation"} 6`,
		`jmake_partial_links_total{daemon="compilation"} 0`,
		`jmake_watched_noops_total{daemon="compilation"} `,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("jmake metrics compilation lacks %q", want)
		}
	}
	if strings.Contains(metrics, `jmake_compiles_total{daemon="compilation"} 0`) {
		t.Error("jmake_compiles_total is 0 after four builds")
	}
	e.MustRun("stop")
}

// A compile error fails the build with the compiler's diagnostics verbatim;
// the fixed build recompiles only that unit.
func TestCompileErrorThenFix(t *testing.T) {
	e := testenv.New(t)
	dir := geomLib(t)
	e.MustRun("build", dir)
	vec := filepath.Join(dir, "src", "vec.c")
	good, _ := os.ReadFile(vec)
	os.WriteFile(vec, append(good, []byte("\nint broken(void) { return undefined_name; }\n")...), 0o644)
	rep, r := buildJSON(t, e, dir)
	if r.Code == 0 || rep.Success {
		t.Fatalf("build with an error succeeded: %+v", rep)
	}
	if !strings.Contains(r.Stderr, "src/vec.c:") || !strings.Contains(r.Stderr, "undefined_name") {
		t.Fatalf("diagnostics not shown verbatim:\n%s", r.Stderr)
	}
	os.WriteFile(vec, append(good, []byte("\nint fixed(void) { return 1; }\n")...), 0o644)
	rep, r = buildJSON(t, e, dir)
	if !rep.Success || rep.Compiled != 1 {
		t.Fatalf("after the fix: %+v\n%s", rep, r.Stderr)
	}
	e.MustRun("stop")
}

// --no-daemon runs the same pipeline in-process with the same results.
func TestNoDaemonMatchesDaemon(t *testing.T) {
	e := testenv.New(t)
	a := geomLib(t)
	b := geomLib(t)
	ra, _ := buildJSON(t, e, "--no-daemon", a)
	if !ra.Success || ra.Compiled != 3 {
		t.Fatalf("--no-daemon: %+v", ra)
	}
	if e.PID("orchestrator") != 0 {
		t.Fatal("--no-daemon started daemons")
	}
	rb, _ := buildJSON(t, e, b)
	if !rb.Success || rb.Units != 3 {
		t.Fatalf("daemon build: %+v", rb)
	}
	la, _ := os.ReadFile(filepath.Join(a, "build", "libgeom.so"))
	lb, _ := os.ReadFile(filepath.Join(b, "build", "libgeom.so"))
	if len(la) == 0 || !bytes.Equal(la, lb) {
		t.Fatalf("libraries differ between --no-daemon and daemon builds (%d vs %d bytes)", len(la), len(lb))
	}
	// Both name the linker they chose, the same one.
	if len(ra.Targets) != 1 || len(rb.Targets) != 1 || ra.Targets[0].Linker == "" || ra.Targets[0].Linker != rb.Targets[0].Linker {
		t.Fatalf("linker: --no-daemon %+v, daemons %+v", ra.Targets, rb.Targets)
	}
	e.MustRun("stop")
}

// Two builds of one project at once are serialized and both succeed.
func TestConcurrentBuilds(t *testing.T) {
	e := testenv.New(t)
	dir := geomLib(t)
	e.MustRun("start")
	var wg sync.WaitGroup
	results := make([]testenv.Result, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.Run("build", dir)
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.Code != 0 {
			t.Errorf("build %d: exit %d\n%s", i, r.Code, r.Stderr)
		}
	}
	e.MustRun("stop")
}

// A daemon that is down is named, with how to start it; `jmake build`
// starts it.
func TestDownDaemonIsNamed(t *testing.T) {
	e := testenv.New(t)
	dir := geomLib(t)
	e.MustRun("start")
	e.MustRun("stop", "compilation")
	r := e.Run("call", "orchestrator", "build_project", `{"path":"`+dir+`"}`)
	if r.Code == 0 || !strings.Contains(r.Stderr+r.Stdout, "compilation daemon") || !strings.Contains(r.Stderr+r.Stdout, "jmake start compilation") {
		t.Fatalf("build with compilation down: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	r = e.Run("build", dir)
	if r.Code != 0 || !strings.Contains(r.Stderr, "compilation  started") {
		t.Fatalf("build did not start the missing daemon: exit %d\n%s", r.Code, r.Stderr)
	}
	e.MustRun("stop")
}
