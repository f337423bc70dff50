package supervisor_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/testenv"
)

// chaosTrials is how many kill -9s each chaos test makes: a few by
// default, 30 with JMAKE_CHAOS_LONG=1.
func chaosTrials() int {
	if os.Getenv("JMAKE_CHAOS_LONG") != "" {
		return 30
	}
	return 3
}

var saltRE = regexp.MustCompile(`(_salt = )[0-9]+u;`)

// editUnits gives k random units of proj a new salt, so that a build has
// them to compile (and none of them is in the object cache).
func editUnits(t *testing.T, rng *rand.Rand, proj string, k int) {
	t.Helper()
	srcs, _ := filepath.Glob(filepath.Join(proj, "src", "mod_*.c"))
	for _, i := range rng.Perm(len(srcs))[:k] {
		b, err := os.ReadFile(srcs[i])
		if err != nil {
			t.Fatal(err)
		}
		b = saltRE.ReplaceAll(b, []byte(fmt.Sprintf("${1}%du;", rng.Uint32())))
		if err := os.WriteFile(srcs[i], b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// outputs reads every file jmake wrote under dir/build, but its temp dir
// and compile_commands.json (which holds absolute paths), by relative path.
func outputs(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	root := filepath.Join(dir, "build")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if rel == ".jmake-tmp" {
				return filepath.SkipDir
			}
			return nil
		}
		if rel == "compile_commands.json" {
			return nil
		}
		b, err := os.ReadFile(p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// reference builds a copy of proj's sources with `jmake build --no-daemon`
// in a fresh state dir (no cache, no daemon) and returns its outputs.
func reference(t *testing.T, e *testenv.Env, proj string) map[string][]byte {
	t.Helper()
	ref := filepath.Join(t.TempDir(), "proj")
	if out, err := exec.Command("cp", "-a", proj, ref).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	os.RemoveAll(filepath.Join(ref, "build"))
	cmd := exec.Command(e.Bin, "build", "--no-daemon", ref)
	cmd.Env = append(os.Environ(), "JMAKE_HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("reference build --no-daemon: %v\n%s", err, out)
	}
	return outputs(t, ref)
}

// sameOutputs reports how got differs from want, or "" when every file is
// there with the same bytes and there is no other.
func sameOutputs(got, want map[string][]byte) string {
	var diffs []string
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			diffs = append(diffs, "missing "+p)
		case !bytes.Equal(g, w):
			diffs = append(diffs, fmt.Sprintf("%s differs (%d bytes, want %d)", p, len(g), len(w)))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			diffs = append(diffs, "extra "+p)
		}
	}
	sort.Strings(diffs)
	return strings.Join(diffs, "; ")
}

// kill -9 of a daemon at a random moment of a build, over and over: the
// build in flight is resumed once the supervisor has the daemon back, and
// the build after it has the objects and the library of a clean
// --no-daemon build, byte for byte.
func TestKill9DuringBuilds(t *testing.T) {
	for _, victim := range []string{"compilation", "orchestrator"} {
		t.Run(victim, func(t *testing.T) { chaos(t, victim, chaosTrials()) })
	}
}

func chaos(t *testing.T, victim string, trials int) {
	e := testenv.New(t)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("seed %d", seed)
	const units = 30
	proj := genProject(t, units, 3)
	e.MustRun("start")

	// A cold build, timed: kills land within the length of a build.
	begin := time.Now()
	if r := e.Run("build", proj); r.Code != 0 {
		t.Fatalf("cold build: %s%s", r.Stdout, r.Stderr)
	}
	cold := time.Since(begin)

	survived, between := 0, 0
	for i := range trials {
		k := 1 + rng.IntN(units/2)
		editUnits(t, rng, proj, k)
		// Every third build is --clean: the old build directory is moved
		// aside and refilled from the object cache as the kill lands.
		var flags []string
		if i%3 == 2 {
			flags = []string{"--clean"}
		}
		b := startBuild(t, e, proj, flags...)
		// Anywhere from the call's arrival to past its end: the build
		// compiles k units of `units`.
		span := cold*time.Duration(k)/units + 100*time.Millisecond
		delay := time.Duration(rng.Int64N(int64(span)))
		time.Sleep(delay) // the random moment of the kill, not a readiness wait
		old := e.PID(victim)
		if old == 0 {
			t.Fatalf("trial %d: no %s PID file", i, victim)
		}
		syscall.Kill(old, syscall.SIGKILL)
		// Still running after the kill: the kill landed during the build.
		midBuild := b.running()
		if !midBuild {
			between++
		}
		if _, err := b.wait(t, 2*time.Minute); err != nil {
			t.Errorf("trial %d: kill -9 of %s (pid %d) %s into a build %v of %d edited units: the build in flight failed: %v",
				i, victim, old, delay, flags, k, err)
		} else if midBuild {
			survived++
		}
		testenv.WaitFor(t, 15*time.Second, victim+" back under the supervisor", func() bool {
			pid := healthyPID(e, victim)
			return pid != 0 && pid != old
		})
		// Five ends within a minute are a crash loop to the supervisor,
		// which then gives up (FATAL). These kills are the test's, one
		// every few seconds: clear the count as an operator would.
		e.MustRun("reset", victim)
		if r := e.Run("build", proj); r.Code != 0 {
			t.Fatalf("trial %d: the build after kill -9 of %s: exit %d\n%s%s", i, victim, r.Code, r.Stdout, r.Stderr)
		}
		if d := sameOutputs(outputs(t, proj), reference(t, e, proj)); d != "" {
			t.Fatalf("trial %d: after kill -9 of %s %s into a build %v, the outputs differ from a --no-daemon build: %s", i, victim, delay, flags, d)
		}
	}
	t.Logf("%s: %d kill -9s at random moments (seed %d): %d during a build (%d of those builds succeeded), %d between builds; every next build equal to --no-daemon",
		victim, trials, seed, trials-between, survived, between)
}
