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
}

// New returns a client of daemon name at addr.
func New(name, addr, token string) *Client {
	return &Client{Name: name, Addr: addr, Token: token, HTTP: defaultHTTP}
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
	resp, err := c.do(ctx, http.MethodPost, "/v1/call/"+function, args, "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s at %s: %s: %w", c.Name, c.Addr, function, err)
	}
	return b, c.checkReply(function, resp.StatusCode, b)
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
func (c *Client) CallStream(ctx context.Context, function string, args any, onEvent func(json.RawMessage), reply any) error {
	body, err := json.Marshal(args)
	if err != nil {
		return err
	}
	resp, err := c.do(ctx, http.MethodPost, "/v1/call/"+function, body, "application/x-ndjson")
	if err != nil {
		return err
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
		return fmt.Errorf("%s at %s: %s: %w", c.Name, c.Addr, function, err)
	}
	return fmt.Errorf("%s at %s: %s: the daemon closed the stream without a reply", c.Name, c.Addr, function)
}

func (c *Client) checkReply(function string, status int, b []byte) error {
	var r struct {
		Success bool   `json:"success"`
		Error   string `json:"error"`
		Code    int    `json:"code"` // the status of a streamed reply, whose header said 200
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s at %s: %s: bad reply (HTTP %d): %w", c.Name, c.Addr, function, status, err)
	}
	if r.Code != 0 {
		status = r.Code
	}
	if !r.Success || status != http.StatusOK {
		return &CallError{Name: c.Name, Function: function, Status: status, Msg: r.Error, Reply: b}
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
