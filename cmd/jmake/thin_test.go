package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/statedir"
	"github.com/jmake/jmake/internal/testenv"
)

// writeProject makes a C program project whose main.c is src.
func writeProject(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "src"), 0o755)
	os.WriteFile(filepath.Join(dir, "jmake.toml"), []byte("[project]\nname = \"prog\"\n[binary]\nlibrary_type = \"executable\"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "src", "main.c"), []byte(src), 0o644)
	return dir
}

// startDaemons starts the four daemons (through jmaked) and stops them when
// the test ends.
func startDaemons(t *testing.T, e *testenv.Env) {
	t.Helper()
	e.MustRun("start")
	t.Cleanup(func() { e.Run("stop") })
}

// clientAndFull starts the daemons of a new environment and returns it,
// its client alone (no jmaked to hand over to) and jmaked.
func clientAndFull(t *testing.T) (e, alone, full *testenv.Env) {
	e = testenv.New(t)
	startDaemons(t, e)
	f := *e
	f.Bin = e.Full
	return e, e.ClientOnly(), &f
}

// pathWithout is $PATH without the directories that hold a jmaked, plus
// dirs first.
func pathWithout(dirs ...string) string {
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(d, "jmaked")); err != nil {
			dirs = append(dirs, d)
		}
	}
	return "PATH=" + strings.Join(dirs, string(filepath.ListSeparator))
}

// With the daemons down, `jmake build` hands over to jmaked, which starts
// them and builds; the next build goes through the orchestrator's socket
// (the client alone, with no jmaked to hand over to, builds).
func TestBuildStartsDaemonsWhenDown(t *testing.T) {
	e := testenv.New(t)
	t.Cleanup(func() { e.Run("stop") })
	proj := writeProject(t, "int main(void) { return 0; }\n")
	r := e.Run("build", proj)
	if r.Code != 0 || !strings.Contains(r.Stderr, "starting the daemons") || !strings.Contains(r.Stdout, "1 compiled") {
		t.Fatalf("build with the daemons down: exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	r = e.ClientOnly().Run("build", proj)
	if r.Code != 0 || !strings.Contains(r.Stdout, "0 compiled") {
		t.Fatalf("build through the socket: exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// Daemons on other ports, chosen by --port-offset before or after the
// command or by PORT_OFFSET, are reached all the same: through the socket
// in the state dir.
func TestBuildWithPortOffset(t *testing.T) {
	e := testenv.New(t)
	t.Cleanup(func() { e.Run("stop") })
	proj := writeProject(t, "int main(void) { return 0; }\n")
	off := strconv.Itoa(e.Offset)
	noEnv := []string{"PORT_OFFSET="}
	// Down: handed to jmaked, which starts them at the flag's offset.
	if r := e.RunWith("", noEnv, "--port-offset", off, "build", proj); r.Code != 0 {
		t.Fatalf("--port-offset %s build: exit %d\n%s%s", off, r.Code, r.Stdout, r.Stderr)
	}
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(e.Port("orchestrator")))
	if err != nil {
		t.Fatalf("orchestrator not on port %d (offset %s): %v", e.Port("orchestrator"), off, err)
	}
	c.Close()
	alone := e.ClientOnly()
	for _, args := range [][]string{
		{"--port-offset", off, "build", proj},
		{"build", "--port-offset=" + off, proj},
		{"build", proj, "--port-offset", off},
	} {
		if r := alone.RunWith("", noEnv, args...); r.Code != 0 || !strings.Contains(r.Stdout, "0 compiled") {
			t.Errorf("jmake %s through the socket: exit %d\n%s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
		}
	}
	if r := alone.Run("build", proj); r.Code != 0 {
		t.Errorf("PORT_OFFSET=%s jmake build through the socket: exit %d\n%s%s", off, r.Code, r.Stdout, r.Stderr)
	}
}

// jmake finds jmaked next to its own executable (through a symlink on
// PATH), then on PATH, and says where it looked when neither has it.
func TestFindsJmaked(t *testing.T) {
	e := testenv.New(t)
	t.Cleanup(func() { e.Run("stop") })
	onPath := t.TempDir()
	if err := os.Symlink(e.Bin, filepath.Join(onPath, "jmake")); err != nil {
		t.Fatal(err)
	}
	// run runs bin with PATH set to path, as a shell that found bin there.
	run := func(bin, path string, args ...string) testenv.Result {
		t.Helper()
		c := *e
		c.Bin = bin
		return c.RunWith("", []string{path}, args...)
	}
	// Only the client's symlink is on PATH; jmaked sits beside its target.
	if r := run(filepath.Join(onPath, "jmake"), pathWithout(onPath), "start"); r.Code != 0 || !strings.Contains(r.Stdout+r.Stderr, "orchestrator") {
		t.Fatalf("jmake start, jmaked beside jmake: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if r := run(filepath.Join(onPath, "jmake"), pathWithout(onPath), "status"); r.Code != 0 {
		t.Fatalf("jmake status, jmaked beside jmake: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	// The client alone: jmaked on PATH, then nowhere.
	alone := e.ClientOnly()
	aloneDir := filepath.Dir(alone.Bin)
	if r := run(alone.Bin, pathWithout(aloneDir, filepath.Dir(e.Full)), "status"); r.Code != 0 {
		t.Fatalf("jmake status, jmaked on PATH: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	r := run(alone.Bin, pathWithout(aloneDir), "status")
	if want := filepath.Join(aloneDir, "jmaked"); r.Code != 3 || !strings.Contains(r.Stderr, "cannot find jmaked") ||
		!strings.Contains(r.Stderr, want) || !strings.Contains(r.Stderr, "PATH=") {
		t.Fatalf("jmake status without jmaked: exit %d, want 3 and an error naming %s and PATH:\n%s", r.Code, want, r.Stderr)
	}
}

// The orchestrator's socket is the owner's alone and wants the token.
func TestSocketNeedsToken(t *testing.T) {
	e := testenv.New(t)
	startDaemons(t, e)
	sock := statedir.SocketPath(e.StateDir, "orchestrator")
	st, err := os.Stat(sock)
	if err != nil || st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, %v; want a socket with mode 0600", sock, st.Mode(), err)
	}
	if st, err := os.Stat(e.StateDir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("%s: %v, %v; want mode 0700", e.StateDir, st.Mode(), err)
	}
	hc := socketClient(sock)
	for _, tc := range []struct {
		token string
		want  int
	}{{"", http.StatusUnauthorized}, {"not-the-token", http.StatusUnauthorized}, {e.Token(), http.StatusOK}} {
		req, _ := http.NewRequest(http.MethodPost, "http://orchestrator/v1/call/cache_stats", strings.NewReader("{}"))
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("cache_stats through %s with token %q: HTTP %d, want %d", sock, tc.token, resp.StatusCode, tc.want)
		}
	}
}

// elapsed is the summary's time, which differs from run to run.
var elapsed = regexp.MustCompile(`[0-9]+\.[0-9]{3} s\b`)

// A build through the client alone prints what jmaked prints and exits
// as it does: a success, a compile error, a directory without jmake.toml.
func TestSameOutputAsJmaked(t *testing.T) {
	e, alone, full := clientAndFull(t)
	good := writeProject(t, "int main(void) { return 0; }\n")
	// A library and a program: a summary line per target.
	geom := t.TempDir()
	if out, err := exec.Command("cp", "-a", filepath.Join("..", "..", "examples", "c")+"/.", geom).CombinedOutput(); err != nil {
		t.Fatalf("copy examples/c: %v\n%s", err, out)
	}
	// Compiled once: the runs below are no-ops.
	e.MustRun("build", good)
	e.MustRun("build", geom)
	e.MustRun("build", "--tests", "--profile", "debug", geom)
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"success", []string{"build", good}, 0},
		{"success json", []string{"build", "--json", "-j", "2", good}, 0},
		{"targets", []string{"build", geom}, 0},
		{"one target", []string{"build", geom, "shapes"}, 0},
		{"tests and profile", []string{"build", "--tests", "--profile", "debug", geom}, 0},
		{"unknown target", []string{"build", geom, "nosuch"}, 1},
		{"compile error", []string{"build", writeProject(t, "int main(void) { return undefined_var; }\n")}, 1},
		{"no jmake.toml", []string{"build", t.TempDir()}, 2},
		{"version", []string{"--version"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, f := alone.Run(tc.args...), full.Run(tc.args...)
			norm := func(s string) string { return elapsed.ReplaceAllString(s, "T s") }
			if a.Code != tc.code || f.Code != tc.code {
				t.Fatalf("exit %d (jmake) and %d (jmaked), want %d\njmake:\n%s%s\njmaked:\n%s%s", a.Code, f.Code, tc.code, a.Stdout, a.Stderr, f.Stdout, f.Stderr)
			}
			if strings.Contains(tc.name, "json") {
				// The reply itself holds times; compare all but its line.
				a.Stdout, f.Stdout = "", ""
			}
			if norm(a.Stdout) != norm(f.Stdout) || norm(a.Stderr) != norm(f.Stderr) {
				t.Fatalf("outputs differ\njmake stdout:\n%s\njmaked stdout:\n%s\njmake stderr:\n%s\njmaked stderr:\n%s", a.Stdout, f.Stdout, a.Stderr, f.Stderr)
			}
		})
	}
}

// Ctrl-C during a build through the socket ends it as jmaked's does: exit
// 130 and "jmake: interrupted" last.
func TestBuildInterrupted(t *testing.T) {
	e := testenv.New(t)
	startDaemons(t, e)
	alone := e.ClientOnly()
	dir := t.TempDir()
	marker := filepath.Join(dir, "compiling")
	slow := filepath.Join(dir, "slowcc")
	// The compile hangs (after --version and -dumpmachine, which go to gcc).
	script := "#!/bin/sh\ncase \"$*\" in *\" -c \"*) touch '" + marker + "'; exec sleep 60;; esac; exec gcc \"$@\"\n"
	if err := os.WriteFile(slow, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	proj := writeProject(t, "int main(void) { return 0; }\n")
	os.WriteFile(filepath.Join(proj, "jmake.toml"), []byte("[compile]\ncompiler = \""+slow+"\"\n[binary]\nlibrary_type = \"executable\"\n"), 0o644)
	build := alone.Start(t, "build", proj)
	testenv.WaitFor(t, time.Minute, "the slow compiler to compile", func() bool {
		_, err := os.Stat(marker)
		return err == nil
	})
	code, stderr := build.Interrupt()
	if code != 130 || !strings.HasSuffix("\n"+stderr, "\njmake: interrupted\n") {
		t.Fatalf("build after SIGINT: exit %d, stderr %q; want exit 130 and the plain word", code, stderr)
	}
}

// socketClient is an HTTP client whose every request goes to the unix
// socket at sock.
func socketClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
}

// fastAnswers is the orchestrator's count of calls answered on its
// socket's accept loop (internal/daemon's fast lane).
func fastAnswers(t *testing.T, e *testenv.Env) int { return orchestratorCounter(t, e, "fast_answers") }

// orchestratorCounter is one of the orchestrator's counters in /v1/stats.
func orchestratorCounter(t *testing.T, e *testenv.Env, name string) int {
	t.Helper()
	hc := socketClient(statedir.SocketPath(e.StateDir, "orchestrator"))
	req, _ := http.NewRequest(http.MethodGet, "http://orchestrator/v1/stats", nil)
	req.Header.Set("Authorization", "Bearer "+e.Token())
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Counters map[string]float64 `json:"counters"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return int(st.Counters[name])
}

// A no-op build through the client is answered on the orchestrator's
// accept loop, with what jmaked prints for it; an edit is not, and
// compiles.
func TestNoopAnsweredOnAcceptLoop(t *testing.T) {
	e, alone, full := clientAndFull(t)
	proj := writeProject(t, "int main(void) { return 0; }\n")
	if r := alone.Run("build", proj); r.Code != 0 || !strings.Contains(r.Stdout, "1 compiled") {
		t.Fatalf("cold build: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	// The watch vouches for a project once a build ran with every
	// directory it reads and writes watched from its start: the no-op
	// after a cold build, which created the build directories, or the
	// one after it.
	testenv.WaitFor(t, 10*time.Second, "a no-op answered from the watch", func() bool {
		before := orchestratorCounter(t, e, "watched_noops")
		alone.Run("build", proj)
		return orchestratorCounter(t, e, "watched_noops") > before
	})
	// A client that is descheduled between its connect and its write
	// for longer than the fast lane waits goes the usual way: on a busy
	// machine, not every no-op is a fast answer.
	fastNoop := func(what string, flags ...string) testenv.Result {
		t.Helper()
		for try := 0; try < 5; try++ {
			before := fastAnswers(t, e)
			r := alone.Run(append([]string{"build", proj}, flags...)...)
			if r.Code != 0 || !strings.Contains(r.Stdout+r.Stderr, " 0 compiled") {
				t.Fatalf("%s: exit %d\n%s%s", what, r.Code, r.Stdout, r.Stderr)
			}
			if fastAnswers(t, e) == before+1 {
				return r
			}
		}
		t.Fatalf("%s: five no-ops, none answered by the fast lane", what)
		return testenv.Result{}
	}
	a := fastNoop("no-op")
	f := full.Run("build", proj)
	if norm := func(s string) string { return elapsed.ReplaceAllString(s, "T s") }; norm(a.Stdout+a.Stderr) != norm(f.Stdout+f.Stderr) {
		t.Fatalf("fast no-op printed\n%s%s\njmaked printed\n%s%s", a.Stdout, a.Stderr, f.Stdout, f.Stderr)
	}
	n := fastAnswers(t, e)
	os.WriteFile(filepath.Join(proj, "src", "main.c"), []byte("int main(void) { return 1; }\n"), 0o644)
	if r := alone.Run("build", proj); r.Code != 0 || !strings.Contains(r.Stdout, "1 compiled") {
		t.Fatalf("build after an edit: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if got := fastAnswers(t, e); got != n {
		t.Fatalf("fast answers after an edit: %d, want still %d", got, n)
	}
	// The answer is the edit's build, which compiled and linked; the
	// no-op's reply says that nothing was, in its totals and its target.
	r := fastNoop("no-op after the edit's build", "--json")
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	var reply struct {
		Compiled int  `json:"compiled"`
		Linked   bool `json:"linked"`
		Targets  []struct {
			Units    int  `json:"units"`
			Compiled int  `json:"compiled"`
			UpToDate int  `json:"up_to_date"`
			Linked   bool `json:"linked"`
		} `json:"targets"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &reply); err != nil {
		t.Fatalf("--json reply: %v\n%s", err, r.Stdout)
	}
	if reply.Compiled != 0 || reply.Linked || len(reply.Targets) != 1 || reply.Targets[0].Compiled != 0 ||
		reply.Targets[0].Linked || reply.Targets[0].UpToDate != reply.Targets[0].Units {
		t.Errorf("no-op reply counts a build's work:\n%s", lines[len(lines)-1])
	}
}
