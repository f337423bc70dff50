package daemon

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// The fast lane: calls answered on the unix socket's accept loop.
//
// net/http gives every connection a goroutine, a context, two buffers and
// a deadline before it reads a byte, then parses the request into maps and
// hands it through the routes. For a call that the daemon answers from
// memory in a few microseconds (a no-op build: the watch proves nothing
// changed), that setup is most of the daemon's work: on a 2-core VM,
// after the idle spell a developer leaves between builds, it took about
// 0.4 ms of the 0.6 ms between accepting the connection and replying.
//
// So the socket's listener (fastLane) looks at each connection it
// accepts before net/http does: if the request is already there whole,
// is a call of a function with a FastAnswer, carries the token, and the
// daemon is not stopping, the FastAnswer may answer it then and there.
// Anything else (a request still on its way, another route, a declined
// answer) goes to net/http with the bytes already read, as if nothing
// had looked.

// FastAnswer may answer a call of its function from memory: it calls
// reply with the reply (as a Handler would return it) and returns true, or
// returns false without calling reply, and the call goes to the
// function's Handler. It runs on the accept loop of the unix socket, so
// it must never wait for long: while it runs, no other connection of the
// socket is accepted. Work after reply (bookkeeping) is done before the
// next connection is accepted, but the caller has its reply.
type FastAnswer func(args []byte, reply func(any)) bool

// HandleFast adds a fast answer to the function name, which must also
// have a Handler (Handle): the fast answer only ever saves the Handler a
// call.
func (d *Daemon) HandleFast(name string, fn FastAnswer) error {
	d.mu.Lock()
	first := d.fast == nil
	if first {
		d.fast = make(map[string]FastAnswer)
	}
	d.fast[name] = fn
	d.mu.Unlock()
	if !first {
		return nil
	}
	return d.AddCounter("jmake_fast_answers_total",
		"Calls answered from memory on the unix socket, before net/http saw them.",
		func() float64 { return float64(d.fastAnswers.Load()) })
}

func (d *Daemon) fastAnswer(name []byte) FastAnswer {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fast[string(name)]
}

// fastLane is the unix socket's listener as http.Server sees it: Accept
// returns only the connections the fast lane did not answer.
type fastLane struct {
	*connTracker
	d *Daemon
}

func (l fastLane) Accept() (net.Conn, error) {
	for {
		c, err := l.connTracker.Accept()
		if err != nil {
			return nil, err
		}
		if tc, ok := c.(*trackedConn); !ok || !l.d.hasFast() || !l.d.answerFast(tc) {
			return c, nil
		}
	}
}

// hasFast reports whether any function has a fast answer: a daemon
// without one leaves its connections to net/http untouched.
func (d *Daemon) hasFast() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.fast) > 0
}

// peekSize bounds the request the fast lane reads: a build call of the
// thin client is about 500 bytes, its environment included.
const peekSize = 8 << 10

// fastWait bounds the wait for a request that is not there yet when its
// connection is accepted; the accept loop waits with it.
const fastWait = time.Millisecond

var peekBufs = sync.Pool{New: func() any { return new([peekSize]byte) }}

// answerFast answers tc's call if it can (see fastLane) and closes tc;
// otherwise it leaves what it read for net/http to read first.
func (d *Daemon) answerFast(tc *trackedConn) bool {
	buf := peekBufs.Get().(*[peekSize]byte)
	defer peekBufs.Put(buf)
	n := peek(tc.Conn, buf[:])
	if n == 0 {
		// Connected, not written yet: the caller was preempted between
		// the two, or this daemon woke at the connect before the
		// request came. A caller that writes at all does so at once.
		tc.Conn.SetReadDeadline(time.Now().Add(fastWait))
		n, _ = tc.Conn.Read(buf[:])
		tc.Conn.SetReadDeadline(time.Time{})
	}
	if n == 0 {
		return false
	}
	call, ok := parseFastCall(buf[:n])
	var fn FastAnswer
	if ok {
		fn = d.fastAnswer(call.function)
	}
	answered := fn != nil && d.authorized(call.auth) && !d.isStopping() && d.runFast(tc, call, fn)
	if !answered {
		tc.prefix = bytes.Clone(buf[:n])
	}
	return answered
}

// peek reads what c already received, without waiting; 0 when nothing
// has arrived yet (or c is no socket).
func peek(c net.Conn, p []byte) int {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	rc.Read(func(fd uintptr) bool {
		for {
			n, err = syscall.Read(int(fd), p)
			if err != syscall.EINTR {
				break
			}
		}
		return true // done, whether or not there was anything
	})
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// fastCall is a request the fast lane may answer.
type fastCall struct {
	function, auth, body []byte
	stream               bool // the caller reads a stream of JSON lines
}

// parseFastCall reads raw as a whole HTTP/1.1 call of a function: POST
// /v1/call/<function> with a Content-Length body, all of it in raw. Any
// doubt (a body still to come or too long, chunked, Expect, a header
// given twice, a malformed line) is false: net/http then reads the
// request as usual.
func parseFastCall(raw []byte) (fastCall, bool) {
	var c fastCall
	head, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		return c, false
	}
	line, headers, _ := bytes.Cut(head, []byte("\r\n"))
	rest, ok := bytes.CutPrefix(line, []byte("POST /v1/call/"))
	if !ok {
		return c, false
	}
	fn, proto, _ := bytes.Cut(rest, []byte(" "))
	if string(proto) != "HTTP/1.1" || len(fn) == 0 || bytes.ContainsAny(fn, "/?%") {
		return c, false
	}
	length := -1
	var haveLength, haveAuth, haveAccept bool
	once := func(have *bool) bool { // a header given twice is doubt
		ok := !*have
		*have = true
		return ok
	}
	for len(headers) > 0 {
		var h []byte
		h, headers, _ = bytes.Cut(headers, []byte("\r\n"))
		k, v, ok := bytes.Cut(h, []byte(":"))
		if !ok || len(k) == 0 || bytes.ContainsAny(k, " \t") {
			return c, false
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			n, err := strconv.Atoi(string(v))
			if !once(&haveLength) || err != nil || n < 0 {
				return c, false
			}
			length = n
		case bytes.EqualFold(k, []byte("Authorization")):
			if !once(&haveAuth) {
				return c, false
			}
			c.auth = v
		case bytes.EqualFold(k, []byte("Accept")):
			if !once(&haveAccept) {
				return c, false
			}
			c.stream = bytes.Contains(v, []byte("application/x-ndjson"))
		case bytes.EqualFold(k, []byte("Transfer-Encoding")), bytes.EqualFold(k, []byte("Expect")),
			bytes.EqualFold(k, []byte("Upgrade")):
			return c, false
		}
	}
	if length != len(body) {
		return c, false
	}
	c.function, c.body = fn, body
	return c, true
}

// authorized checks a call's Authorization header against "Bearer
// <token>", in constant time: for the routes (auth) and the fast lane.
func (d *Daemon) authorized(got []byte) bool {
	return subtle.ConstantTimeCompare(got, []byte("Bearer "+d.opts.Token)) == 1
}

// isStopping reports whether the daemon has begun to stop.
func (d *Daemon) isStopping() bool {
	select {
	case <-d.stopping:
		return true
	default:
		return false
	}
}

// runFast offers call to fn and, if fn answers, writes the reply as
// serveCall would (a body-less call's arguments are "{}" there too) and
// closes tc.
func (d *Daemon) runFast(tc *trackedConn, call fastCall, fn FastAnswer) (replied bool) {
	args := call.body
	if len(bytes.TrimSpace(args)) == 0 {
		args = []byte("{}")
	}
	start := time.Now()
	// A FastAnswer that panics must not take the daemon down with it, as
	// a handler's panic does not (net/http recovers those): the call then
	// goes to the handler, unless a reply was sent.
	defer func() {
		if p := recover(); p != nil {
			d.log.Error("fast answer panicked; the call goes to its handler", "function", string(call.function),
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	answered := fn(args, func(reply any) {
		replied = true
		var w replyBuffer
		status := writeReply(&w, call.stream, http.StatusOK, reply, true, "")
		ctype := "application/json"
		if call.stream {
			ctype = "application/x-ndjson"
		}
		out := make([]byte, 0, 128+w.body.Len())
		out = append(out, "HTTP/1.1 "...)
		out = strconv.AppendInt(out, int64(status), 10)
		out = append(out, ' ')
		out = append(out, http.StatusText(status)...)
		out = append(out, "\r\nContent-Type: "...)
		out = append(out, ctype...)
		out = append(out, "\r\nContent-Length: "...)
		out = strconv.AppendInt(out, int64(w.body.Len()), 10)
		out = append(out, "\r\nConnection: close\r\n\r\n"...)
		out = append(out, w.body.Bytes()...)
		tc.SetWriteDeadline(time.Now().Add(time.Second))
		tc.Write(out)
		tc.Close()
		d.requests.Add(1)
		d.fastAnswers.Add(1)
		d.metrics.observe(string(call.function), status, time.Since(start))
	})
	if answered != replied {
		// A FastAnswer that replied and declined, or declined after
		// replying: a bug in it, which must not cost the caller its call.
		d.log.Error("fast answer broke its contract", "function", string(call.function), "answered", answered, "replied", replied)
	}
	return replied
}

// replyBuffer is the http.ResponseWriter writeReply writes a fast answer
// into; the status line and headers are the fast lane's own.
type replyBuffer struct {
	header http.Header
	body   bytes.Buffer
}

func (w *replyBuffer) Header() http.Header {
	if w.header == nil {
		w.header = http.Header{}
	}
	return w.header
}

func (w *replyBuffer) Write(p []byte) (int, error) { return w.body.Write(p) }
func (w *replyBuffer) WriteHeader(int)             {}
