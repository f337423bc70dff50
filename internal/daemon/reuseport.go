package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Listen binds addr with SO_REUSEPORT, so a new instance of a daemon can
// bind the same port while the old one still serves (rolling restart). A
// port held by a program that did not set SO_REUSEPORT (or by another user)
// still fails to bind, and the error names the port.
//
// A rolling restart prefers sharing the old instance's very socket (see
// takeOver): SO_REUSEPORT alone gives each instance its own accept queue,
// and the connections queued on the old one are reset when it closes.
func Listen(addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		if errors.Is(err, errAddrInUse) {
			return nil, fmt.Errorf("cannot listen on %s: port in use by another program", addr)
		}
		return nil, fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	return ln, nil
}

func rawConn(ln net.Listener) (syscall.RawConn, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil, errors.New("not a socket")
	}
	return sc.SyscallConn()
}

// acceptQueueLen is the number of connections waiting in ln's accept queue
// (for a listening socket, Linux reports it as tcpi_unacked).
func acceptQueueLen(ln net.Listener) (int, error) {
	rc, err := rawConn(ln)
	if err != nil {
		return 0, err
	}
	var n int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		var info *unix.TCPInfo
		info, gerr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		if gerr == nil {
			n = int(info.Unacked)
		}
	}); err != nil {
		return 0, err
	}
	return n, gerr
}

// drainAcceptQueue lets the accept loop (still running) take the
// connections already queued on ln before it is closed, so none is reset.
// It waits until the queue has been empty for two polls in a row, at most
// max: a daemon alone on its port under steady load never sees an empty
// queue, and a stop must stay bounded.
func drainAcceptQueue(ln net.Listener, max time.Duration) {
	deadline := time.Now().Add(max)
	empty := 0
	for time.Now().Before(deadline) {
		n, err := acceptQueueLen(ln)
		if err != nil {
			return
		}
		if n == 0 {
			if empty++; empty >= 2 {
				return
			}
		} else {
			empty = 0
		}
		// 1 ms: loopback connections complete in microseconds; the whole
		// drain is a few polls when nothing new arrives.
		time.Sleep(time.Millisecond)
	}
}
