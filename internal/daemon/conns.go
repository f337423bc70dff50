package daemon

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// connTracker is the daemon's listener. It knows every connection it
// accepted that is not closed yet, and which of them have not had a
// request reach a handler ("fresh" ones), so that a stop loses no call:
//
//   - http.Server drops, without a reply, a request it reads after Shutdown
//     began (net/http's conn.serve checks shuttingDown right after
//     readRequest). A connection accepted just before Shutdown whose request
//     was not read yet got EOF: seen in rolling restarts under load, about
//     1 build in 30 failed so. drain therefore stops accepting, waits until
//     no connection is fresh, and only then calls Shutdown.
//   - Shutdown can return while a connection Accept has just handed over is
//     not tracked by the server yet; waiting for the open count to reach
//     zero afterwards covers that.
type connTracker struct {
	net.Listener

	closeOnce sync.Once
	closeErr  error

	mu    sync.Mutex // guards open and fresh
	open  int
	fresh map[*trackedConn]struct{}
}

func newConnTracker(ln net.Listener) *connTracker {
	return &connTracker{Listener: ln, fresh: map[*trackedConn]struct{}{}}
}

func (l *connTracker) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, l: l}
	l.mu.Lock()
	l.open++
	l.fresh[tc] = struct{}{}
	l.mu.Unlock()
	return tc, nil
}

// Close stops accepting. drain closes the listener before Shutdown does;
// the second close is a no-op, so Shutdown reports no error for it.
func (l *connTracker) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.Listener.Close() })
	return l.closeErr
}

type connKey struct{}

// connContext is the server's ConnContext: it lets a handler find its
// connection.
func (l *connTracker) connContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*trackedConn); ok {
		return context.WithValue(ctx, connKey{}, tc)
	}
	return ctx
}

// trackRequests marks a connection no longer fresh once a request of it
// reached a handler: from then on Shutdown waits for it. Only a
// connection's first request takes the lock (of the tracker that accepted
// it).
func trackRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tc, ok := r.Context().Value(connKey{}).(*trackedConn); ok && tc.settled.CompareAndSwap(false, true) {
			tc.l.mu.Lock()
			delete(tc.l.fresh, tc)
			tc.l.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

// connGroup is every listener a daemon serves (its TCP port and its unix
// socket), drained together.
type connGroup []*connTracker

// Close stops accepting on every listener.
func (g connGroup) Close() {
	for _, l := range g {
		l.Close()
	}
}

// waitFresh is connTracker.waitFresh over all listeners.
func (g connGroup) waitFresh(deadline time.Time) bool {
	return g.every(func(l *connTracker) bool { return l.waitFresh(deadline) })
}

// closeFresh is connTracker.closeFresh over all listeners.
func (g connGroup) closeFresh() {
	for _, l := range g {
		l.closeFresh()
	}
}

// waitOpen is connTracker.waitOpen over all listeners.
func (g connGroup) waitOpen(deadline time.Time) bool {
	return g.every(func(l *connTracker) bool { return l.waitOpen(deadline) })
}

// every runs wait on each listener in turn (they share one deadline) and
// reports whether all of them returned true.
func (g connGroup) every(wait func(*connTracker) bool) bool {
	ok := true
	for _, l := range g {
		ok = wait(l) && ok
	}
	return ok
}

// waitOpen polls until every accepted connection is closed or the
// deadline passes; it reports whether they all were.
func (l *connTracker) waitOpen(deadline time.Time) bool {
	return l.waitUntil(deadline, func() bool { return l.open == 0 })
}

// waitFresh polls until no accepted connection is waiting for its first
// request to be read, or the deadline passes.
func (l *connTracker) waitFresh(deadline time.Time) bool {
	return l.waitUntil(deadline, func() bool { return len(l.fresh) == 0 })
}

// closeFresh closes the connections still waiting for their first
// request: clients that connected and sent nothing within the grace.
// Shutdown would otherwise wait five seconds for each.
func (l *connTracker) closeFresh() {
	l.mu.Lock()
	fresh := make([]*trackedConn, 0, len(l.fresh))
	for c := range l.fresh {
		fresh = append(fresh, c)
	}
	l.mu.Unlock()
	for _, c := range fresh {
		c.Close()
	}
}

func (l *connTracker) waitUntil(deadline time.Time, done func() bool) bool {
	for {
		l.mu.Lock()
		ok := done()
		l.mu.Unlock()
		if ok {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		// Loopback requests arrive and are served within microseconds to
		// milliseconds; polling every millisecond keeps a stop near its
		// own length.
		time.Sleep(time.Millisecond)
	}
}

type trackedConn struct {
	// prefix is what the fast lane read of the request and did not
	// answer: Read returns it first.
	prefix []byte
	net.Conn
	l       *connTracker
	once    sync.Once
	settled atomic.Bool // a request reached a handler
}

func (c *trackedConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		delete(c.l.fresh, c)
		c.l.mu.Unlock()
	})
	return err
}

// CloseWrite half-closes the connection as http.Server does before closing
// a connection it may still receive on (so the peer reads the reply rather
// than a reset); the wrapper must not hide it.
func (c *trackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
