package daemon

import (
	"net"
	"sync"
	"time"
)

// connCounter is a listener that counts the connections it accepted and
// that are not closed yet. http.Server.Shutdown can return while a
// connection that Accept has just handed over is not tracked by the server
// yet (it is added when its goroutine starts); the process would then exit
// under it and the client see EOF instead of a reply. Seen in a rolling
// restart under load: 1 build in 26 failed so. Waiting for this count to
// reach zero after Shutdown closes that window.
type connCounter struct {
	net.Listener

	mu   sync.Mutex // guards open
	open int
}

func (l *connCounter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.open++
	l.mu.Unlock()
	return &countedConn{Conn: c, l: l}, nil
}

// wait polls until every accepted connection is closed or the deadline
// passes; it reports whether they all were.
func (l *connCounter) wait(deadline time.Time) bool {
	for {
		l.mu.Lock()
		n := l.open
		l.mu.Unlock()
		if n == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		// A connection accepted in the race above is served within
		// microseconds to milliseconds; polling every millisecond keeps a
		// stop near its own length.
		time.Sleep(time.Millisecond)
	}
}

type countedConn struct {
	net.Conn
	l    *connCounter
	once sync.Once
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		c.l.mu.Unlock()
	})
	return err
}

// CloseWrite half-closes the connection as http.Server does before closing
// a connection it may still receive on (so the peer reads the reply rather
// than a reset); the wrapper must not hide it.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
