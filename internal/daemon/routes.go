package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jmake/jmake/internal/wire"
)

// Handler is a daemon function. It returns a JSON-marshalable reply (an
// object; "success": true is added) or an error. Errors made with Errorf
// carry their HTTP status; others are 500s.
type Handler func(ctx context.Context, req *Request) (any, error)

// Request is one call of a daemon function.
type Request struct {
	Function string
	Args     json.RawMessage // a JSON object; "{}" when the body was empty

	mu     sync.Mutex // guards w and the fields below during streaming
	w      http.ResponseWriter
	stream bool

	// Progress lines are flushed to the caller at most every
	// progressEvery: a lone event goes out at once, a burst (a cold build
	// finishes a unit every few ms) in batches. Each flush wakes the
	// caller, and the orchestrator relays each batch to the CLI, so per
	// event flushes cost all three processes a wakeup per unit.
	lastFlush time.Time
	flushing  *time.Timer // armed while written lines wait for a flush
	ended     bool        // the reply is written: no more writes
}

// progressEvery is the shortest time between two flushes of progress
// lines: 10 a second is still a live status line.
const progressEvery = 100 * time.Millisecond

// Decode unmarshals the arguments into v; a mismatch is a 400 naming the
// function.
func (r *Request) Decode(v any) error {
	dec := json.NewDecoder(bytes.NewReader(r.Args))
	if err := dec.Decode(v); err != nil {
		return Errorf(http.StatusBadRequest, "%s: bad arguments: %v", r.Function, err)
	}
	return nil
}

// Streaming reports whether the caller asked for progress events
// (Accept: application/x-ndjson).
func (r *Request) Streaming() bool { return r.stream }

// Progress sends one event line to a streaming caller; without streaming it
// does nothing. Events are objects; "event" names their kind.
func (r *Request) Progress(event any) {
	if !r.stream {
		return
	}
	b, err := json.Marshal(event)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return
	}
	r.w.Write(append(b, '\n'))
	if r.flushing != nil {
		return // the armed flush takes this line too
	}
	if wait := progressEvery - time.Since(r.lastFlush); wait > 0 {
		r.flushing = time.AfterFunc(wait, r.flushLater)
		return
	}
	r.flushLocked()
}

// flushLater is the armed flush of buffered progress lines.
func (r *Request) flushLater() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.ended {
		r.flushLocked()
	}
}

func (r *Request) flushLocked() {
	r.flushing = nil
	r.lastFlush = time.Now()
	if f, ok := r.w.(http.Flusher); ok {
		f.Flush()
	}
}

// end stops progress: the reply follows the lines already written, in the
// same response, and nothing may touch w after the handler returns.
func (r *Request) end() {
	r.ended = true
	if r.flushing != nil {
		r.flushing.Stop()
		r.flushing = nil
	}
}

// Error is an error with an HTTP status, as the wire shows it:
// {"success":false,"error":"..."}.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// Errorf makes an *Error with the given HTTP status.
func Errorf(status int, format string, args ...any) error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// Failure is a reply of a call that ran and failed (a build with compiler
// errors): it goes out with status 200, "success": false and the fields of
// Reply, so a client gets both the error and the details.
type Failure struct {
	Err   error
	Reply any
}

func (f *Failure) Error() string { return f.Err.Error() }
func (f *Failure) Unwrap() error { return f.Err }

func (d *Daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", d.healthz)
	mux.Handle("GET /metrics", d.auth(d.metrics.handler()))
	mux.Handle("GET /v1/stats", d.auth(http.HandlerFunc(d.serveStats)))
	mux.Handle("POST /v1/call/{function}", d.auth(http.HandlerFunc(d.serveCall)))
	mux.Handle("POST /v1/reload", d.auth(http.HandlerFunc(d.serveReload)))
	mux.Handle("POST /v1/shutdown", d.auth(http.HandlerFunc(d.serveShutdown)))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/healthz", p == "/metrics", p == "/v1/stats", p == "/v1/reload", p == "/v1/shutdown",
			strings.HasPrefix(p, "/v1/call/"):
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s: %s does not take %s", d.opts.Name, p, r.Method))
		default:
			writeError(w, http.StatusNotFound, fmt.Sprintf("%s: no route %s %s", d.opts.Name, r.Method, p))
		}
	})
	return mux
}

// auth requires "Authorization: Bearer <token>" (authorized).
func (d *Daemon) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !d.authorized([]byte(r.Header.Get("Authorization"))) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="jmake"`)
			refuse(w, http.StatusUnauthorized, d.opts.Name+": missing or wrong token (see $JMAKE_HOME/token)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Health is the /healthz reply.
type Health = wire.Health

func (d *Daemon) healthz(w http.ResponseWriter, r *http.Request) {
	status := "ok"
	if d.isStopping() {
		status = "stopping"
	}
	wire.WriteJSON(w, http.StatusOK, Health{Status: status, Name: d.opts.Name, PID: os.Getpid(), Version: Version,
		UptimeSeconds: time.Since(d.start).Seconds(), StateDir: d.opts.StateDir, StateID: d.stateID})
}

func (d *Daemon) serveStats(w http.ResponseWriter, r *http.Request) {
	wire.WriteJSON(w, http.StatusOK, d.stats())
}

func (d *Daemon) serveReload(w http.ResponseWriter, r *http.Request) {
	if err := d.Reload(); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%s: reload rejected: %v", d.opts.Name, err))
		return
	}
	wire.WriteJSON(w, http.StatusOK, map[string]any{"success": true, "name": d.opts.Name})
}

func (d *Daemon) serveShutdown(w http.ResponseWriter, r *http.Request) {
	wire.WriteJSON(w, http.StatusOK, map[string]any{"success": true, "name": d.opts.Name, "pid": os.Getpid()})
	// Shut down after this reply is on its way; Shutdown waits for this
	// handler to return before it closes connections.
	go d.Shutdown()
}

func (d *Daemon) serveCall(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("function")
	d.mu.Lock()
	fn := d.handlers[name]
	d.mu.Unlock()
	start := time.Now()
	status := d.call(w, r, name, fn)
	d.requests.Add(1)
	if status >= 400 {
		d.errors.Add(1)
	}
	d.metrics.observe(name, status, time.Since(start))
}

// call runs one function and writes its reply; it returns the status sent.
func (d *Daemon) call(w http.ResponseWriter, r *http.Request, name string, fn Handler) int {
	if fn == nil {
		return writeError(w, http.StatusNotFound, fmt.Sprintf("%s: unknown function %q", d.opts.Name, name))
	}
	body, err := d.lim.readBody(w, r, d.Settings().MaxBody)
	if err != nil {
		return d.bodyError(w, name, err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if !json.Valid(body) || bytes.TrimSpace(body)[0] != '{' {
		return writeError(w, http.StatusBadRequest, fmt.Sprintf("%s: %s: arguments must be a JSON object", d.opts.Name, name))
	}
	req := &Request{Function: name, Args: body, w: w, stream: strings.Contains(r.Header.Get("Accept"), "application/x-ndjson")}
	if req.stream {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
	}
	reply, err := fn(r.Context(), req)
	req.mu.Lock()
	defer req.mu.Unlock()
	req.end()
	if err != nil && d.interrupted(r) {
		// The drain cancelled this call: the caller may repeat it, on the
		// successor of a rolling restart or once this daemon is back.
		msg := fmt.Sprintf("%s (pid %d): %s interrupted: the daemon is stopping; retry the call (%v)", d.opts.Name, os.Getpid(), name, err)
		d.log.Warn("call interrupted by the stop; its caller is told to retry", "function", name, "err", err)
		return writeReply(w, req.stream, http.StatusServiceUnavailable,
			map[string]any{"code": http.StatusServiceUnavailable, "retry": true}, false, msg)
	}
	if err != nil {
		status := http.StatusInternalServerError
		var e *Error
		var f *Failure
		switch {
		case errors.As(err, &f):
			if f.Reply != nil {
				return writeReply(w, req.stream, http.StatusOK, f.Reply, false, err.Error())
			}
			status = http.StatusOK
		case errors.As(err, &e):
			status = e.Status
		}
		if status >= 500 {
			d.log.Error(fmt.Sprintf("%s: %s: %v", d.opts.Name, name, err))
		}
		if req.stream {
			// The 200 header went out with the first event: the status
			// travels in the last line instead.
			writeReply(w, true, status, map[string]any{"code": status}, false, err.Error())
			return status
		}
		return writeError(w, status, err.Error())
	}
	return writeReply(w, req.stream, http.StatusOK, reply, true, "")
}

// interrupted reports whether r's call was cancelled because the daemon
// is stopping (its drain ran out), rather than by its caller or its own
// failure.
func (d *Daemon) interrupted(r *http.Request) bool {
	return d.isStopping() && r.Context().Err() != nil
}

// writeReply renders reply (an object) with "success" (and "error") put
// first. Replies of other kinds go under "result".
func writeReply(w http.ResponseWriter, streamed bool, status int, reply any, success bool, errMsg string) int {
	b, err := json.Marshal(reply)
	if err != nil {
		return writeError(w, http.StatusInternalServerError, "encode reply: "+err.Error())
	}
	if len(b) == 0 || b[0] != '{' {
		b = append(append([]byte(`{"result":`), b...), '}')
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, `{"success":%t`, success)
	if errMsg != "" {
		e, _ := json.Marshal(errMsg)
		out.WriteString(`,"error":`)
		out.Write(e)
	}
	if len(b) > 2 {
		out.WriteByte(',')
	}
	out.Write(b[1:])
	out.WriteByte('\n')
	if !streamed {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
	}
	w.Write(out.Bytes())
	return status
}

// writeError sends the one error shape of the wire.
func writeError(w http.ResponseWriter, status int, msg string) int {
	wire.WriteError(w, status, msg)
	return status
}
