package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/settings"
)

// thinCall words a call as the thin client does: one write, a body of a
// known length, the token, a stream reply.
func thinCall(function, token, body string) string {
	return "POST /v1/call/" + function + " HTTP/1.1\r\nHost: jmake\r\nContent-Type: application/json\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\nAuthorization: Bearer " + token + "\r\n" +
		"Accept: application/x-ndjson\r\nConnection: close\r\n\r\n" + body
}

// rawReply sends req to the unix socket at path in the given pieces, each
// after a pause of gap, and reads the reply to its end.
func rawReply(t *testing.T, path string, gap time.Duration, pieces ...string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	for i, p := range pieces {
		if i > 0 {
			time.Sleep(gap)
		}
		if _, err := io.WriteString(c, p); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reply to %q: %v", pieces, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reply body: %v", err)
	}
	return resp, string(b)
}

// fastDaemon serves "sum" (a handler, with a fast answer that answers
// what the handler would, or declines when the daemon's decline is set)
// and "plain" (a handler only) on a unix socket. The counts say how often
// each path ran.
type fastDaemon struct {
	*testDaemon
	sock                    string
	handled, offered, fastN atomic.Int64
	decline                 atomic.Bool
	replyThenDecline        atomic.Bool
	panics                  atomic.Bool
}

func startFast(t *testing.T) *fastDaemon {
	dir := t.TempDir()
	f := &fastDaemon{sock: filepath.Join(dir, "orchestrator.sock")}
	sum := func(args []byte) (map[string]any, bool) {
		var a struct{ A, B int }
		if json.Unmarshal(args, &a) != nil {
			return nil, false
		}
		return map[string]any{"sum": a.A + a.B}, true
	}
	f.testDaemon = startDaemon(t, dir, func(d *Daemon) {
		d.opts.Socket = f.sock
		d.Handle("sum", func(_ context.Context, r *Request) (any, error) {
			f.handled.Add(1)
			reply, ok := sum(r.Args)
			if !ok {
				return nil, Errorf(400, "sum: bad arguments")
			}
			return reply, nil
		})
		d.Handle("plain", func(context.Context, *Request) (any, error) { return map[string]any{"plain": true}, nil })
		if err := d.HandleFast("sum", func(args []byte, reply func(any)) bool {
			f.offered.Add(1)
			if f.panics.Load() {
				panic("a bug in a fast answer")
			}
			if f.replyThenDecline.Load() {
				reply(map[string]any{"sum": -1})
				return false
			}
			r, ok := sum(args)
			if !ok || f.decline.Load() {
				return false
			}
			reply(r)
			return true
		}); err != nil {
			t.Fatal(err)
		}
	})
	return f
}

// sent makes a unix socket of the test's own and sends req whole on a
// new connection to it: so the request is there when the fast lane
// looks, however busy the machine. It returns the client's end and the
// listener, with the connection waiting to be accepted.
func sent(t *testing.T, req string) (net.Conn, net.Listener) {
	t.Helper()
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	c, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	return c, ln
}

// handAccepted sends req (see sent), accepts it as the daemon's socket
// would, and offers it to d's fast lane. It returns the client's end, the
// daemon's, and whether the fast lane answered.
func handAccepted(t *testing.T, d *Daemon, req string) (net.Conn, *trackedConn, bool) {
	t.Helper()
	c, ln := sent(t, req)
	sc, err := newConnTracker(ln).Accept()
	if err != nil {
		t.Fatal(err)
	}
	tc := sc.(*trackedConn)
	t.Cleanup(func() { tc.Close() })
	return c, tc, d.answerFast(tc)
}

// A call the fast lane answers gets the reply the handler would have
// given, byte for byte, with the status and content type net/http would
// have sent, and counts as a request served.
func TestFastLaneAnswersAsTheHandler(t *testing.T) {
	f := startFast(t)
	body := `{"a":2,"b":3}`
	c, _, answered := handAccepted(t, f.Daemon, thinCall("sum", "secret", body))
	if !answered || f.offered.Load() != 1 || f.handled.Load() != 0 || f.Daemon.fastAnswers.Load() != 1 {
		t.Fatalf("answered %v, offered %d, handled %d, fast answers %d: want the fast lane to answer",
			answered, f.offered.Load(), f.handled.Load(), f.Daemon.fastAnswers.Load())
	}
	fast, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	fb, _ := io.ReadAll(fast.Body)
	f.decline.Store(true)
	slow, slowBody := rawReply(t, f.sock, 0, thinCall("sum", "secret", body))
	if f.handled.Load() != 1 {
		t.Fatalf("a declined call was not handled (handled %d)", f.handled.Load())
	}
	if string(fb) != slowBody || slowBody != `{"success":true,"sum":5}`+"\n" {
		t.Errorf("fast reply %q, handler's %q", fb, slowBody)
	}
	if fast.StatusCode != slow.StatusCode || fast.Header.Get("Content-Type") != slow.Header.Get("Content-Type") {
		t.Errorf("fast: %d %q, handler: %d %q", fast.StatusCode, fast.Header.Get("Content-Type"), slow.StatusCode, slow.Header.Get("Content-Type"))
	}
	if !fast.Close {
		t.Error("the fast reply does not close its connection")
	}
	if got := f.Daemon.requests.Load(); got != 2 {
		t.Errorf("requests served: %d, want 2", got)
	}
	if st := f.Daemon.stats(); st.Counters["fast_answers"] != 1 {
		t.Errorf("stats counters %v, want fast_answers 1", st.Counters)
	}
}

// The fast lane takes only what it is sure of: anything else it leaves,
// as it came, for net/http to read.
func TestFastLaneDeclines(t *testing.T) {
	f := startFast(t)
	body := `{"a":1,"b":2}`
	call := thinCall("sum", "secret", body)
	for _, tc := range []struct{ name, req string }{
		{"head only", call[:strings.Index(call, "\r\n\r\n")+4]},
		{"head cut mid-line", call[:20]},
		{"body cut short", call[:len(call)-1]},
		{"chunked", strings.Replace(call, "Content-Length: 13", "Transfer-Encoding: chunked", 1)},
		{"Content-Length twice", strings.Replace(call, "Host: jmake", "Content-Length: 13", 1)},
		{"Expect", strings.Replace(call, "Host: jmake", "Expect: 100-continue", 1)},
		{"wrong token", thinCall("sum", "wrong", body)},
		{"no fast answer", thinCall("plain", "secret", "{}")},
		{"GET", strings.Replace(call, "POST", "GET", 1)},
		{"HTTP/1.0", strings.Replace(call, "HTTP/1.1", "HTTP/1.0", 1)},
		{"a path below the function", strings.Replace(call, "/sum ", "/sum/x ", 1)},
	} {
		before := f.offered.Load()
		_, conn, answered := handAccepted(t, f.Daemon, tc.req)
		if answered {
			t.Errorf("%s: answered", tc.name)
			continue
		}
		if f.offered.Load() != before {
			t.Errorf("%s: offered to the fast answer", tc.name)
		}
		got := make([]byte, len(tc.req))
		if _, err := io.ReadFull(conn, got); err != nil || string(got) != tc.req {
			t.Errorf("%s: net/http would read %q (%v), want the request as sent", tc.name, got, err)
		}
	}
	f.decline.Store(true)
	if _, _, answered := handAccepted(t, f.Daemon, call); answered || f.handled.Load() != 0 {
		t.Errorf("a declining fast answer: answered %v", answered)
	}
}

// On the daemon's socket, requests that come in pieces, late, or that
// the fast lane leaves get net/http's answer, as if nothing had looked.
func TestFastLaneLeavesTheRest(t *testing.T) {
	f := startFast(t)
	body := `{"a":20,"b":22}`
	want := `{"success":true,"sum":42}` + "\n"
	call := thinCall("sum", "secret", body)
	head, rest, _ := strings.Cut(call, "\r\n\r\n")
	for _, tc := range []struct {
		name   string
		gap    time.Duration
		pieces []string
		status int
		body   string
	}{
		{"body after a pause", 20 * time.Millisecond, []string{head + "\r\n\r\n", rest}, 200, want},
		{"request after a pause", 20 * time.Millisecond, []string{"", call}, 200, want},
		{"head cut mid-line", 20 * time.Millisecond, []string{call[:20], call[20:]}, 200, want},
		{"chunked body", 0, []string{"POST /v1/call/sum HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\nTransfer-Encoding: chunked\r\n\r\n" +
			strconv.FormatInt(int64(len(body)), 16) + "\r\n" + body + "\r\n0\r\n\r\n"}, 200, want},
		{"wrong token", 0, []string{thinCall("sum", "wrong", body)}, 401, ""},
		{"no fast answer", 0, []string{thinCall("plain", "secret", "{}")}, 200, `{"success":true,"plain":true}` + "\n"},
		{"health", 0, []string{"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"}, 200, ""},
	} {
		resp, got := rawReply(t, f.sock, tc.gap, tc.pieces...)
		if resp.StatusCode != tc.status || tc.body != "" && got != tc.body {
			t.Errorf("%s: HTTP %d %q, want %d %q", tc.name, resp.StatusCode, got, tc.status, tc.body)
		}
	}
}

// A fast answer that replies and then declines broke its contract; the
// caller still gets one reply, the one sent, and the handler is not run
// behind it.
func TestFastLaneReplyThenDecline(t *testing.T) {
	f := startFast(t)
	f.replyThenDecline.Store(true)
	c, _, answered := handAccepted(t, f.Daemon, thinCall("sum", "secret", `{"a":1,"b":1}`))
	if !answered {
		t.Fatal("a call with a reply sent was handed on")
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(got) != `{"success":true,"sum":-1}`+"\n" || f.handled.Load() != 0 {
		t.Errorf("HTTP %d %q, handled %d: want the fast reply alone", resp.StatusCode, got, f.handled.Load())
	}
	if !strings.Contains(f.logs.String(), "fast answer broke its contract") {
		t.Errorf("no error logged:\n%s", f.logs.String())
	}
}

// A stopping daemon answers nothing in the fast lane: the call goes the
// usual way, which knows how to refuse it; what the fast lane read is
// left for that way to read.
func TestFastLaneNotWhileStopping(t *testing.T) {
	d, err := New(Options{Name: "orchestrator", Token: "secret", Settings: settings.Default()})
	if err != nil {
		t.Fatal(err)
	}
	offered := false
	d.HandleFast("sum", func([]byte, func(any)) bool { offered = true; return false })
	call := thinCall("sum", "secret", `{"a":1,"b":2}`)
	for _, stopping := range []bool{false, true} {
		if stopping {
			d.stopOnce.Do(func() { close(d.stopping) })
		}
		offered = false
		_, tc, answered := handAccepted(t, d, call)
		if answered {
			t.Fatalf("stopping %v: answered by a fast answer that declines", stopping)
		}
		if offered == stopping {
			t.Errorf("stopping %v: fast answer offered the call: %v", stopping, offered)
		}
		b := make([]byte, len(call))
		if _, err := io.ReadFull(tc, b); err != nil || string(b) != call {
			t.Errorf("stopping %v: the request as net/http reads it: %q, %v", stopping, b, err)
		}
	}
}

// A fast answer that panics leaves the daemon up and the call to its
// handler.
func TestFastLanePanic(t *testing.T) {
	f := startFast(t)
	f.panics.Store(true)
	call := thinCall("sum", "secret", `{"a":4,"b":5}`)
	_, conn, answered := handAccepted(t, f.Daemon, call)
	if answered {
		t.Fatal("a panicking fast answer answered")
	}
	got := make([]byte, len(call))
	if _, err := io.ReadFull(conn, got); err != nil || string(got) != call {
		t.Errorf("net/http would read %q (%v), want the request as sent", got, err)
	}
	if !strings.Contains(f.logs.String(), "fast answer panicked") {
		t.Errorf("no error logged:\n%s", f.logs.String())
	}
	if resp, body := rawReply(t, f.sock, 0, call); resp.StatusCode != 200 || body != `{"success":true,"sum":9}`+"\n" {
		t.Errorf("after the panic: HTTP %d %q, want the handler's answer", resp.StatusCode, body)
	}
}

// A daemon without fast answers leaves its socket's connections to
// net/http untouched: nothing is read ahead, nothing waited for.
func TestFastLaneIdleWithoutAnswers(t *testing.T) {
	d, err := New(Options{Name: "discovery", Token: "secret", Settings: settings.Default()})
	if err != nil {
		t.Fatal(err)
	}
	_, ln := sent(t, thinCall("sum", "secret", "{}"))
	sc, err := fastLane{newConnTracker(ln), d}.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if tc := sc.(*trackedConn); tc.prefix != nil {
		t.Errorf("read ahead %q", tc.prefix)
	}
}
