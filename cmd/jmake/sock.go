package main

import (
	"errors"
	"io"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// unixConn is a blocking unix stream socket used with plain read(2) and
// write(2). The client has one connection and nothing else to do while
// it waits, so the runtime's network poller (an epoll instance, a
// non-blocking socket, a goroutine parked and woken per reply) is pure
// cost: about a tenth of a no-op build's wall time here.
type unixConn struct {
	fd   int
	once sync.Once

	waitFrom time.Time // when the call began, for onWait
	patience time.Duration
	waiting  func() // called once, by the first read that waits past patience
}

// catchAfter is how long a build's reply may keep the client waiting
// before it starts catching signals: a no-op answers in well under a
// millisecond, and a build that runs a compiler takes tens of them.
const catchAfter = 10 * time.Millisecond

// onWait arranges for f to be called, once and on the reading goroutine,
// before the first read that has to wait for data once patience has
// passed since now, or that comes later than that.
func (c *unixConn) onWait(patience time.Duration, f func()) {
	c.waitFrom, c.patience, c.waiting = time.Now(), patience, f
}

// dialUnix connects to the stream socket at path.
func dialUnix(path string) (*unixConn, error) {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Connect(fd, &syscall.SockaddrUnix{Name: path})
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return &unixConn{fd: fd}, nil
}

func (c *unixConn) Read(p []byte) (int, error) {
	if c.waiting != nil && !c.readableWithin(c.patience-time.Since(c.waitFrom)) {
		f := c.waiting
		c.waiting = nil
		f()
	}
	for {
		n, err := syscall.Read(c.fd, p)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (c *unixConn) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := syscall.Write(c.fd, p[done:])
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return done, err
		}
		done += n
	}
	return done, nil
}

// readableWithin reports whether data (or the end of the stream) is
// there to read within d; false once d has run out, or if the poll was
// interrupted.
func (c *unixConn) readableWithin(d time.Duration) bool {
	if d <= 0 {
		return false
	}
	fds := []unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLIN}}
	ms := int((d + time.Millisecond - 1) / time.Millisecond)
	n, err := unix.Poll(fds, ms)
	return err == nil && n > 0
}

// Hangup ends the call from any goroutine: a read or write blocked on the
// socket returns at once (end of file), and the orchestrator sees its
// caller gone. Closing the descriptor instead would leave a blocked
// read(2) waiting.
func (c *unixConn) Hangup() { syscall.Shutdown(c.fd, syscall.SHUT_RDWR) }

// Close releases the socket once.
func (c *unixConn) Close() error {
	var err error
	c.once.Do(func() { err = syscall.Close(c.fd) })
	return err
}
