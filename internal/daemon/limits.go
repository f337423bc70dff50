package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"time"
)

// limits bound what a client may send and how slowly; New sets the
// defaults below and tests shorten them. The write side is never bounded: a
// build streams progress for as long as it runs.
type limits struct {
	// header bounds the request line and headers. A local client sends
	// them in one write; ten seconds is slack for a loaded machine.
	header time.Duration
	// bodyStall is how long a request body may stop arriving before the
	// request fails with 408: each read that brings bytes restarts it, so a
	// slow client that keeps sending is not cut off. The daemons' clients
	// write a body of a few kilobytes in one go.
	bodyStall time.Duration
	// bodyTotal bounds a whole request body however it trickles in: the
	// largest allowed (max_body, 4 MiB by default) takes milliseconds on
	// loopback, so a minute is only reached by a client that stalls on
	// purpose.
	bodyTotal time.Duration
	// idle closes a kept-alive connection with no request in flight. It is
	// above the clients' own idle timeout (90 s in internal/client), so a
	// client closes an idle connection before the daemon does and never
	// sends a call on a connection that is being closed under it.
	idle time.Duration
}

func defaultLimits() limits {
	return limits{header: 10 * time.Second, bodyStall: 10 * time.Second, bodyTotal: time.Minute, idle: 5 * time.Minute}
}

// freeAfter: a rejected body buffer at least this large is handed back to
// the OS at once, so one huge request does not leave the daemon holding its
// memory until later GC cycles return it.
const freeAfter = 1 << 20

// apply sets the connection-level limits on srv. ReadTimeout stays
// unset on purpose: net/http keeps that deadline on the connection while the
// handler runs, and its background read would then cancel a build that
// streams progress for longer. Bodies get their own deadline in readLimited.
func (l limits) apply(srv *http.Server) {
	srv.ReadHeaderTimeout = l.header
	srv.IdleTimeout = l.idle
}

// refuse answers a request that failed authentication or whose body cannot
// be taken, without reading what is left of its body, and closes the
// connection after the reply. net/http would otherwise read the unread body
// (before the reply, and again when the handler returns), with no deadline:
// "Connection: close" skips the first read, a read deadline already passed
// ends the second at once.
func refuse(w http.ResponseWriter, status int, msg string) int {
	w.Header().Set("Connection", "close")
	http.NewResponseController(w).SetReadDeadline(time.Now())
	return writeError(w, status, msg)
}

// errBodyTimeout is a request body that stopped arriving.
var errBodyTimeout = errors.New("request body stopped arriving")

// readLimited reads r's body, at most limit bytes, with a read deadline that
// moves on with every read that brings bytes (bodyStall) and never passes
// bodyTotal. The deadline is cleared afterwards, so a long call that follows
// is not cut off.
func (l limits) readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	rc := http.NewResponseController(w)
	start := time.Now()
	setDeadline := func() {
		dl := time.Now().Add(l.bodyStall)
		if end := start.Add(l.bodyTotal); end.Before(dl) {
			dl = end
		}
		rc.SetReadDeadline(dl)
	}
	setDeadline()
	defer rc.SetReadDeadline(time.Time{})
	var buf bytes.Buffer
	if r.ContentLength > 0 && r.ContentLength <= limit {
		buf.Grow(int(r.ContentLength))
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	chunk := make([]byte, 32<<10)
	for {
		n, err := body.Read(chunk)
		buf.Write(chunk[:n])
		if n > 0 {
			setDeadline()
		}
		if err == io.EOF {
			return buf.Bytes(), nil
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				err = errBodyTimeout
			}
			if buf.Cap() >= freeAfter {
				buf = bytes.Buffer{}
				debug.FreeOSMemory()
			}
			return nil, err
		}
	}
}

// bodyError turns a failed body read into its reply: 413 over the limit,
// 408 for a body that stopped arriving, 400 otherwise. The connection is
// closed after it, its unread body left unread.
func (d *Daemon) bodyError(w http.ResponseWriter, function string, err error) int {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return refuse(w, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("%s: %s: request body over the limit of %d bytes (max_body in $JMAKE_HOME/config.toml)", d.opts.Name, function, mbe.Limit))
	case errors.Is(err, errBodyTimeout):
		return refuse(w, http.StatusRequestTimeout,
			fmt.Sprintf("%s: %s: request body did not arrive in time (a body may stall %s at most, and take %s in all)", d.opts.Name, function, d.lim.bodyStall, d.lim.bodyTotal))
	}
	return refuse(w, http.StatusBadRequest, fmt.Sprintf("%s: %s: read body: %v", d.opts.Name, function, err))
}
