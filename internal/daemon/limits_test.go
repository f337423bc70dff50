package daemon

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawRequest opens a connection to td, writes head and body as given (a
// body shorter than its Content-Length stalls), and returns the connection
// with a reader of the reply. The connection is closed when the test ends.
func rawRequest(t *testing.T, td *testDaemon, head, body string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(td.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, head+"\r\n"+body); err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReader(c)
}

// readReply reads one reply, then requires the daemon to close the
// connection, all within limit.
func readReply(t *testing.T, c net.Conn, br *bufio.Reader, limit time.Duration) *http.Response {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(limit))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no reply within %s: %v", limit, err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("connection still open after the %d reply (read: %v)", resp.StatusCode, err)
	}
	return resp
}

// A request refused for its token or its body is answered without reading
// the rest of its body, and its connection closed: a request without a
// token that announces a body and sends one byte of it is refused at once
// (otherwise anyone could hold connections open forever), and with a token
// a body that stalls fails with 408 after bodyStall.
func TestRefusedRequestClosesItsConnection(t *testing.T) {
	td := startDaemon(t, t.TempDir(), func(d *Daemon) {
		d.lim.bodyStall = 200 * time.Millisecond
	})
	for _, tc := range []struct {
		name, request string
		status        int
	}{
		{"call without token", "POST /v1/call/cache_stats", http.StatusUnauthorized},
		{"stats without token", "GET /v1/stats", http.StatusUnauthorized},
		{"shutdown without token", "POST /v1/shutdown", http.StatusUnauthorized},
		{"stalled body", "POST /v1/call/cache_stats HTTP/1.1\r\nAuthorization: Bearer secret", http.StatusRequestTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			head := tc.request
			if !strings.Contains(head, "HTTP/1.1") {
				head += " HTTP/1.1"
			}
			c, br := rawRequest(t, td, head+"\r\nHost: x\r\nContent-Length: 100\r\n", "{")
			if resp := readReply(t, c, br, 3*time.Second); resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}

// A slow client that keeps sending is served however long its body takes
// in all, and a call that runs longer than every read limit after its body
// arrived is neither cancelled nor cut off.
func TestSlowClientAndLongCallAreServed(t *testing.T) {
	td := startDaemon(t, t.TempDir(), func(d *Daemon) {
		d.lim.bodyStall = 300 * time.Millisecond
		d.Handle("long", func(ctx context.Context, r *Request) (any, error) {
			for i := range 8 {
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(100 * time.Millisecond):
				}
				r.Progress(map[string]any{"event": "tick", "n": i})
			}
			return map[string]any{"done": true}, nil
		})
	})
	body := `{"pad":"` + strings.Repeat("x", 20) + `"}`
	c, br := rawRequest(t, td, "POST /v1/call/long HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\nAccept: application/x-ndjson\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n", "")
	// Ten pieces 100 ms apart: a second in all, each gap under the stall.
	for i := 0; i < len(body); i += 3 {
		time.Sleep(100 * time.Millisecond)
		if _, err := io.WriteString(c, body[i:min(i+3, len(body))]); err != nil {
			t.Fatal(err)
		}
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(out), `"done":true`) || strings.Count(string(out), `"tick"`) != 8 {
		t.Fatalf("status %d, reply %q", resp.StatusCode, out)
	}
}

// A connection with no request in flight is closed after the idle limit.
func TestIdleConnectionIsClosed(t *testing.T) {
	td := startDaemon(t, t.TempDir(), func(d *Daemon) {
		d.lim.idle = 200 * time.Millisecond
	})
	c, br := rawRequest(t, td, "GET /healthz HTTP/1.1\r\nHost: x\r\n", "")
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection not closed within 3 s: %v", err)
	}
}
