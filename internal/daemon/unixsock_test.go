package daemon

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unixClient is an HTTP client whose every request goes to the unix
// socket at path.
func unixClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
	}}
}

// callUnix calls function through the socket at path and returns the
// status and the "who" field of the reply.
func callUnix(t *testing.T, path, token, function string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://unix/v1/call/"+function, strings.NewReader("{}"))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := unixClient(path).Do(req)
	if err != nil {
		t.Fatalf("call %s through %s: %v", function, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r struct {
		Who string `json:"who"`
	}
	json.Unmarshal(b, &r)
	return resp.StatusCode, r.Who
}

// withSocket makes a startDaemon setup that listens on path too and
// answers "who" with who.
func withSocket(path, who string) func(*Daemon) {
	return func(d *Daemon) {
		d.opts.Socket = path
		d.Handle("who", func(context.Context, *Request) (any, error) {
			return map[string]any{"who": who}, nil
		})
	}
}

// The unix socket serves the same routes as the port, with the token
// required, and its file is the owner's alone.
func TestUnixSocketNeedsToken(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "discovery.sock")
	startDaemon(t, dir, withSocket(sock, "first"))
	st, err := os.Stat(sock)
	if err != nil {
		t.Fatalf("no socket at %s: %v", sock, err)
	}
	if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want a socket with 0600", sock, st.Mode())
	}
	if code, _ := callUnix(t, sock, "", "who"); code != http.StatusUnauthorized {
		t.Errorf("call without the token: HTTP %d, want 401", code)
	}
	if code, _ := callUnix(t, sock, "wrong", "who"); code != http.StatusUnauthorized {
		t.Errorf("call with a wrong token: HTTP %d, want 401", code)
	}
	if code, who := callUnix(t, sock, "secret", "who"); code != http.StatusOK || who != "first" {
		t.Errorf("call with the token: HTTP %d %q, want 200 \"first\"", code, who)
	}
}

// A second instance takes the socket's name over; the first one, stopping,
// leaves it to the second, which removes it when it stops in turn.
func TestUnixSocketHandover(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "discovery.sock")
	first := startDaemon(t, dir, withSocket(sock, "first"))
	second := startDaemon(t, dir, withSocket(sock, "second"))
	if _, who := callUnix(t, sock, "secret", "who"); who != "second" {
		t.Fatalf("after the second instance started, the socket reached %q", who)
	}
	first.Shutdown()
	<-first.Done()
	if _, who := callUnix(t, sock, "secret", "who"); who != "second" {
		t.Fatalf("after the first instance stopped, the socket reached %q", who)
	}
	second.Shutdown()
	<-second.Done()
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("%s after the last instance stopped: %v, want it gone", sock, err)
	}
	left, _ := filepath.Glob(sock + ".*")
	if len(left) > 0 {
		t.Errorf("temporary socket files left: %v", left)
	}
}
