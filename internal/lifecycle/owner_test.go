package lifecycle_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/daemon"
	"github.com/jmake/jmake/internal/lifecycle"
	"github.com/jmake/jmake/internal/pidfile"
	"github.com/jmake/jmake/internal/settings"
	"github.com/jmake/jmake/internal/testenv"
)

// exampleLib copies the C example (a library, a program, tests) to a temp
// dir.
func exampleLib(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "..", "..", "examples", "c")
	dst := t.TempDir()
	if out, err := exec.Command("cp", "-a", src+"/.", dst).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v\n%s", src, err, out)
	}
	return dst
}

// daemonPIDs is the PID of each daemon, from its PID file.
func daemonPIDs(t *testing.T, e *testenv.Env) map[string]int {
	t.Helper()
	pids := map[string]int{}
	for _, n := range settings.Names() {
		if pids[n] = e.PID(n); pids[n] == 0 {
			t.Fatalf("%s has no PID file", n)
		}
	}
	return pids
}

// A second state dir on the same ports is refused, naming the state dir and
// PID that hold them, by `jmake start` with or without a supervisor and by
// a daemon started alone; `status` and `health` call those daemons not
// ours; the first set is untouched and keeps building.
func TestSecondStateDirOnSamePortsIsRefused(t *testing.T) {
	a := testenv.New(t)
	a.MustRun("start")
	pids := daemonPIDs(t, a)
	b := &testenv.Env{T: t, Bin: a.Bin, StateDir: t.TempDir(), Offset: a.Offset}
	t.Cleanup(b.KillAll)

	held := func(n string) string {
		return fmt.Sprintf("port %d is held by jmake (state dir %s, pid %d); use PORT_OFFSET", a.Port(n), a.StateDir, pids[n])
	}
	for _, args := range [][]string{{"start"}, {"start", "--no-supervise"}, {"daemon", "discovery"}} {
		r := b.Run(args...)
		if r.Code == 0 || !strings.Contains(r.Stderr, held("discovery")) {
			t.Errorf("jmake %s in a second state dir: exit %d, want %q\nstdout:\n%s\nstderr:\n%s",
				strings.Join(args, " "), r.Code, held("discovery"), r.Stdout, r.Stderr)
		}
	}
	r := b.Run("status")
	if r.Code != 3 || strings.Count(r.Stdout, "FOREIGN") != 4 || !strings.Contains(r.Stdout, held("setup")) {
		t.Errorf("status in the second state dir: exit %d\n%s", r.Code, r.Stdout)
	}
	r = b.Run("health")
	if r.Code == 0 || strings.Count(r.Stdout, "NOT OURS") != 4 {
		t.Errorf("health in the second state dir: exit %d\n%s", r.Code, r.Stdout)
	}
	for _, n := range settings.Names() {
		if a.PID(n) != pids[n] || !testenv.Alive(pids[n]) {
			t.Errorf("%s: pid %d replaced or gone (PID file says %d)", n, pids[n], a.PID(n))
		}
		if got := daemon.Listeners(a.Port(n)); got != 1 {
			t.Errorf("%s: %d sockets listen on port %d, want 1", n, got, a.Port(n))
		}
	}
	a.MustRun("build", exampleLib(t))
	if r := a.MustRun("status"); strings.Count(r.Stdout, "RUNNING") < 4 {
		t.Errorf("status of the first state dir:\n%s", r.Stdout)
	}
}

// The state dir removed while the daemons run (a chaos test): the old set
// shuts itself down, a build right away waits for it and starts a new set,
// and then exactly one daemon listens on each port and status and health
// tell the truth. JMAKE_CHAOS_LONG=1 repeats it, removing the state dir
// while a build is in flight.
func TestStateDirRemovedWhileRunning(t *testing.T) {
	e := testenv.New(t)
	dir := exampleLib(t)
	rounds := 1
	if os.Getenv("JMAKE_CHAOS_LONG") != "" {
		rounds = 10
	}
	e.MustRun("build", dir)
	for round := range rounds {
		old := daemonPIDs(t, e)
		sup, _ := pidfile.Read(pidfile.Path(e.StateDir, lifecycle.SupervisorName))
		var inflight sync.WaitGroup
		if round > 0 {
			// A clean build in flight as the state dir goes: it may fail,
			// but the next one must work.
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				e.Run("build", "--clean", dir)
			}()
			time.Sleep(time.Duration(round) * 20 * time.Millisecond) // spread the removal over the build
		}
		if err := os.RemoveAll(e.StateDir); err != nil {
			t.Fatal(err)
		}
		inflight.Wait()
		if r := e.Run("build", dir); r.Code != 0 {
			t.Fatalf("round %d: build after the state dir was removed: exit %d\nstdout:\n%s\nstderr:\n%s", round, r.Code, r.Stdout, r.Stderr)
		}
		testenv.WaitFor(t, 15*time.Second, "the old daemons and supervisor to exit", func() bool {
			for _, pid := range old {
				if testenv.Alive(pid) {
					return false
				}
			}
			return sup.PID == 0 || !testenv.Alive(sup.PID)
		})
		now := daemonPIDs(t, e)
		for _, n := range settings.Names() {
			if now[n] == old[n] {
				t.Errorf("round %d: %s still pid %d", round, n, old[n])
			}
			if got := daemon.Listeners(e.Port(n)); got != 1 {
				t.Errorf("round %d: %s: %d sockets listen on port %d, want 1", round, n, got, e.Port(n))
			}
		}
		if r := e.Run("status"); r.Code != 0 || strings.Count(r.Stdout, "RUNNING") < 4 {
			t.Errorf("round %d: status: exit %d\n%s", round, r.Code, r.Stdout)
		}
		if r := e.Run("health"); r.Code != 0 {
			t.Errorf("round %d: health: exit %d\n%s", round, r.Code, r.Stdout)
		}
		// The old supervisor, going, left the new one's files alone.
		for _, f := range []string{e.Lifecycle().SupervisorSocket(), e.Lifecycle().SupervisorStateFile()} {
			if _, err := os.Stat(f); err != nil {
				t.Errorf("round %d: %v", round, err)
			}
		}
	}
	if r := e.Run("stop"); r.Code != 0 || strings.Count(r.Stdout, "stopped") != 4 {
		t.Errorf("stop through the new supervisor: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}

// A daemon puts back its PID file and the token when they alone are
// removed, and shuts down when the token is replaced.
func TestOwnerFilesRestoredOrDaemonExits(t *testing.T) {
	e := testenv.New(t)
	e.MustRun("start", "--no-supervise")
	pids := daemonPIDs(t, e)
	token := e.Token()
	pidPath := pidfile.Path(e.StateDir, settings.Discovery)
	tokenPath := filepath.Join(e.StateDir, "token")
	os.Remove(pidPath)
	if r := e.Run("health", "discovery"); r.Code != 0 || !strings.Contains(r.Stdout, "ok (pid") {
		t.Errorf("health with the PID file removed: exit %d\n%s", r.Code, r.Stdout)
	}
	os.Remove(tokenPath)
	testenv.WaitFor(t, 5*time.Second, "the PID file and token written back", func() bool {
		info, err := pidfile.Read(pidPath)
		tok, _ := os.ReadFile(tokenPath)
		return err == nil && info.PID == pids[settings.Discovery] && strings.TrimSpace(string(tok)) == token
	})
	if r := e.MustRun("start", "--no-supervise"); strings.Count(r.Stdout, "already running") != 4 {
		t.Errorf("start after the files came back:\n%s", r.Stdout)
	}
	if err := os.WriteFile(tokenPath+".new", []byte(strings.Repeat("0", 64)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tokenPath+".new", tokenPath); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 15*time.Second, "every daemon to exit after its token was replaced", func() bool {
		for _, pid := range pids {
			if testenv.Alive(pid) {
				return false
			}
		}
		return true
	})
	log, _ := os.ReadFile(filepath.Join(e.StateDir, "logs", "setup.log"))
	if !strings.Contains(string(log), "state dir lost; shutting down") || !strings.Contains(string(log), "was replaced") {
		t.Errorf("setup's log does not say why it stopped:\n%s", log)
	}
}

// Two state dirs started at the same moment on the same ports: whatever
// each start says, soon after one daemon listens on each port, and every
// daemon still running is the one answering on its port (a daemon that
// lost the race yields within a few probes of starting).
func TestTwoStateDirsStartingAtOnce(t *testing.T) {
	a := testenv.New(t)
	b := &testenv.Env{T: t, Bin: a.Bin, StateDir: t.TempDir(), Offset: a.Offset}
	t.Cleanup(b.KillAll)
	for round := range 3 {
		var wg sync.WaitGroup
		for _, e := range []*testenv.Env{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e.Run("start", "--no-supervise")
			}()
		}
		wg.Wait()
		var problem string
		settled := func() bool {
			for _, n := range settings.Names() {
				port := a.Port(n)
				if got := daemon.Listeners(port); got != 1 {
					problem = fmt.Sprintf("%s: %d sockets listen on port %d, want 1", n, got, port)
					return false
				}
				for _, e := range []*testenv.Env{a, b} {
					pid := e.PID(n)
					if pid == 0 || !testenv.Alive(pid) {
						continue
					}
					if h, err := e.Lifecycle().Probe(t.Context(), n, 2*time.Second); err != nil || h.PID != pid {
						problem = fmt.Sprintf("%s of %s (pid %d) runs but port %d answers %+v (%v)", n, e.StateDir, pid, port, h, err)
						return false
					}
				}
			}
			return true
		}
		deadline := time.Now().Add(5 * time.Second)
		for !settled() {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: after 5 s: %s", round, problem)
			}
			time.Sleep(10 * time.Millisecond)
		}
		a.Run("stop")
		b.Run("stop")
	}
}

// Two state dirs started at the same moment on the same ports, each under
// its supervisor: one gets every port, the other's start fails naming it
// and leaves nothing running (its supervisor claims the ports before any
// daemon starts, and exits when the other holds them).
func TestTwoSupervisedStateDirsStartingAtOnce(t *testing.T) {
	a := testenv.New(t)
	b := &testenv.Env{T: t, Bin: a.Bin, Full: a.Full, StateDir: t.TempDir(), Offset: a.Offset}
	t.Cleanup(b.KillAll)
	envs := []*testenv.Env{a, b}
	for round := range 3 {
		results := make([]testenv.Result, 2)
		var wg sync.WaitGroup
		for i, e := range envs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = e.Run("start")
			}()
		}
		wg.Wait()
		if (results[0].Code == 0) == (results[1].Code == 0) {
			t.Fatalf("round %d: exits %d and %d, want one start to succeed\n%s\n%s", round, results[0].Code, results[1].Code, results[0].Stderr, results[1].Stderr)
		}
		won, lost := 0, 1
		if results[1].Code == 0 {
			won, lost = 1, 0
		}
		winner, loser := envs[won], envs[lost]
		if !strings.Contains(results[lost].Stderr, "(state dir "+winner.StateDir+", pid ") {
			t.Errorf("round %d: the failed start does not name the state dir that won:\n%s", round, results[lost].Stderr)
		}
		if pid := loser.Lifecycle().InspectSupervisor().PID; pid != 0 && testenv.Alive(pid) {
			t.Errorf("round %d: the supervisor of the state dir that lost runs on (pid %d)", round, pid)
		}
		for _, n := range settings.Names() {
			if pid := loser.PID(n); pid != 0 && testenv.Alive(pid) {
				t.Errorf("round %d: %s of the state dir that lost runs (pid %d)", round, n, pid)
			}
			pid := winner.PID(n)
			if h, err := winner.Lifecycle().Probe(t.Context(), n, 2*time.Second); err != nil || pid == 0 || h.PID != pid {
				t.Errorf("round %d: %s of the state dir that won (pid %d): port %d answers %+v (%v)", round, n, pid, winner.Port(n), h, err)
			}
		}
		if t.Failed() {
			return
		}
		winner.MustRun("stop")
	}
}
