package supervisor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A supervisor claims every port of its state dir before it starts a
// daemon, and holds the claim until it has stopped them. Without it, two
// state dirs started at once on the same ports each passed the check that
// no jmake answers there, and their daemons, binding one port each, split
// the ports between them: neither state dir worked, and both supervisors
// kept retrying the daemons they had lost.
//
// A claim is an abstract unix socket per port, "@jmake-port-<port>": like
// the ports it is one per machine (per network namespace), there is no
// file to leave behind, and the kernel releases it however the process
// ends. Ports are claimed in ascending order and a failed claim releases
// the ones taken, so of two supervisors whose port sets overlap one gets
// them all. The holder answers a connection to a claim with who it is, so
// that the other can say so.

// errPortClaimed is a port another supervisor claims.
var errPortClaimed = errors.New("claimed by another jmake supervisor")

// claimWait bounds the wait for a supervisor of this very state dir path
// to let its claim go: one that lost its state dir (removed, or replaced at
// the same path) exits once it has stopped its daemons.
var claimWait = 15 * time.Second

// portClaim holds the claims of a set of ports.
type portClaim struct {
	lns  []net.Listener
	once sync.Once
}

// claimName is the abstract socket that claims port.
func claimName(port int) string { return "@jmake-port-" + strconv.Itoa(port) }

// claimPorts claims ports for the supervisor of stateDir. When a port is
// claimed by another state dir's supervisor it fails at once, naming it;
// by a supervisor of stateDir's own path, it waits up to claimWait for
// that one to go.
func claimPorts(ctx context.Context, stateDir string, ports []int) (*portClaim, error) {
	if runtime.GOOS != "linux" {
		return &portClaim{}, nil // no abstract sockets: the ports' own checks remain
	}
	ports = slices.Sorted(slices.Values(ports))
	us := claimHolder{stateDir: stateDir, pid: os.Getpid()}
	deadline := time.Now().Add(claimWait)
	for {
		c, port, h, known := tryClaim(ports, us)
		switch {
		case c != nil:
			return c, nil
		case !known:
			return nil, fmt.Errorf("port %d is %w (it did not say which); use PORT_OFFSET to give this state dir other ports", port, errPortClaimed)
		case filepath.Clean(h.stateDir) != filepath.Clean(stateDir) || time.Now().After(deadline):
			return nil, fmt.Errorf("port %d is %w (state dir %s, pid %d); use PORT_OFFSET to give this state dir other ports",
				port, errPortClaimed, h.stateDir, h.pid)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// claimHolder is a supervisor holding claims, as it tells others.
type claimHolder struct {
	stateDir string
	pid      int
}

// tryClaim claims each of the sorted ports, or none: on failure it
// returns the port it could not claim and its holder (known false when
// the holder did not say).
func tryClaim(ports []int, us claimHolder) (c *portClaim, failed int, h claimHolder, known bool) {
	c = &portClaim{}
	for _, port := range ports {
		ln, err := net.Listen("unix", claimName(port))
		if err != nil {
			c.Close()
			h, known = askHolder(port)
			return nil, port, h, known
		}
		c.lns = append(c.lns, ln)
		go answer(ln, us)
	}
	return c, 0, claimHolder{}, false
}

// answer tells each connection to ln who holds the claim: the state dir
// and the PID, a line each.
func answer(ln net.Listener, us claimHolder) {
	msg := []byte(us.stateDir + "\n" + strconv.Itoa(us.pid) + "\n")
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		conn.SetWriteDeadline(time.Now().Add(time.Second))
		conn.Write(msg)
		conn.Close()
	}
}

// askHolder asks the holder of port's claim who it is; false when it does
// not say.
func askHolder(port int) (claimHolder, bool) {
	conn, err := net.DialTimeout("unix", claimName(port), time.Second)
	if err != nil {
		return claimHolder{}, false
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(time.Second))
	r := bufio.NewReader(conn)
	dir, err1 := r.ReadString('\n')
	pid, err2 := r.ReadString('\n')
	n, err3 := strconv.Atoi(strings.TrimSuffix(pid, "\n"))
	if err1 != nil || err2 != nil || err3 != nil {
		return claimHolder{}, false
	}
	return claimHolder{stateDir: strings.TrimSuffix(dir, "\n"), pid: n}, true
}

// Close releases every claim, once.
func (c *portClaim) Close() {
	c.once.Do(func() {
		for _, ln := range c.lns {
			ln.Close()
		}
	})
}
