package supervisor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/lifecycle"
	"github.com/jmake/jmake/internal/settings"
	"github.com/jmake/jmake/internal/testenv"
)

// sup is a `jmake supervise` process run by a test.
type sup struct {
	cmd    *exec.Cmd
	out    *syncBuf
	exited chan struct{}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startSupervisor runs `jmake supervise` as a child of the test; it is
// stopped (SIGTERM, then SIGKILL) when the test ends, before testenv kills
// any daemon left.
func startSupervisor(t *testing.T, e *testenv.Env, env ...string) *sup {
	t.Helper()
	cmd := exec.Command(e.Bin, "supervise")
	cmd.Env = append(e.Environ(), env...)
	s := &sup{cmd: cmd, out: &syncBuf{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		if t.Failed() && os.Getenv("DEBUG_QUIT") != "" {
			cmd.Process.Signal(syscall.SIGQUIT)
			<-s.exited
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-s.exited
		}
		if t.Failed() {
			t.Logf("supervisor output:\n%s", s.out.String())
		}
	})
	return s
}

func supState(t *testing.T, e *testenv.Env) map[string]lifecycle.Supervised {
	t.Helper()
	st, ok := e.Lifecycle().ReadSupervisorState()
	if !ok {
		return nil
	}
	m := map[string]lifecycle.Supervised{}
	for _, d := range st.Daemons {
		m[d.Name] = d
	}
	return m
}

func waitAllRunning(t *testing.T, e *testenv.Env, timeout time.Duration) map[string]lifecycle.Supervised {
	t.Helper()
	var m map[string]lifecycle.Supervised
	testenv.WaitFor(t, timeout, "all four daemons running under the supervisor", func() bool {
		m = supState(t, e)
		for _, n := range settings.Names() {
			if m[n].State != "running" {
				return false
			}
		}
		return true
	})
	return m
}

// healthyAs reports whether daemon name answers /healthz as a process other
// than notPID.
func healthyPID(e *testenv.Env, name string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	h, err := e.Lifecycle().Probe(ctx, name, 200*time.Millisecond)
	if err != nil {
		return 0
	}
	return h.PID
}

// kill -9 of a daemon: the supervisor sees the death at once (it waits on
// its child) and the daemon answers again within a second, caches intact.
func TestKill9IsBackWithinASecond(t *testing.T) {
	e := testenv.New(t)
	startSupervisor(t, e)
	before := waitAllRunning(t, e, 15*time.Second)
	e.MustRun("call", "discovery", "get_tool", `{"name":"cc"}`)
	entries := e.CacheEntries("discovery")
	if entries == 0 {
		t.Fatal("no cache entry to keep")
	}
	old := before["discovery"].PID
	begin := time.Now()
	syscall.Kill(old, syscall.SIGKILL)
	var pid int
	testenv.WaitFor(t, 5*time.Second, "discovery back", func() bool {
		pid = healthyPID(e, "discovery")
		return pid != 0 && pid != old
	})
	took := time.Since(begin)
	t.Logf("kill -9 -> healthy again in %d ms", took.Milliseconds())
	if took > time.Second {
		t.Errorf("kill -9 -> healthy took %s, want <= 1s", took)
	}
	if got := e.CacheEntries("discovery"); got != entries {
		t.Errorf("cache entries after restart: %d, want %d", got, entries)
	}
	testenv.WaitFor(t, 2*time.Second, "state file to show the restart", func() bool {
		d := supState(t, e)["discovery"]
		return d.Restarts == 1 && d.LastExit == "signal killed" && d.PID == pid
	})
	// jmake status shows the supervisor's fields.
	r := e.MustRun("status", "--json")
	var st struct {
		Daemons []lifecycle.DaemonStatus `json:"daemons"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range st.Daemons {
		if d.Name == "discovery" {
			found = true
			if d.Restarts != 1 || d.LastExit != "signal killed" || !strings.Contains(d.Reason, "exited unexpectedly") || d.Supervisor != "running" {
				t.Errorf("status of discovery: %+v", d)
			}
		}
	}
	if !found {
		t.Fatalf("status --json: %s", r.Stdout)
	}
	if r := e.MustRun("status"); !strings.Contains(r.Stdout, "RESTARTS") || !strings.Contains(r.Stdout, "signal killed") {
		t.Errorf("status table:\n%s", r.Stdout)
	}
}

// A hung daemon (SIGSTOP) misses three probes and is killed and restarted
// within five seconds.
func TestHungDaemonIsRestarted(t *testing.T) {
	e := testenv.New(t)
	startSupervisor(t, e)
	before := waitAllRunning(t, e, 15*time.Second)
	old := before["setup"].PID
	begin := time.Now()
	syscall.Kill(old, syscall.SIGSTOP)
	defer syscall.Kill(old, syscall.SIGKILL)
	testenv.WaitFor(t, 8*time.Second, "setup replaced", func() bool {
		pid := healthyPID(e, "setup")
		return pid != 0 && pid != old
	})
	took := time.Since(begin)
	t.Logf("SIGSTOP -> healthy again in %d ms", took.Milliseconds())
	if took > 5*time.Second {
		t.Errorf("hang -> healthy took %s, want <= 5s", took)
	}
	if testenv.Alive(old) {
		t.Error("the hung process was not killed")
	}
	testenv.WaitFor(t, 2*time.Second, "hang recorded", func() bool {
		return strings.Contains(supState(t, e)["setup"].Reason, "hung")
	})
}

// A daemon that cannot start (its port taken by a plain listener) goes
// FATAL after five failures with the reason, and the restarts stop.
func TestCrashLoopGoesFatal(t *testing.T) {
	e := testenv.New(t)
	ln := e.HoldPort("compilation")
	startSupervisor(t, e)
	var d lifecycle.Supervised
	testenv.WaitFor(t, 15*time.Second, "compilation FATAL", func() bool {
		d = supState(t, e)["compilation"]
		return d.State == "fatal"
	})
	t.Logf("reason: %s", d.Reason)
	if !strings.Contains(d.Reason, "FATAL") || !strings.Contains(d.Reason, "port in use") {
		t.Errorf("reason %q does not say why", d.Reason)
	}
	// No spin: nothing restarts while FATAL.
	n := d.Restarts
	time.Sleep(1500 * time.Millisecond) // watching for activity that must not happen
	if d2 := supState(t, e)["compilation"]; d2.Restarts != n || d2.State != "fatal" {
		t.Errorf("restarts went on: %d -> %d (%s)", n, d2.Restarts, d2.State)
	}
	r := e.Run("status", "compilation")
	if !strings.Contains(r.Stdout, "FATAL") {
		t.Errorf("status does not show FATAL:\n%s", r.Stdout)
	}
	// Free the port; reset brings it up.
	ln.Close()
	e.MustRun("reset", "compilation")
	if healthyPID(e, "compilation") == 0 {
		t.Fatal("compilation not answering after reset")
	}
}

// The supervisor killed with -9: the daemons keep serving; a new one adopts
// them (same PIDs) and still restarts one that dies.
func TestAdoptAfterSupervisorDies(t *testing.T) {
	e := testenv.New(t)
	s1 := startSupervisor(t, e)
	before := waitAllRunning(t, e, 15*time.Second)
	s1.cmd.Process.Kill()
	<-s1.exited
	for _, n := range settings.Names() {
		if pid := healthyPID(e, n); pid != before[n].PID {
			t.Fatalf("%s after supervisor kill -9: answering as %d, want %d", n, pid, before[n].PID)
		}
	}
	startSupervisor(t, e)
	after := waitAllRunning(t, e, 15*time.Second)
	for _, n := range settings.Names() {
		if after[n].PID != before[n].PID || !after[n].Adopted {
			t.Errorf("%s: %+v, want adopted pid %d", n, after[n], before[n].PID)
		}
	}
	old := after["orchestrator"].PID
	syscall.Kill(old, syscall.SIGKILL)
	testenv.WaitFor(t, 5*time.Second, "adopted orchestrator restarted", func() bool {
		pid := healthyPID(e, "orchestrator")
		return pid != 0 && pid != old
	})
}

// sd_notify: READY=1 once all four answer, STATUS=, WATCHDOG=1,
// RELOADING=1 on SIGHUP, STOPPING=1 on SIGTERM, and exit 0.
func TestNotify(t *testing.T) {
	e := testenv.New(t)
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	s := startSupervisor(t, e, "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=200000")
	seen := map[string]bool{}
	expect := func(what string, timeout time.Duration) {
		t.Helper()
		deadline := time.After(timeout)
		for !seen[what] {
			select {
			case m := <-msgs:
				for _, l := range strings.Split(m, "\n") {
					k, _, _ := strings.Cut(l, "=")
					if k == "STATUS" {
						seen["STATUS"] = true
					} else {
						seen[l] = true
					}
				}
			case <-deadline:
				t.Fatalf("no %s within %s; seen %v", what, timeout, seen)
			}
		}
	}
	expect("READY=1", 15*time.Second)
	for _, n := range settings.Names() {
		if healthyPID(e, n) == 0 {
			t.Errorf("READY=1 sent while %s does not answer", n)
		}
	}
	expect("STATUS", time.Second)
	expect("WATCHDOG=1", time.Second)
	s.cmd.Process.Signal(syscall.SIGHUP)
	expect("RELOADING=1", 5*time.Second)
	s.cmd.Process.Signal(syscall.SIGTERM)
	expect("STOPPING=1", 5*time.Second)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("supervisor did not exit after SIGTERM")
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("supervisor exit %d after SIGTERM", code)
	}
	for _, n := range settings.Names() {
		if e.PID(n) != 0 {
			t.Errorf("%s still has a PID file after the supervisor stopped", n)
		}
		log, _ := os.ReadFile(filepath.Join(e.StateDir, "logs", n+".log"))
		if !strings.Contains(string(log), `msg="shutdown: requests served" daemon=`+n) {
			t.Errorf("%s not stopped gracefully:\n%s", n, log)
		}
	}
}

// A build whose every compile kills the compilation daemon (a compiler
// wrapper gone wrong) ends, failing and naming the daemon, instead of
// sending the call again for ever; once the compiler is fixed and the
// daemon reset, the build works.
func TestBuildThatKillsItsDaemonEnds(t *testing.T) {
	e := testenv.New(t)
	e.MustRun("start")
	dir := testenv.Tree(t, map[string]string{
		"jmake.toml": "[project]\nname = \"killer\"\n\n[compile]\ncompiler = \"./cc\"\n\n[[program]]\nname = \"p\"\nsources = [\"main.c\"]\n",
		"main.c":     "int main(void) { return 0; }\n",
		// Kills whoever runs it for a compile: the compilation daemon.
		"cc": "#!/bin/sh\ncase \" $* \" in *\" -c \"*) [ -e ok ] || kill -9 $PPID;; esac\nexec gcc \"$@\"\n",
	})
	if err := os.Chmod(filepath.Join(dir, "cc"), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := e.Run("build", dir)
	t.Logf("the build ended after %s: exit %d\n%s", time.Since(start).Round(time.Millisecond), r.Code, r.Stderr)
	if r.Code == 0 || !strings.Contains(r.Stderr, "compilation") {
		t.Fatalf("build: exit %d, want a failure naming the compilation daemon\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if err := os.WriteFile(filepath.Join(dir, "ok"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	e.Run("reset", "compilation") // FATAL by now, or being restarted
	testenv.WaitFor(t, 15*time.Second, "compilation answering", func() bool { return healthyPID(e, "compilation") != 0 })
	if r := e.Run("build", dir); r.Code != 0 {
		t.Fatalf("build with the compiler fixed: exit %d\n%s", r.Code, r.Stderr)
	}
}
