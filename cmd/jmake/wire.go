package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// call is one HTTP/1.1 request to a daemon over its unix socket, written
// by hand: the request is fixed (a POST with a JSON body) and the reply is
// a status line, a few headers and a body, chunked or not, which is all
// net/http would do here at the price of linking it.
type call struct {
	status int
	body   *bufio.Reader // the reply's body, de-chunked
}

// request words a call of function with body as an HTTP/1.1 request, in
// one piece, so that it goes out in one write: a daemon woken by the head
// alone would read it, then sleep again until the body came. A request
// that is whole when the daemon accepts the connection may also be
// answered on its accept loop (internal/daemon's fast lane), which is why
// the client words it before it connects.
func request(token, function string, body []byte, stream bool) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "POST /v1/call/%s HTTP/1.1\r\nHost: jmake\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", function, len(body))
	if token != "" {
		b.WriteString("Authorization: Bearer " + token + "\r\n")
	}
	if stream {
		b.WriteString("Accept: application/x-ndjson\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	b.Write(body)
	return []byte(b.String())
}

// post sends a request worded by request and reads the reply's head.
func post(conn io.ReadWriter, req []byte) (*call, error) {
	if _, err := conn.Write(req); err != nil {
		return nil, err
	}
	r := bufio.NewReaderSize(conn, 64<<10)
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	proto, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	code, _, _ := strings.Cut(rest, " ")
	c := &call{}
	if c.status, err = strconv.Atoi(code); err != nil || !strings.HasPrefix(proto, "HTTP/1.") {
		return nil, fmt.Errorf("not an HTTP reply: %q", line)
	}
	chunked, length := false, int64(-1)
	for {
		h, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		h = strings.TrimSpace(h)
		if h == "" {
			break
		}
		k, v, _ := strings.Cut(h, ":")
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "transfer-encoding":
			chunked = strings.EqualFold(v, "chunked")
		case "content-length":
			if length, err = strconv.ParseInt(v, 10, 64); err != nil {
				return nil, fmt.Errorf("bad Content-Length %q", v)
			}
		}
	}
	var rd io.Reader = r
	switch {
	case chunked:
		rd = &chunkReader{r: r}
	case length >= 0:
		rd = io.LimitReader(r, length)
	}
	c.body = bufio.NewReaderSize(rd, 64<<10)
	return c, nil
}

// chunkReader decodes a chunked body (RFC 9112 §7.1), ignoring extensions
// and trailers.
type chunkReader struct {
	r    *bufio.Reader
	left int64 // bytes left in the current chunk
	done bool
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	if c.left == 0 {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return 0, unexpected(err)
		}
		size, _, _ := strings.Cut(strings.TrimSpace(line), ";")
		n, err := strconv.ParseInt(size, 16, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad chunk size %q", line)
		}
		if n == 0 {
			c.done = true
			return 0, io.EOF
		}
		c.left = n
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left == 0 && err == nil {
		// The CRLF that ends the chunk.
		if _, err = c.r.Discard(2); err != nil {
			return n, unexpected(err)
		}
	}
	return n, unexpected(err)
}

// unexpected is err, with a clean EOF in the middle of a body made an
// io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
