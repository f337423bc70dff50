package supervisor_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/settings"
	"github.com/jmake/jmake/internal/statedir"
	"github.com/jmake/jmake/internal/testenv"
)

// load sends requests to all four daemons from several goroutines: GET
// /healthz and POST /v1/call/cache_stats, on kept-alive connections as a
// real client does, a quarter of the workers through the daemons' unix
// sockets, the rest through their ports. Every error or non-200 counts as
// a failure.
type load struct {
	mu        sync.Mutex
	lat       []time.Duration
	failures  []string
	n         atomic.Int64
	retried   atomic.Int64
	firstErrs []string
	stop      chan struct{}
	wg        sync.WaitGroup
}

func startLoad(t *testing.T, e *testenv.Env, workers int, idempotent, retry bool) *load {
	l := &load{stop: make(chan struct{})}
	tok := e.Token()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}, Timeout: 10 * time.Second}
	// Through the unix sockets: the URL's host names the daemon.
	uc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			name, _, _ := strings.Cut(addr, ":")
			return (&net.Dialer{}).DialContext(ctx, "unix", statedir.SocketPath(e.StateDir, name))
		}}, Timeout: 10 * time.Second}
	for w := range workers {
		hc := hc
		if w%4 == 3 {
			hc = uc
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				name := settings.Names()[(w+i)%4]
				url := fmt.Sprintf("http://127.0.0.1:%d", e.Port(name))
				if hc == uc {
					url = "http://" + name
				}
				var req *http.Request
				if i%2 == 0 {
					req, _ = http.NewRequest("GET", url+"/healthz", nil)
				} else {
					req, _ = http.NewRequest("POST", url+"/v1/call/cache_stats", bytes.NewReader([]byte("{}")))
					req.Header.Set("Authorization", "Bearer "+tok)
					if idempotent {
						// cache_stats only reads: say so, and net/http
						// retries it when a kept-alive connection is closed
						// under it, as it does for a GET.
						req.Header.Set("Idempotency-Key", fmt.Sprint(w, "-", i))
					}
				}
				begin := time.Now()
				err := do(hc, req)
				if err != nil && retry {
					// One retry of an idempotent request whose connection
					// was closed under it (a client may retry once; counted).
					l.retried.Add(1)
					l.mu.Lock()
					l.firstErrs = append(l.firstErrs, err.Error())
					l.mu.Unlock()
					if req.GetBody != nil {
						req.Body, _ = req.GetBody()
					}
					err = do(hc, req)
				}
				took := time.Since(begin)
				l.n.Add(1)
				l.mu.Lock()
				l.lat = append(l.lat, took)
				if err != nil {
					l.failures = append(l.failures, fmt.Sprintf("%s %s: %v", req.Method, req.URL, err))
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

// window returns the requests, failures and p99 since the marks given.
func (l *load) since(latMark, failMark int) (n int, failures []string, p99 time.Duration) {
	l.mu.Lock()
	lat := slices.Clone(l.lat[latMark:])
	failures = slices.Clone(l.failures[failMark:])
	l.mu.Unlock()
	slices.Sort(lat)
	if len(lat) > 0 {
		p99 = lat[len(lat)*99/100]
	}
	return len(lat), failures, p99
}

func (l *load) marks() (int, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lat), len(l.failures)
}

func (l *load) close() {
	close(l.stop)
	l.wg.Wait()
}

func writeProject(t *testing.T) string {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "src"), 0o755)
	os.WriteFile(filepath.Join(dir, "jmake.toml"), []byte("[project]\nname = \"t\"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "src", "a.c"), []byte("int main(void) { return 0; }\n"), 0o644)
	return dir
}

// rollUnderLoad runs a rolling restart of all four while clients hammer
// them and builds run, and reports the figures. The builds run the small
// client without jmaked beside it, so each goes through the orchestrator's
// unix socket: one that found no socket would fail to hand over to jmaked.
func rollUnderLoad(t *testing.T, e *testenv.Env, label string) {
	t.Helper()
	proj := writeProject(t)
	e.MustRun("call", "discovery", "get_tool", `{"name":"cc"}`)
	alone := e.ClientOnly()
	if r := alone.RunIn(proj, "build"); r.Code != 0 {
		t.Fatalf("build before the rolling restart: %s\n%s", r.Stdout, r.Stderr)
	}
	// A second project is only ever rebuilt unchanged: its no-ops are
	// answered on the orchestrator's accept loop (the fast lane), while
	// one instance drains and the next takes the socket over.
	still := writeProject(t)
	for range 2 {
		if r := alone.RunIn(still, "build"); r.Code != 0 {
			t.Fatalf("build of the unchanged project: %s\n%s", r.Stdout, r.Stderr)
		}
	}
	before := map[string]int{}
	for _, n := range settings.Names() {
		before[n] = e.PID(n)
	}
	l := startLoad(t, e, 8, true, os.Getenv("JMAKE_LOAD_NO_RETRY") == "")
	defer l.close()
	// A second of steady load for the baseline p99.
	testenv.WaitFor(t, 10*time.Second, "baseline load", func() bool { return l.n.Load() >= 2000 })
	baseN, baseFail, baseP99 := l.since(0, 0)
	lm, fm := l.marks()

	// Builds, one after another, for as long as the rolling restart runs.
	rollDone := make(chan struct{})
	var builds, buildFails atomic.Int64
	var buildErrs []string
	var bwg sync.WaitGroup
	bwg.Add(1)
	go func() {
		defer bwg.Done()
		for i := 0; ; i++ {
			select {
			case <-rollDone:
				if i > 0 {
					return
				}
			default:
			}
			// Touch the source so every build compiles.
			os.WriteFile(filepath.Join(proj, "src", "a.c"), []byte(fmt.Sprintf("int main(void) { return %d; }\n", i%100)), 0o644)
			r := alone.RunIn(proj, "build")
			builds.Add(1)
			if r.Code != 0 {
				buildFails.Add(1)
				buildErrs = append(buildErrs, time.Now().Format("15:04:05.000000")+" "+r.Stdout+r.Stderr)
			}
		}
	}()
	var noops atomic.Int64
	var noopErrs []string
	bwg.Add(1)
	go func() {
		defer bwg.Done()
		for {
			select {
			case <-rollDone:
				return
			default:
			}
			r := alone.RunIn(still, "build")
			noops.Add(1)
			if r.Code != 0 || !strings.Contains(r.Stdout, " 0 compiled") {
				noopErrs = append(noopErrs, time.Now().Format("15:04:05.000000")+" "+r.Stdout+r.Stderr)
			}
		}
	}()
	begin := time.Now()
	r := e.Run("restart", "--rolling")
	took := time.Since(begin)
	close(rollDone)
	bwg.Wait()
	// Half a second more under load after the last switch.
	end := l.n.Load() + 500
	testenv.WaitFor(t, 10*time.Second, "load after the rolling restart", func() bool { return l.n.Load() >= end })
	n, failures, p99 := l.since(lm, fm)
	if r.Code != 0 {
		t.Fatalf("restart --rolling: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, name := range settings.Names() {
		if pid := e.PID(name); pid == before[name] || pid == 0 || healthyPID(e, name) != pid {
			t.Errorf("%s: pid %d -> %d (answering as %d): not replaced", name, before[name], pid, healthyPID(e, name))
		}
	}
	rate := float64(n) / time.Since(begin).Seconds()
	t.Logf("%s: rolling restart of all four in %d ms under %.0f req/s: %d requests, %d failed; p99 %.2f ms (baseline %.2f ms over %d requests, %d failed, added %.2f ms); %d builds during it, %d failed",
		label, took.Milliseconds(), rate, n, len(failures), ms(p99), ms(baseP99), baseN, len(baseFail), ms(p99-baseP99), builds.Load(), buildFails.Load())
	t.Logf("%s", strings.TrimSpace(r.Stdout))
	if n := l.retried.Load(); n > 0 {
		t.Logf("%s: %d request(s) retried once after the connection was closed under them: %v", label, n, l.firstErrs)
	}
	if len(failures) > 0 {
		t.Errorf("%d failed requests during the rolling restart, e.g. %v", len(failures), failures[:min(5, len(failures))])
	}
	if buildFails.Load() > 0 {
		t.Errorf("%d builds failed during the rolling restart: %s", buildFails.Load(), buildErrs[0])
	}
	if len(noopErrs) > 0 {
		t.Errorf("%d of %d no-op builds failed during the rolling restart: %s", len(noopErrs), noops.Load(), noopErrs[0])
	}
	t.Logf("%s: %d no-op builds of an unchanged project during it", label, noops.Load())
	// The new orchestrator owns the socket now (the old one, stopping,
	// left it alone).
	if r := alone.RunIn(proj, "build"); r.Code != 0 {
		t.Errorf("build through the socket after the rolling restart: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if rate < 1000 {
		t.Logf("note: load was %.0f req/s, under the 1,000 asked for", rate)
	}
}

func do(hc *http.Client, req *http.Request) error {
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func TestRollingRestartUnderLoad(t *testing.T) {
	e := testenv.New(t)
	e.MustRun("start")
	rollUnderLoad(t, e, "plain")
}

func TestRollingRestartUnderSupervisor(t *testing.T) {
	e := testenv.New(t)
	startSupervisor(t, e)
	waitAllRunning(t, e, 15*time.Second)
	rollUnderLoad(t, e, "supervised")
	st := supState(t, e)
	for _, n := range settings.Names() {
		if st[n].State != "running" || st[n].Restarts != 1 || !strings.Contains(st[n].Reason, "rolling restart") {
			t.Errorf("%s after a rolling restart under the supervisor: %+v", n, st[n])
		}
	}
	_ = context.Background
}
