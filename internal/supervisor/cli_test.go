package supervisor_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/settings"
	"github.com/jmake/jmake/internal/supervisor"
	"github.com/jmake/jmake/internal/testenv"
)

// `jmake start` runs a detached supervisor; health, reload, stop and
// health --restart go through it or around it as they should.
func TestStartIsSupervised(t *testing.T) {
	e := testenv.New(t)
	r := e.MustRun("start")
	if strings.Count(r.Stdout, "started") != 4 {
		t.Fatalf("start:\n%s", r.Stdout)
	}
	sup := e.Lifecycle().InspectSupervisor()
	if sup.PID == 0 {
		t.Fatal("no supervisor after start")
	}
	if r := e.MustRun("start"); strings.Count(r.Stdout, "already running") != 4 {
		t.Fatalf("second start:\n%s", r.Stdout)
	}
	old := e.PID("compilation")
	syscall.Kill(old, syscall.SIGKILL)
	testenv.WaitFor(t, 5*time.Second, "compilation restarted", func() bool {
		pid := healthyPID(e, "compilation")
		return pid != 0 && pid != old
	})
	r = e.MustRun("health")
	if strings.Count(r.Stdout, " ok (pid") != 4 {
		t.Errorf("health:\n%s", r.Stdout)
	}
	if r := e.MustRun("reload"); strings.Count(r.Stdout, "reloaded") != 4 {
		t.Errorf("reload:\n%s", r.Stdout)
	}
	// Stopping one leaves it down (the supervisor does not bring it back).
	e.MustRun("stop", "setup")
	if r := e.Run("health"); r.Code == 0 || !strings.Contains(r.Stdout, "setup        DOWN") {
		t.Errorf("health with setup stopped: exit %d\n%s", r.Code, r.Stdout)
	}
	if r := e.MustRun("health", "--restart"); strings.Count(r.Stdout, " ok (pid") != 4 {
		t.Errorf("health --restart:\n%s", r.Stdout)
	}
	e.MustRun("restart", "discovery")
	r = e.MustRun("stop")
	if testenv.Alive(sup.PID) {
		t.Fatal("supervisor alive after stop")
	}
	for _, n := range settings.Names {
		if e.PID(n) != 0 {
			t.Errorf("%s still has a PID file after stop", n)
		}
	}
	if r := e.Run("health"); r.Code == 0 || strings.Count(r.Stdout, "DOWN") != 4 {
		t.Errorf("health after stop: exit %d\n%s", r.Code, r.Stdout)
	}
	// Without a supervisor, health --restart starts them plainly.
	if r := e.Run("health", "--restart"); r.Code != 0 {
		t.Errorf("health --restart without a supervisor: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	// upgrade: every daemon replaced by a process of the binary on disk.
	before := map[string]int{}
	for _, n := range settings.Names {
		before[n] = e.PID(n)
	}
	if r := e.MustRun("upgrade"); strings.Count(r.Stdout, "replaced pid") != 4 {
		t.Errorf("upgrade:\n%s", r.Stdout)
	}
	for _, n := range settings.Names {
		if pid := healthyPID(e, n); pid == before[n] || pid == 0 {
			t.Errorf("%s not replaced by upgrade (pid %d)", n, pid)
		}
	}
}

// The supervisor run in this process, so that -race sees its goroutines.
func TestInProcessRace(t *testing.T) {
	e := testenv.New(t)
	s := supervisor.New(supervisor.Options{Env: e.Lifecycle(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	var runErr error
	done := make(chan struct{})
	go func() { runErr = s.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	testenv.WaitFor(t, 15*time.Second, "all four running", func() bool {
		for _, d := range s.State().Daemons {
			if d.State != "running" {
				return false
			}
		}
		return true
	})
	old := e.PID("setup")
	syscall.Kill(old, syscall.SIGKILL)
	testenv.WaitFor(t, 5*time.Second, "setup restarted", func() bool {
		pid := healthyPID(e, "setup")
		return pid != 0 && pid != old
	})
	if err := s.ReloadAll(ctx); err != nil {
		t.Errorf("reload: %v", err)
	}
	ctl := supervisor.DialSocket(e.Lifecycle().SupervisorSocket())
	if err := ctl.Do(ctx, "rolling", "discovery"); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	if runErr != nil {
		t.Fatal(runErr)
	}
	for _, n := range settings.Names {
		if e.PID(n) != 0 {
			t.Errorf("%s left running", n)
		}
	}
}

// `jmake start <name>` right after a kill -9 of a supervised daemon brings
// it back and says so: whether the supervisor has not seen the death yet,
// has and is waiting out its backoff, or has brought it back already (then
// "already running" with the new PID). (It once answered from the state it
// was leaving: "exited unexpectedly (the supervisor keeps retrying)".)
func TestStartRightAfterKill9(t *testing.T) {
	e := testenv.New(t)
	e.MustRun("start", "discovery")
	for i := 0; i < 12; i++ {
		old := e.PID("discovery")
		syscall.Kill(old, syscall.SIGKILL)
		// The kill is delivered when the process next runs: on a busy
		// machine it can look alive (and be reported running) for tens
		// of milliseconds. Start once it is dead.
		testenv.WaitFor(t, 5*time.Second, "the killed process to die", func() bool { return !testenv.Alive(old) })
		if i%2 == 1 {
			testenv.WaitFor(t, 5*time.Second, "the supervisor to see the death", func() bool {
				d := supState(t, e)["discovery"]
				return d.PID != old
			})
		}
		r := e.Run("start", "discovery")
		if r.Code != 0 {
			t.Fatalf("round %d: start after kill -9 of pid %d: exit %d\n%s%s", i, old, r.Code, r.Stdout, r.Stderr)
		}
		pid := healthyPID(e, "discovery")
		if pid == 0 || pid == old {
			t.Fatalf("round %d: after start, discovery answers as pid %d (killed: %d)\n%s", i, pid, old, r.Stdout)
		}
		// Started by this command, or by the supervisor a moment before
		// it (on a loaded machine `jmake start` itself can take longer
		// than the 100 ms backoff): either way the new PID.
		started := fmt.Sprintf("discovery    started (pid %d,", pid)
		already := fmt.Sprintf("discovery    already running (pid %d,", pid)
		if !strings.Contains(r.Stdout, started) && !strings.Contains(r.Stdout, already) {
			t.Errorf("round %d: start said:\n%s\nwant %q or %q", i, r.Stdout, started, already)
		}
	}
}
