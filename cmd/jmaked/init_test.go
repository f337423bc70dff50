package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/testenv"
)

func TestInitThenBuild(t *testing.T) {
	e := testenv.New(t)
	for _, typ := range []string{"c", "cpp", "binary"} {
		t.Run(typ, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "hello_"+typ)
			e.MustRun("init", dir, "--type", typ)
			rep, r := buildJSON(t, e, "--no-daemon", dir)
			if !rep.Success || rep.Units == 0 {
				t.Fatalf("build of a new %s project: %+v\n%s", typ, rep, r.Stderr)
			}
			if _, err := os.Stat(rep.Output); err != nil {
				t.Fatalf("output: %v", err)
			}
			if typ == "binary" {
				return
			}
			// A library project: its hello program runs from the build
			// tree, and its test passes.
			run := e.MustRun("run", "--no-daemon", dir, "hello")
			if want := "Hello from hello_" + typ + "!"; strings.TrimSpace(run.Stdout) != want {
				t.Errorf("jmake run hello printed %q, want %q", run.Stdout, want)
			}
			test := e.MustRun("test", "--no-daemon", dir)
			if !strings.Contains(test.Stdout, "1 passed, 0 failed") {
				t.Errorf("jmake test:\n%s%s", test.Stdout, test.Stderr)
			}
		})
	}
}

// After the compilation daemon restarts it no longer knows the sources the
// orchestrator left out of its request (they had not changed): it says so
// and the orchestrator sends them again.
func TestCompilationRestartBetweenBuilds(t *testing.T) {
	e := testenv.New(t)
	dir := geomLib(t)
	e.MustRun("start")
	e.MustRun("build", dir)
	e.MustRun("build", dir) // the orchestrator now leaves the sources out
	e.MustRun("restart", "compilation")
	rep, r := buildJSON(t, e, dir)
	if !rep.Success || rep.Units != 3 || rep.Compiled != 0 {
		t.Fatalf("build after restarting compilation: %+v\n%s", rep, r.Stderr)
	}
	e.MustRun("stop")
}

// jmake build --watch rebuilds after an edit, through the orchestrator's
// streamed watch_and_build, until interrupted.
func TestBuildWatch(t *testing.T) {
	e := testenv.New(t)
	dir := geomLib(t)
	e.MustRun("start")
	t.Cleanup(func() { e.Run("stop") })
	cmd := exec.Command(e.Bin, "build", "--watch", dir)
	cmd.Env = e.Environ()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func(what string) string {
		t.Helper()
		timeout := time.After(60 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("watch ended before %s", what)
				}
				if strings.HasPrefix(l, "jmake: ") {
					return l
				}
			case <-timeout:
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	if l := next("the first build"); !strings.Contains(l, "3 compiled") {
		t.Fatalf("first build: %q", l)
	}
	vec := filepath.Join(dir, "src", "vec.c")
	b, _ := os.ReadFile(vec)
	os.WriteFile(vec, append(b, []byte("\nint watched(void) { return 2; }\n")...), 0o644)
	if l := next("the rebuild"); !strings.Contains(l, "src/vec.c changed") || !strings.Contains(l, "1 compiled") {
		t.Fatalf("rebuild: %q", l)
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("watch after SIGINT: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not stop on SIGINT")
	}
}
