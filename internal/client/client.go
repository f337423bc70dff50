// Package client is the typed client of the daemons' HTTP API, used by the
// CLI, by the orchestrator to reach the other daemons, and by tests.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/jmake/jmake/internal/wire"
)

// Client calls one daemon.
type Client struct {
	Name  string // the daemon's name, for errors
	Addr  string // host:port
	Token string
	HTTP  *http.Client

	// ResumeWithin is how long a call that its daemon's end cut short
	// (see Interrupted) keeps being sent again while the daemon is down or
	// being replaced; 0 turns resuming off. Every daemon function may be
	// repeated without harm, and a repeated build finds the units the cut
	// call finished in the object cache.
	ResumeWithin time.Duration
}

// DefaultResumeWithin is New's ResumeWithin. A supervised daemon answers
// again about 0.1 s after a crash and within StartTimeout (10 s) of a start
// that hangs; a rolling restart's successor already answers. Fifteen
// seconds covers a restart and the first backoffs of a failing one
// (0.1+0.2+0.4 s), and a caller whose daemon stays down still hears of it
// within a reasonable time.
const DefaultResumeWithin = 15 * time.Second

// maxResumes bounds how often one call is sent again: a call that kills
// its daemon every time must end, not loop until the supervisor gives up.
const maxResumes = 8

// New returns a client of daemon name at addr.
func New(name, addr, token string) *Client {
	return &Client{Name: name, Addr: addr, Token: token, HTTP: defaultHTTP, ResumeWithin: DefaultResumeWithin}
}

// InterruptedError is a call whose connection ended before its reply: the
// daemon stopped, was killed or was replaced while it ran.
type InterruptedError struct {
	Name, Addr, Function string
	Err                  error
}

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("%s at %s: %s: interrupted (the daemon stopped or was replaced during the call): %v", e.Name, e.Addr, e.Function, e.Err)
}

func (e *InterruptedError) Unwrap() error { return e.Err }

// Interrupted reports whether err says a call was cut short by its
// daemon's end, so that sending it again may succeed: the connection
// closed or was reset before the reply, or the daemon replied that it
// is stopping and the call should be retried.
func Interrupted(err error) bool {
	var ie *InterruptedError
	var ce *CallError
	var de *DownError
	switch {
	case errors.As(err, &ie):
		return true
	case errors.As(err, &ce):
		return ce.Retry
	case errors.As(err, &de):
		return errors.Is(de.Err, syscall.ECONNRESET)
	}
	return false
}

// resume runs call once and, while it is interrupted (or, after an
// interruption, finds the daemon down), again after a short wait, until
// it succeeds, fails otherwise, ctx ends, ResumeWithin passes since the
// last interruption or maxResumes is reached.
func (c *Client) resume(ctx context.Context, call func() error) error {
	err := call()
	if c.ResumeWithin <= 0 || !Interrupted(err) {
		return err
	}
	var de *DownError
	deadline := time.Now().Add(c.ResumeWithin)
	// Start at 20 ms (a successor or restarted daemon usually answers
	// within tens of milliseconds), doubling to 500 ms so that a longer
	// wait costs few attempts.
	wait := 20 * time.Millisecond
	for resumes := 1; resumes <= maxResumes; {
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		next := call()
		switch {
		case Interrupted(next):
			resumes++
			deadline = time.Now().Add(c.ResumeWithin)
			wait = 20 * time.Millisecond
		case errors.As(next, &de) && time.Now().Before(deadline):
			wait = min(2*wait, 500*time.Millisecond)
		default:
			return next
		}
		err = next
	}
	return err
}

// defaultHTTP keeps connections to the daemons alive between calls: a no-op
// build is a handful of round trips, and a new TCP connection per call would
// be a good part of its time.
var defaultHTTP = &http.Client{Transport: &http.Transport{
	Proxy:               nil,
	MaxIdleConnsPerHost: 16,
	IdleConnTimeout:     90 * time.Second,
	DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
}}

// DownError says a daemon is not answering, and how to fix that.
type DownError struct {
	Name, Addr string
	Err        error
}

func (e *DownError) Error() string {
	return fmt.Sprintf("%s daemon at %s is not running (%v); start it with `jmake start %s`", e.Name, e.Addr, e.Err, e.Name)
}

func (e *DownError) Unwrap() error { return e.Err }

// CallError is a reply with "success": false.
type CallError struct {
	Name, Function string
	Status         int
	Msg            string
	Reply          json.RawMessage // the whole reply, for callers that want its fields
	Retry          bool            // the daemon stopped during the call: it may be sent again
}

func (e *CallError) Error() string { return e.Msg }

func (c *Client) url(path string) string { return "http://" + c.Addr + path }

func (c *Client) do(ctx context.Context, method, path string, body []byte, accept string) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path), rd)
	if err != nil {
		return nil, err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		// Every daemon function may be repeated without harm (a build is
		// serialized and converges), so net/http may retry a call whose
		// kept-alive connection the daemon closed as it was sent, as
		// happens when an old instance drains during a rolling restart.
		req.Header["Idempotency-Key"] = nil
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
			return nil, &DownError{c.Name, c.Addr, errors.Unwrap(errors.Unwrap(err))}
		}
		return nil, fmt.Errorf("%s at %s: %w", c.Name, c.Addr, err)
	}
	return resp, nil
}

// Health is the /healthz reply.
type Health = wire.Health

// Health asks /healthz.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	err := c.getJSON(ctx, "/healthz", &h)
	return h, err
}

// Stats is the /v1/stats reply.
type Stats = wire.Stats

// CacheStat is one cache's line in Stats.
type CacheStat = wire.CacheStats

// Stats asks /v1/stats.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := c.getJSON(ctx, "/v1/stats", &s)
	return s, err
}

// Metrics returns the Prometheus text of /metrics.
func (c *Client) Metrics(ctx context.Context) (string, error) {
	resp, err := c.do(ctx, http.MethodGet, "/metrics", nil, "")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", c.replyError("metrics", resp.StatusCode, b)
	}
	return string(b), err
}

func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	resp, err := c.do(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s at %s: %w", c.Name, c.Addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		return c.replyError(path, resp.StatusCode, b)
	}
	return json.Unmarshal(b, v)
}

// Reload asks the daemon to re-read its settings.
func (c *Client) Reload(ctx context.Context) error {
	_, err := c.post(ctx, "/v1/reload", []byte("{}"))
	return err
}

// Shutdown asks the daemon to stop gracefully; it returns once the daemon
// has accepted, not once it has exited.
func (c *Client) Shutdown(ctx context.Context) error {
	_, err := c.post(ctx, "/v1/shutdown", []byte("{}"))
	return err
}

func (c *Client) post(ctx context.Context, path string, body []byte) (json.RawMessage, error) {
	resp, err := c.do(ctx, http.MethodPost, path, body, "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s at %s: %w", c.Name, c.Addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, c.replyError(path, resp.StatusCode, b)
	}
	return b, nil
}

// CallRaw calls a function with raw JSON arguments and returns the raw
// reply. A reply with "success": false is a *CallError carrying it.
func (c *Client) CallRaw(ctx context.Context, function string, args []byte) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.resume(ctx, func() error {
		var err error
		out, err = c.callRaw(ctx, function, args)
		return err
	})
	return out, err
}

func (c *Client) callRaw(ctx context.Context, function string, args []byte) (json.RawMessage, error) {
	resp, err := c.do(ctx, http.MethodPost, "/v1/call/"+function, args, "")
	if err != nil {
		return nil, c.cut(ctx, function, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, c.readError(ctx, function, err)
	}
	return b, c.checkReply(function, resp.StatusCode, b)
}

// readError is an error reading a reply: an *InterruptedError when the
// connection ended under it, else err with the daemon and function named.
func (c *Client) readError(ctx context.Context, function string, err error) error {
	if connectionEnded(ctx, err) {
		return &InterruptedError{c.Name, c.Addr, function, err}
	}
	return fmt.Errorf("%s at %s: %s: %w", c.Name, c.Addr, function, err)
}

// cut classifies an error of sending a call: an *InterruptedError when
// the connection ended under it, else err as it is.
func (c *Client) cut(ctx context.Context, function string, err error) error {
	if connectionEnded(ctx, err) {
		return &InterruptedError{c.Name, c.Addr, function, err}
	}
	return err
}

// connectionEnded reports whether err is a connection that ended under a
// call (EOF, reset) while ctx is live. A refused or reset connect is a
// *DownError, which the caller sees as it is.
func connectionEnded(ctx context.Context, err error) bool {
	var de *DownError
	if ctx.Err() != nil || errors.As(err, &de) {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

// Call marshals args, calls function and unmarshals the reply into reply
// (which may be nil).
func (c *Client) Call(ctx context.Context, function string, args, reply any) error {
	body, err := json.Marshal(args)
	if err != nil {
		return err
	}
	raw, err := c.CallRaw(ctx, function, body)
	if reply != nil && raw != nil && json.Valid(raw) {
		if uerr := json.Unmarshal(raw, reply); uerr != nil && err == nil {
			err = fmt.Errorf("%s: %s: decode reply: %w", c.Name, function, uerr)
		}
	}
	return err
}

// CallStream calls function asking for progress events; each event line is
// passed to onEvent, and the final reply line is unmarshalled into reply.
//
// A call cut short by its daemon's end is sent again (see ResumeWithin);
// the events of the cut call have been passed on already, and the new call
// sends its own.
func (c *Client) CallStream(ctx context.Context, function string, args any, onEvent func(json.RawMessage), reply any) error {
	body, err := json.Marshal(args)
	if err != nil {
		return err
	}
	return c.resume(ctx, func() error { return c.callStream(ctx, function, body, onEvent, reply) })
}

func (c *Client) callStream(ctx context.Context, function string, body []byte, onEvent func(json.RawMessage), reply any) error {
	resp, err := c.do(ctx, http.MethodPost, "/v1/call/"+function, body, "application/x-ndjson")
	if err != nil {
		return c.cut(ctx, function, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return c.replyError(function, resp.StatusCode, b)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var probe struct {
			Success *bool `json:"success"`
		}
		if json.Unmarshal(line, &probe) == nil && probe.Success != nil {
			raw := append(json.RawMessage(nil), line...)
			if reply != nil {
				json.Unmarshal(raw, reply)
			}
			return c.checkReply(function, http.StatusOK, raw)
		}
		if onEvent != nil {
			onEvent(append(json.RawMessage(nil), line...))
		}
	}
	if err := sc.Err(); err != nil {
		return c.readError(ctx, function, err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s at %s: %s: %w", c.Name, c.Addr, function, ctx.Err())
	}
	return &InterruptedError{c.Name, c.Addr, function, errors.New("the daemon closed the stream without a reply")}
}

func (c *Client) checkReply(function string, status int, b []byte) error {
	var r struct {
		Success bool   `json:"success"`
		Error   string `json:"error"`
		Code    int    `json:"code"` // the status of a streamed reply, whose header said 200
		Retry   bool   `json:"retry"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s at %s: %s: bad reply (HTTP %d): %w", c.Name, c.Addr, function, status, err)
	}
	if r.Code != 0 {
		status = r.Code
	}
	if !r.Success || status != http.StatusOK {
		return &CallError{Name: c.Name, Function: function, Status: status, Msg: r.Error, Reply: b, Retry: r.Retry}
	}
	return nil
}

func (c *Client) replyError(what string, status int, b []byte) error {
	var r struct {
		Error string `json:"error"`
	}
	msg := ""
	if json.Unmarshal(b, &r) == nil && r.Error != "" {
		msg = r.Error
	} else {
		msg = fmt.Sprintf("%s at %s: %s: HTTP %s", c.Name, c.Addr, what, strconv.Itoa(status))
	}
	return &CallError{Name: c.Name, Function: what, Status: status, Msg: msg, Reply: b}
}
