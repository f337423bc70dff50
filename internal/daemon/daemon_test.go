package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/pidfile"
	"github.com/jmake/jmake/internal/settings"
)

type testDaemon struct {
	*Daemon
	url   string
	token string
	logs  *syncBuffer
	errc  chan error
}

type syncBuffer struct {
	mu chan struct{}
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.String()
}

// startDaemon runs a daemon in-process on a free port and stops it when the
// test ends.
func startDaemon(t *testing.T, stateDir string, setup func(*Daemon)) *testDaemon {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{mu: make(chan struct{}, 1)}
	s := settings.Default()
	s.DrainTimeout = settings.Duration{Duration: 5 * time.Second}
	d, err := New(Options{Name: "discovery", Listener: ln, StateDir: stateDir, Token: "secret", Settings: s,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(d)
	}
	td := &testDaemon{Daemon: d, url: "http://" + ln.Addr().String(), token: "secret", logs: logs, errc: make(chan error, 1)}
	go func() { td.errc <- d.Serve(context.Background()) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(td.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not answering: %v", err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Cleanup(func() {
		d.Shutdown()
		<-d.Done()
	})
	return td
}

// send makes one request of the daemon, with the token when one is given
// and the Accept header when accept is set, and returns the reply (its body
// closed) and the body.
func (td *testDaemon) send(t *testing.T, method, path, token, accept string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, td.url+path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

// do sends a request and decodes a JSON reply.
func (td *testDaemon) do(t *testing.T, method, path, token string, body io.Reader) (int, map[string]any) {
	t.Helper()
	resp, b := td.send(t, method, path, token, "", body)
	var m map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: reply is not JSON: %q", method, path, b)
		}
	}
	return resp.StatusCode, m
}

func TestRoutesAndAuth(t *testing.T) {
	td := startDaemon(t, t.TempDir(), func(d *Daemon) {
		d.Handle("echo", func(ctx context.Context, r *Request) (any, error) {
			var args map[string]any
			if err := r.Decode(&args); err != nil {
				return nil, err
			}
			return map[string]any{"args": args}, nil
		})
	})
	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		success                         any
	}{
		{"healthz needs no token", "GET", "/healthz", "", "", 200, nil},
		{"stats without token", "GET", "/v1/stats", "", "", 401, false},
		{"stats with wrong token", "GET", "/v1/stats", "wrong", "", 401, false},
		{"call without token", "POST", "/v1/call/echo", "", "{}", 401, false},
		{"call with wrong token", "POST", "/v1/call/echo", "secreT", "{}", 401, false},
		{"metrics without token", "GET", "/metrics", "", "", 401, false},
		{"call", "POST", "/v1/call/echo", "secret", `{"a":1}`, 200, true},
		{"empty body", "POST", "/v1/call/echo", "secret", "", 200, true},
		{"malformed JSON", "POST", "/v1/call/echo", "secret", `{"a":`, 400, false},
		{"not an object", "POST", "/v1/call/echo", "secret", `[1,2]`, 400, false},
		{"unknown function", "POST", "/v1/call/nope", "secret", `{}`, 404, false},
		{"body over the limit", "POST", "/v1/call/echo", "secret", `{"a":"` + strings.Repeat("x", 8<<20) + `"}`, 413, false},
		{"wrong method", "GET", "/v1/call/echo", "secret", "", 405, nil},
		{"stats", "GET", "/v1/stats", "secret", "", 200, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, m := td.do(t, tc.method, tc.path, tc.token, strings.NewReader(tc.body))
			if status != tc.status {
				t.Fatalf("status %d, want %d (reply %v)", status, tc.status, m)
			}
			if tc.success != nil && m["success"] != tc.success {
				t.Fatalf("success = %v, want %v (reply %v)", m["success"], tc.success, m)
			}
			if tc.success == false && m["error"] == "" {
				t.Fatalf("error reply without a message: %v", m)
			}
		})
	}
	// After all of that, the daemon still answers.
	status, h := td.do(t, "GET", "/healthz", "", nil)
	if status != 200 || h["status"] != "ok" || h["name"] != "discovery" || h["pid"] != float64(os.Getpid()) {
		t.Fatalf("healthz after bad requests: %d %v", status, h)
	}
	for _, k := range []string{"version", "uptime_seconds"} {
		if _, ok := h[k]; !ok {
			t.Errorf("healthz lacks %q", k)
		}
	}
	_, st := td.do(t, "GET", "/v1/stats", "secret", nil)
	for _, k := range []string{"start_time", "uptime_seconds", "requests", "cache_hits", "cache_misses", "errors", "cache_hit_rate", "error_rate", "caches"} {
		if _, ok := st[k]; !ok {
			t.Errorf("stats lacks %q: %v", k, st)
		}
	}
	if st["errors"].(float64) < 4 || st["requests"].(float64) < 6 {
		t.Errorf("stats did not count the calls: %v", st)
	}
}

func TestMetricsPassPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus; .ci/run installs it)")
	}
	td := startDaemon(t, t.TempDir(), func(d *Daemon) {
		m := d.Cache("tools")
		m.Put("cc", []byte("/usr/bin/cc"))
		m.Get("cc")
		m.Get("nope")
	})
	td.do(t, "POST", "/v1/call/cache_stats", "secret", strings.NewReader("{}"))
	_, text := td.send(t, "GET", "/metrics", "secret", "", nil)
	for _, want := range []string{
		`jmake_requests_total{code="200",daemon="discovery",function="cache_stats"} 1`,
		`jmake_cache_entries{cache="tools",daemon="discovery"} 1`,
		`jmake_cache_hits_total{cache="tools",daemon="discovery"} 1`,
		`jmake_cache_misses_total{cache="tools",daemon="discovery"} 1`,
		"jmake_uptime_seconds",
	} {
		if !bytes.Contains(text, []byte(want)) {
			t.Errorf("metrics lack %q", want)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestMetricsText: the histogram's buckets are cumulative with a bound
// counting the values equal to it, label values are escaped, counters
// added by a daemon must end in _total, and the text passes promtool.
func TestMetricsText(t *testing.T) {
	td := startDaemon(t, t.TempDir(), func(d *Daemon) {
		if err := d.AddCounter("jmake_things_total", "Things.", func() float64 { return 7 }); err != nil {
			t.Fatal(err)
		}
		if err := d.AddCounter("jmake_things", "No suffix.", func() float64 { return 0 }); err == nil {
			t.Error("a counter without _total accepted")
		}
		if err := d.AddCounter("jmake_things_total", "Again.", func() float64 { return 0 }); err == nil {
			t.Error("a counter registered twice")
		}
	})
	if _, st := td.do(t, "GET", "/v1/stats", "secret", nil); fmt.Sprint(st["counters"]) != "map[things:7]" {
		t.Errorf("/v1/stats counters = %v, want things: 7", st["counters"])
	}
	m := td.metrics
	for _, d := range []time.Duration{50 * time.Microsecond, 100 * time.Microsecond, 300 * time.Microsecond, time.Hour} {
		m.observe("odd \"name\"\\\n", 404, d)
	}
	text := string(m.render())
	labels := `daemon="discovery",function="odd \"name\"\\\n"`
	for _, want := range []string{
		`jmake_requests_total{code="404",` + labels + `} 4`,
		`jmake_request_duration_seconds_bucket{` + labels + `,le="0.0001"} 2`,
		`jmake_request_duration_seconds_bucket{` + labels + `,le="0.0004"} 3`,
		`jmake_request_duration_seconds_bucket{` + labels + `,le="419.4304"} 3`,
		`jmake_request_duration_seconds_bucket{` + labels + `,le="+Inf"} 4`,
		`jmake_request_duration_seconds_count{` + labels + `} 4`,
		`jmake_things_total{daemon="discovery"} 7`,
		"process_cpu_seconds_total ",
		"process_resident_memory_bytes ",
		"go_goroutines ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool check metrics: %v\n%s\n%s", err, out, text)
		}
	}
}

// A graceful stop lets a call in flight finish, runs cleanup hooks in
// order, logs the summary, saves caches and removes the PID file.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	release := make(chan struct{})
	entered := make(chan struct{})
	var order []string
	td := startDaemon(t, dir, func(d *Daemon) {
		d.Cache("tools").Put("cc", []byte("x"))
		d.Handle("slow", func(ctx context.Context, r *Request) (any, error) {
			close(entered)
			<-release
			return map[string]any{"done": true}, nil
		})
		d.OnShutdown("first", func(context.Context) error { order = append(order, "first"); return nil })
		d.OnShutdown("failing", func(context.Context) error { order = append(order, "failing"); return io.ErrUnexpectedEOF })
		d.OnShutdown("third", func(context.Context) error { order = append(order, "third"); return nil })
	})
	pidPath := pidfile.Path(dir, "discovery")
	if _, err := os.Stat(pidPath); err != nil {
		t.Fatalf("no PID file while serving: %v", err)
	}
	reply := make(chan map[string]any, 1)
	go func() {
		_, m := td.do(t, "POST", "/v1/call/slow", "secret", strings.NewReader("{}"))
		reply <- m
	}()
	<-entered
	td.Shutdown()
	// New connections are refused once draining has begun.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(td.url, "http://"), 100*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections after Shutdown")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	if m := <-reply; m["success"] != true || m["done"] != true {
		t.Fatalf("call in flight got %v, want its reply", m)
	}
	<-td.Done()
	if err := <-td.errc; err != nil {
		t.Fatalf("Serve returned %v", err)
	}
	if strings.Join(order, ",") != "first,failing,third" {
		t.Errorf("cleanup order %v", order)
	}
	logs := td.logs.String()
	for _, want := range []string{`msg="shutdown: cleanup failed" daemon=discovery step=failing err="unexpected EOF"`, `msg="shutdown: requests served" daemon=discovery requests=1 cache_hit_rate=`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if _, err := os.Stat(pidPath); !os.IsNotExist(err) {
		t.Errorf("PID file left after shutdown")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "cache", "discovery", "tools.log")); !bytes.Contains(b, []byte("cc")) {
		t.Error("cache not on disk after shutdown")
	}
}

// A connection accepted before a stop whose request arrives after the stop
// began still gets its reply: http.Server.Shutdown would drop that request
// unanswered (the client sees EOF), as happened to builds in rolling
// restarts. A connection that never sends is closed after a second's grace
// (Shutdown alone would wait five).
func TestRequestAcceptedBeforeStopIsServed(t *testing.T) {
	td := startDaemon(t, t.TempDir(), nil)
	addr := strings.TrimPrefix(td.url, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	deadline := time.Now().Add(5 * time.Second)
	for fresh := 0; fresh != 2; {
		td.conns[0].mu.Lock()
		fresh = len(td.conns[0].fresh)
		td.conns[0].mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("%d fresh connections, want 2 (ours, accepted)", fresh)
		}
		time.Sleep(time.Millisecond)
	}
	stop := time.Now()
	td.Shutdown()
	for {
		dc, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		dc.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections after Shutdown")
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("request sent on a connection accepted before the stop: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	<-td.Done()
	if took := time.Since(stop); took > 4*time.Second {
		t.Errorf("stop took %s with a silent connection open, want about 1s", took)
	}
	silent.SetReadDeadline(time.Now().Add(time.Second))
	if n, err := silent.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("silent connection after the stop: read %d, %v; want EOF", n, err)
	}
}

func TestStreamingProgress(t *testing.T) {
	td := startDaemon(t, t.TempDir(), func(d *Daemon) {
		d.Handle("count", func(ctx context.Context, r *Request) (any, error) {
			for i := range 3 {
				r.Progress(map[string]any{"event": "tick", "n": i})
			}
			return map[string]any{"total": 3}, nil
		})
	})
	_, b := td.send(t, "POST", "/v1/call/count", "secret", "application/x-ndjson", strings.NewReader("{}"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 4 || !strings.Contains(lines[3], `"success":true`) || !strings.Contains(lines[3], `"total":3`) {
		t.Fatalf("stream = %q", lines)
	}
}

// TestProgressBatches reads a stream's HTTP chunks off the wire: each flush
// is one chunk. A lone event must arrive while the handler still runs, a
// burst of 200 must arrive too, in a few flushes rather than 200, and the
// reply must follow the last event.
func TestProgressBatches(t *testing.T) {
	gotFirst, gotBurst := make(chan struct{}), make(chan struct{})
	td := startDaemon(t, t.TempDir(), func(d *Daemon) {
		d.Handle("burst", func(ctx context.Context, r *Request) (any, error) {
			r.Progress(map[string]any{"event": "first"})
			<-gotFirst // only a flush now gets it to the caller
			for i := range 200 {
				r.Progress(map[string]any{"event": "tick", "n": i})
			}
			<-gotBurst // only the armed flush gets these out
			r.Progress(map[string]any{"event": "last"})
			return map[string]any{"total": 202}, nil
		})
	})
	conn, err := net.Dial("tcp", strings.TrimPrefix(td.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST /v1/call/burst HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\n"+
		"Accept: application/x-ndjson\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
	br := bufio.NewReader(conn)
	for { // status line and headers
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
	}
	var lines []string
	var partial string
	chunks := 0
	for {
		var size int
		if _, err := fmt.Fscanf(br, "%x\r\n", &size); err != nil {
			t.Fatalf("chunk size: %v (after %d lines)", err, len(lines))
		}
		if size == 0 {
			break
		}
		chunks++
		data := make([]byte, size+2) // the chunk and its CRLF
		if _, err := io.ReadFull(br, data); err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(partial+string(data[:size]), "\n")
		partial = parts[len(parts)-1]
		for _, l := range parts[:len(parts)-1] {
			lines = append(lines, l)
			switch {
			case len(lines) == 1:
				close(gotFirst)
			case len(lines) == 201:
				close(gotBurst)
			}
		}
	}
	if len(lines) != 203 || !strings.Contains(lines[201], `"last"`) || !strings.Contains(lines[202], `"total":202`) {
		t.Fatalf("got %d lines, want 202 events then the reply; last: %q", len(lines), lines[len(lines)-1])
	}
	// first, the burst (a 2 KiB write buffer may cut it in a few), last
	// with the reply: per-event flushes would make over 200.
	if chunks > 10 {
		t.Errorf("%d chunks for 202 events: progress is not batched", chunks)
	}
}

func TestReloadRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	td := startDaemon(t, dir, nil)
	os.WriteFile(settings.ConfigPath(dir), []byte("workers = 3\nlog_level = \"debug\"\n"), 0o600)
	if status, m := td.do(t, "POST", "/v1/reload", "secret", nil); status != 200 {
		t.Fatalf("reload: %d %v", status, m)
	}
	if got := td.Settings().Workers; got != 3 {
		t.Fatalf("workers after reload = %d, want 3", got)
	}
	os.WriteFile(settings.ConfigPath(dir), []byte("workers = 4\nworkers = [\n"), 0o600)
	status, m := td.do(t, "POST", "/v1/reload", "secret", nil)
	if status != 400 || !strings.Contains(m["error"].(string), "config.toml:2:") {
		t.Fatalf("bad reload: %d %v, want 400 naming config.toml:2", status, m)
	}
	if got := td.Settings().Workers; got != 3 {
		t.Fatalf("workers after rejected reload = %d, want 3 kept", got)
	}
}
