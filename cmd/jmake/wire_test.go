package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// serve runs h with net/http's server on a unix socket and returns the
// client's connection to it.
func serve(t *testing.T, h http.HandlerFunc) *unixConn {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	conn, err := dialUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// The hand-written request reaches net/http as a POST with the token, the
// body and the stream's Accept; the reply's body, chunked or not, comes back
// whole.
func TestPost(t *testing.T) {
	long := strings.Repeat("x", 200000) + "\n"
	for _, chunked := range []bool{false, true} {
		conn := serve(t, func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			if r.Method != "POST" || r.URL.Path != "/v1/call/build_project" || r.Header.Get("Authorization") != "Bearer tok" ||
				r.Header.Get("Accept") != "application/x-ndjson" || string(b) != `{"path":"/p"}` {
				t.Errorf("request: %s %s %v %q", r.Method, r.URL.Path, r.Header, b)
			}
			if !chunked {
				w.Header().Set("Content-Length", strconv.Itoa(4+len(long)+6))
			}
			w.WriteHeader(201)
			io.WriteString(w, "one\n")
			// A flush before the end makes net/http chunk an unsized body.
			w.(http.Flusher).Flush()
			io.WriteString(w, long+"three\n")
		})
		c, err := post(conn, request("tok", "build_project", []byte(`{"path":"/p"}`), true))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(c.body)
		if err != nil || c.status != 201 || string(b) != "one\n"+long+"three\n" {
			t.Errorf("chunked %v: status %d, %d bytes, %v", chunked, c.status, len(b), err)
		}
	}
}

// A chunked body cut short is an error, not a short body.
func TestChunkReaderTruncated(t *testing.T) {
	r := &chunkReader{r: bufio.NewReader(strings.NewReader("5\r\nhel"))}
	if _, err := io.ReadAll(r); err != io.ErrUnexpectedEOF {
		t.Errorf("truncated chunk: %v, want io.ErrUnexpectedEOF", err)
	}
	r = &chunkReader{r: bufio.NewReader(strings.NewReader("3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"))}
	if b, err := io.ReadAll(r); err != nil || string(b) != "abcde" {
		t.Errorf("chunks with an extension: %q, %v", b, err)
	}
}
