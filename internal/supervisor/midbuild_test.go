package supervisor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/testenv"
)

// genProject writes bench/gen_project.py's project of n units into a new
// temp dir.
func genProject(t *testing.T, n int, seed int) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	gen := filepath.Join(filepath.Dir(file), "..", "..", "bench", "gen_project.py")
	dir := filepath.Join(t.TempDir(), "proj")
	out, err := exec.Command("python3", gen, "-n", strconv.Itoa(n), "--seed", strconv.Itoa(seed), dir).CombinedOutput()
	if err != nil {
		t.Fatalf("gen_project.py: %v\n%s", err, out)
	}
	return dir
}

// bgBuild is a `jmake build --json` running in the background.
type bgBuild struct {
	cmd    *exec.Cmd
	out    bytes.Buffer
	errb   bytes.Buffer
	exited chan struct{}
	err    error
}

// startBuild starts `jmake build --json [flags] dir`; the process is
// killed when the test ends, if it still runs.
func startBuild(t *testing.T, e *testenv.Env, dir string, flags ...string) *bgBuild {
	t.Helper()
	args := append(append([]string{"build", "--json"}, flags...), dir)
	b := &bgBuild{cmd: exec.Command(e.Bin, args...), exited: make(chan struct{})}
	b.cmd.Env = e.Environ()
	b.cmd.Stdout, b.cmd.Stderr = &b.out, &b.errb
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.err = b.cmd.Wait(); close(b.exited) }()
	t.Cleanup(func() {
		b.cmd.Process.Kill()
		<-b.exited
	})
	return b
}

func (b *bgBuild) running() bool {
	select {
	case <-b.exited:
		return false
	default:
		return true
	}
}

// buildReply is the part of the orchestrator's reply these tests read.
type buildReply struct {
	Success  bool   `json:"success"`
	Error    string `json:"error"`
	Units    int    `json:"units"`
	Compiled int    `json:"compiled"`
	Cached   int    `json:"cached"`
	UpToDate int    `json:"up_to_date"`
}

// wait waits for the build and returns its reply (the last line of stdout).
func (b *bgBuild) wait(t *testing.T, timeout time.Duration) (buildReply, error) {
	t.Helper()
	select {
	case <-b.exited:
	case <-time.After(timeout):
		t.Fatalf("build still running after %s\nstderr:\n%s", timeout, b.errb.String())
	}
	var r buildReply
	lines := strings.Split(strings.TrimSpace(b.out.String()), "\n")
	json.Unmarshal([]byte(lines[len(lines)-1]), &r)
	if b.err != nil {
		return r, fmt.Errorf("build: %v\nstdout:\n%s\nstderr:\n%s", b.err, b.out.String(), b.errb.String())
	}
	return r, nil
}

// compiles is the compilation daemon's jmake_compiles_total (units it
// compiled since it started), or -1 when it does not answer.
func compiles(e *testenv.Env) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	text, err := e.Lifecycle().Client("compilation").Metrics(ctx)
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "jmake_compiles_total") {
			f := strings.Fields(line)
			n, _ := strconv.ParseFloat(f[len(f)-1], 64)
			return int(n)
		}
	}
	return -1
}

// writeSettings writes $JMAKE_HOME/config.toml.
func writeSettings(t *testing.T, e *testenv.Env, toml string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(e.StateDir, "config.toml"), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A rolling restart in the middle of a cold build does not fail it. The
// drain timeout is cut to 100 ms so that the old instance surely cancels
// the call it runs (with the default 10 s the same happens to a build
// longer than that): the caller resumes it on the new instance, which finds
// the units done before the restart in the object cache.
func TestRollingRestartMidBuild(t *testing.T) {
	for _, names := range [][]string{{"compilation"}, {"orchestrator"}, nil} {
		label := strings.Join(names, "+")
		if label == "" {
			label = "all"
		}
		t.Run(label, func(t *testing.T) {
			e := testenv.New(t)
			writeSettings(t, e, "drain_timeout = \"100ms\"\n")
			proj := genProject(t, 150, 1)
			e.MustRun("start")
			b := startBuild(t, e, proj)
			testenv.WaitFor(t, time.Minute, "the build's first compiles", func() bool { return compiles(e) >= 5 })
			if !b.running() {
				t.Fatalf("the build ended before the restart: make the project bigger\n%s", b.out.String())
			}
			r := e.Run(append([]string{"restart", "--rolling"}, names...)...)
			if r.Code != 0 {
				t.Fatalf("restart --rolling %s: exit %d\n%s%s", label, r.Code, r.Stdout, r.Stderr)
			}
			reply, err := b.wait(t, 3*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			// The reply is the resumed call's: fewer units compiled than
			// the project has shows the restart cut the build short and
			// the new call reused the work done before it.
			if !reply.Success || reply.Compiled >= reply.Units {
				t.Errorf("build across a rolling restart of %s: %+v", label, reply)
			}
			t.Logf("%s: rolling restart during a build of %d units: %s; the resumed build compiled %d, took %d from the cache, %d up to date",
				label, reply.Units, strings.TrimSpace(r.Stdout), reply.Compiled, reply.Cached, reply.UpToDate)
		})
	}
}

// The long version, with JMAKE_CHAOS_LONG=1: a rolling restart of all four
// with the default settings (10 s drain) during cold builds of 300 units,
// several times in a row; each build succeeds with the outputs of a
// --no-daemon build.
func TestRollingRestartLongBuilds(t *testing.T) {
	if os.Getenv("JMAKE_CHAOS_LONG") == "" {
		t.Skip("set JMAKE_CHAOS_LONG=1: cold builds of 300 units, a few minutes")
	}
	e := testenv.New(t)
	proj := genProject(t, 300, 1)
	e.MustRun("start")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	for round := range 4 {
		// New salts everywhere: every unit compiles, none is cached.
		editUnits(t, rng, proj, 300)
		b := startBuild(t, e, proj)
		begin := time.Now()
		base := compiles(e)
		testenv.WaitFor(t, time.Minute, "the build's first compiles", func() bool { return compiles(e) >= base+20 })
		if !b.running() {
			t.Fatalf("round %d: the build ended before the restart", round)
		}
		at := time.Since(begin)
		r := e.Run("restart", "--rolling")
		if r.Code != 0 {
			t.Fatalf("round %d: restart --rolling: exit %d\n%s%s", round, r.Code, r.Stdout, r.Stderr)
		}
		stillRunning := b.running()
		reply, err := b.wait(t, 10*time.Minute)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if !reply.Success {
			t.Fatalf("round %d: %+v", round, reply)
		}
		if d := sameOutputs(outputs(t, proj), reference(t, e, proj)); d != "" {
			t.Fatalf("round %d: outputs differ from a --no-daemon build: %s", round, d)
		}
		t.Logf("round %d: rolling restart of all four %.1f s into a cold build of %d units (build still running after it: %t), build took %.1f s; the last call compiled %d, %d up to date, %d from the cache; outputs equal to --no-daemon",
			round, at.Seconds(), reply.Units, stillRunning, time.Since(begin).Seconds(), reply.Compiled, reply.UpToDate, reply.Cached)
	}
}
