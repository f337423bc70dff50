package lifecycle_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/settings"
	"github.com/jmake/jmake/internal/testenv"
)

type statusJSON struct {
	Daemons []struct {
		Name          string  `json:"name"`
		State         string  `json:"state"`
		PID           int     `json:"pid"`
		Port          int     `json:"port"`
		UptimeSeconds float64 `json:"uptime_seconds"`
		Requests      int64   `json:"requests"`
		CacheHitRate  float64 `json:"cache_hit_rate"`
	} `json:"daemons"`
}

func status(t *testing.T, e *testenv.Env) (statusJSON, int) {
	t.Helper()
	r := e.Run("status", "--json")
	var s statusJSON
	if err := json.Unmarshal([]byte(r.Stdout), &s); err != nil {
		t.Fatalf("status --json: %v: %q", err, r.Stdout)
	}
	return s, r.Code
}

func states(s statusJSON) map[string]string {
	m := map[string]string{}
	for _, d := range s.Daemons {
		m[d.Name] = d.State
	}
	return m
}

// The life of the four daemons: start, status, call, stop, restart with
// caches loaded back.
func TestStartCallStopRestart(t *testing.T) {
	e := testenv.New(t)
	if r := e.Run("status"); r.Code != 3 {
		t.Fatalf("status before start: exit %d, want 3", r.Code)
	}
	r := e.MustRun("start")
	for _, n := range settings.Names() {
		if !strings.Contains(r.Stdout, n) {
			t.Errorf("start output does not name %s:\n%s", n, r.Stdout)
		}
	}
	s, code := status(t, e)
	if code != 0 {
		t.Fatalf("status after start: exit %d: %+v", code, s)
	}
	pids := map[string]int{}
	for _, d := range s.Daemons {
		if d.State != "running" || d.PID == 0 || d.Port != e.Port(d.Name) {
			t.Fatalf("after start: %+v", d)
		}
		pids[d.Name] = d.PID
	}
	if fi, err := os.Stat(filepath.Join(e.StateDir, "token")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token: %v mode %v, want 0600", err, fi.Mode())
	}
	if fi, _ := os.Stat(e.StateDir); fi.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode %v, want 0700", fi.Mode().Perm())
	}

	// Call each daemon; give discovery a real cache entry to persist.
	for _, n := range settings.Names() {
		e.MustRun("call", n, "cache_stats")
	}
	e.MustRun("call", "discovery", "get_tool", `{"name":"cc"}`)
	e.MustRun("call", "discovery", "get_tool", `{"name":"ar"}`)
	before := map[string]int{}
	for _, n := range settings.Names() {
		before[n] = e.CacheEntries(n)
	}
	if before["discovery"] == 0 {
		t.Fatal("discovery's tool cache is empty after get_tool")
	}
	if r := e.Run("call", "discovery", "no_such_function"); r.Code == 0 || !strings.Contains(r.Stdout, `"success":false`) {
		t.Fatalf("call of an unknown function: exit %d, %q", r.Code, r.Stdout)
	}
	if r := e.MustRun("logs", "discovery"); !strings.Contains(r.Stdout, `msg="start: listening" daemon=discovery addr=`) {
		t.Errorf("jmake logs discovery:\n%s", r.Stdout)
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		for _, n := range settings.Names() {
			text := e.MustRun("metrics", n).Stdout
			check := exec.Command(promtool, "check", "metrics")
			check.Stdin = strings.NewReader(text)
			if out, err := check.CombinedOutput(); err != nil || !strings.Contains(text, "jmake_requests_total") {
				t.Errorf("jmake metrics %s: promtool: %v\n%s", n, err, out)
			}
		}
	}
	// A second start leaves them alone.
	if r := e.MustRun("start"); strings.Count(r.Stdout, "already running") != 4 {
		t.Fatalf("second start:\n%s", r.Stdout)
	}

	r = e.MustRun("stop")
	for n, pid := range pids {
		if testenv.Alive(pid) {
			t.Errorf("%s (pid %d) alive after stop", n, pid)
		}
		if _, err := os.Stat(filepath.Join(e.StateDir, ".daemon_pids."+n)); !os.IsNotExist(err) {
			t.Errorf("%s: PID file left after stop", n)
		}
		log, _ := os.ReadFile(filepath.Join(e.StateDir, "logs", n+".log"))
		if !strings.Contains(string(log), `msg="shutdown: requests served" daemon=`+n) {
			t.Errorf("%s: no shutdown summary in log:\n%s", n, log)
		}
	}
	if r := e.MustRun("stop"); strings.Count(r.Stdout, "not running") != 4 {
		t.Errorf("second stop:\n%s", r.Stdout)
	}

	// Start again: the caches come back with the same entry counts.
	e.MustRun("start")
	for _, n := range settings.Names() {
		if got := e.CacheEntries(n); got != before[n] {
			t.Errorf("%s: %d cache entries after restart, want %d", n, got, before[n])
		}
	}
	log, _ := os.ReadFile(filepath.Join(e.StateDir, "logs", "discovery.log"))
	if !strings.Contains(string(log), `msg="cache: loaded from disk" daemon=discovery cache=`) || !strings.Contains(string(log), fmt.Sprintf(" entries=%d ", before["discovery"])) {
		t.Errorf("discovery log does not show the cache loaded back:\n%s", log)
	}

	// restart keeps caches; restart --clean deletes them.
	e.MustRun("restart", "discovery")
	if got := e.CacheEntries("discovery"); got != before["discovery"] {
		t.Errorf("after restart: %d entries, want %d", got, before["discovery"])
	}
	e.MustRun("restart", "--clean", "discovery")
	if got := e.CacheEntries("discovery"); got != 0 {
		t.Errorf("after restart --clean: %d entries, want 0", got)
	}
	e.MustRun("stop")
}

func TestKilledDaemonIsStaleAndStartsAlone(t *testing.T) {
	e := testenv.New(t)
	e.MustRun("start", "--no-supervise") // a supervisor would restart setup
	pids := map[string]int{}
	for _, n := range settings.Names() {
		pids[n] = e.PID(n)
	}
	syscall.Kill(pids["setup"], syscall.SIGKILL)
	testenv.WaitFor(t, 5*time.Second, "setup to die", func() bool { return !testenv.Alive(pids["setup"]) })

	s, code := status(t, e)
	if code != 3 || states(s)["setup"] != "stale" || states(s)["discovery"] != "running" {
		t.Fatalf("status after kill -9 of setup: exit %d %v", code, states(s))
	}
	// The stale PID file was cleaned: now it is simply stopped.
	if s, _ := status(t, e); states(s)["setup"] != "stopped" {
		t.Fatalf("second status: %v", states(s))
	}
	r := e.MustRun("start", "--no-supervise")
	if strings.Count(r.Stdout, "already running") != 3 || !strings.Contains(r.Stdout, "setup        started") {
		t.Fatalf("start after kill:\n%s", r.Stdout)
	}
	for _, n := range []string{"discovery", "compilation", "orchestrator"} {
		if e.PID(n) != pids[n] {
			t.Errorf("%s was restarted (pid %d -> %d); only setup should be", n, pids[n], e.PID(n))
		}
	}
	if _, code := status(t, e); code != 0 {
		t.Fatal("not all running after start")
	}
}

// A PID file naming an unrelated live process is stale, and that process
// is never signalled.
func TestForeignPIDFileIsNeverSignalled(t *testing.T) {
	e := testenv.New(t)
	sleep := exec.Command("sleep", "300")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	os.MkdirAll(e.StateDir, 0o700)
	pidPath := filepath.Join(e.StateDir, ".daemon_pids.compilation")
	os.WriteFile(pidPath, []byte(strconv.Itoa(sleep.Process.Pid)+"\n"), 0o600)

	if r := e.Run("stop", "compilation"); r.Code != 0 || !strings.Contains(r.Stdout, "stale") {
		t.Fatalf("stop with a foreign PID: exit %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	os.WriteFile(pidPath, []byte(strconv.Itoa(sleep.Process.Pid)+"\n"), 0o600)
	s, _ := status(t, e)
	if states(s)["compilation"] != "stale" {
		t.Fatalf("status: %v, want compilation stale", states(s))
	}
	if !testenv.Alive(sleep.Process.Pid) {
		t.Fatal("the unrelated process was signalled")
	}
	if _, err := os.Stat(pidPath); !os.IsNotExist(err) {
		t.Fatal("stale PID file not cleaned")
	}
}

func TestPortInUse(t *testing.T) {
	e := testenv.New(t)
	e.HoldPort("setup")
	r := e.Run("start", "setup")
	port := strconv.Itoa(e.Port("setup"))
	if r.Code == 0 || !strings.Contains(r.Stderr, "port in use") || !strings.Contains(r.Stderr, port) {
		t.Fatalf("start on a taken port: exit %d\n%s", r.Code, r.Stderr)
	}
	if e.PID("setup") != 0 {
		t.Fatal("PID file left by a daemon that could not listen")
	}
}

// A cache file that is not ours is set aside with a warning; the daemon
// starts empty.
func TestCorruptCacheIsSetAside(t *testing.T) {
	e := testenv.New(t)
	dir := filepath.Join(e.StateDir, "cache", "discovery")
	os.MkdirAll(dir, 0o700)
	os.WriteFile(filepath.Join(dir, "tools.log"), []byte("\x00\x01garbage that is not a jmake log"), 0o600)
	e.MustRun("start", "discovery")
	log, _ := os.ReadFile(filepath.Join(e.StateDir, "logs", "discovery.log"))
	if !strings.Contains(string(log), "not a jmake cache log") || !strings.Contains(string(log), "level=WARN") {
		t.Errorf("no warning about the corrupt cache:\n%s", log)
	}
	aside, _ := filepath.Glob(filepath.Join(dir, "tools.log.corrupt-*"))
	if len(aside) != 1 {
		t.Fatalf("corrupt file not set aside: %v", aside)
	}
	e.MustRun("call", "discovery", "get_tool", `{"name":"cc"}`)
	if n := e.CacheEntries("discovery"); n == 0 {
		t.Fatal("cache not working after setting the corrupt file aside")
	}
}

func TestNoPersist(t *testing.T) {
	e := testenv.New(t)
	e.MustRun("start", "--no-persist", "discovery")
	e.MustRun("call", "discovery", "get_tool", `{"name":"cc"}`)
	e.MustRun("stop", "discovery")
	e.MustRun("start", "discovery")
	if n := e.CacheEntries("discovery"); n != 0 {
		t.Fatalf("--no-persist: %d entries came back from disk", n)
	}
	e.MustRun("stop", "discovery")
	os.WriteFile(filepath.Join(e.StateDir, "config.toml"), []byte("persist = false\n"), 0o600)
	e.MustRun("start", "discovery")
	e.MustRun("call", "discovery", "get_tool", `{"name":"cc"}`)
	e.MustRun("restart", "discovery")
	if n := e.CacheEntries("discovery"); n != 0 {
		t.Fatalf("persist = false: %d entries came back from disk", n)
	}
}

// SIGTERM stops gracefully; a stop that does not finish within the timeout
// ends in SIGKILL of the group (a SIGSTOPped daemon cannot drain).
func TestStopKillsAfterTimeout(t *testing.T) {
	e := testenv.New(t)
	e.MustRun("start", "orchestrator")
	pid := e.PID("orchestrator")
	syscall.Kill(pid, syscall.SIGSTOP)
	r := e.MustRun("stop", "--timeout", "300ms", "orchestrator")
	if !strings.Contains(r.Stdout, "killed") || testenv.Alive(pid) {
		t.Fatalf("stop of a hung daemon: %q alive=%v", r.Stdout, testenv.Alive(pid))
	}
	if e.PID("orchestrator") != 0 {
		t.Fatal("PID file left after SIGKILL")
	}
}

// A kill -9 in the middle of a burst of cache writes leaves a cache that the
// next start loads, with every entry whole.
func TestKillDuringCacheWrites(t *testing.T) {
	e := testenv.New(t)
	e.MustRun("start", "discovery")
	tok := e.Token()
	addr := fmt.Sprintf("127.0.0.1:%d", e.Port("discovery"))
	proj := t.TempDir()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			// Each scan of a new tree writes cache entries.
			sub := filepath.Join(proj, strconv.Itoa(i))
			os.MkdirAll(filepath.Join(sub, "src"), 0o755)
			os.WriteFile(filepath.Join(sub, "src", "a.c"), []byte("int a;\n"), 0o644)
			if err := postJSON(addr, tok, "scan_files", map[string]any{"path": sub}); err != nil {
				return
			}
		}
	}()
	testenv.WaitFor(t, 10*time.Second, "cache writes", func() bool {
		fi, err := os.Stat(filepath.Join(e.StateDir, "cache", "discovery"))
		return err == nil && fi != nil && dirSize(filepath.Join(e.StateDir, "cache", "discovery")) > 20_000
	})
	syscall.Kill(e.PID("discovery"), syscall.SIGKILL)
	<-done
	e.MustRun("start", "discovery")
	log, _ := os.ReadFile(filepath.Join(e.StateDir, "logs", "discovery.log"))
	if strings.Contains(string(log), "corrupt") || strings.Contains(string(log), "not a jmake cache log") {
		t.Fatalf("cache set aside after kill -9:\n%s", log)
	}
	if n := e.CacheEntries("discovery"); n == 0 {
		t.Fatal("nothing loaded after kill -9")
	}
}

// TestRestartCleanRecyclesObjects: after `jmake restart --clean`, the next
// build finds no cache (it compiles every unit, restores none), and the
// object cache's new entries are the old entries' files, emptied and
// refilled, not new files.
func TestRestartCleanRecyclesObjects(t *testing.T) {
	e := testenv.New(t)
	proj := testenv.Tree(t, map[string]string{
		"jmake.toml": "[project]\nname = \"t\"\n[binary]\nlibrary_type = \"static\"\n",
		"src/a.c":    "int a(void) { return 1; }\n",
		"src/b.c":    "int b(void) { return 2; }\n",
		"src/c.c":    "int c(void) { return 3; }\n",
	})
	e.MustRun("start", "--no-supervise")
	defer e.Run("stop")
	build := func() (compiled, cached int) {
		t.Helper()
		r := e.RunIn(proj, "build", "--json")
		if r.Code != 0 {
			t.Fatalf("build: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
		}
		lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
		var reply struct{ Compiled, Cached int }
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &reply); err != nil {
			t.Fatalf("build --json: %v\n%s", err, r.Stdout)
		}
		return reply.Compiled, reply.Cached
	}
	objects := filepath.Join(e.StateDir, "cache", "compilation", "objects")
	inodes := func() map[uint64]bool {
		t.Helper()
		set := map[uint64]bool{}
		paths, _ := filepath.Glob(filepath.Join(objects, "*", "*"))
		for _, p := range paths {
			if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
				set[fi.Sys().(*syscall.Stat_t).Ino] = true
			}
		}
		return set
	}
	if c, _ := build(); c != 3 {
		t.Fatalf("first build compiled %d units, want 3", c)
	}
	old := inodes()
	if len(old) != 3 {
		t.Fatalf("%d objects cached, want 3", len(old))
	}
	e.MustRun("restart", "--clean", "compilation")
	if n := e.CacheEntries("compilation"); n != 0 {
		t.Fatalf("%d cache entries after restart --clean, want 0", n)
	}
	os.RemoveAll(filepath.Join(proj, "build"))
	if c, h := build(); c != 3 || h != 0 {
		t.Fatalf("build after restart --clean: %d compiled, %d from the cache; want 3 and 0", c, h)
	}
	now := inodes()
	for ino := range now {
		if !old[ino] {
			t.Errorf("a cache entry is a new file (inode %d), not a recycled one", ino)
		}
	}
	if len(now) != 3 {
		t.Errorf("%d objects cached after the rebuild, want 3", len(now))
	}
	if left, _ := os.ReadDir(filepath.Join(objects, ".spare")); len(left) != 0 {
		t.Errorf("%d spares left", len(left))
	}
}
