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
	who := fmt.Sprintf("state dir %s, pid %d", stateDir, os.Getpid())
	deadline := time.Now().Add(claimWait)
	for {
		c, port, holder, err := tryClaim(slices.Sorted(slices.Values(ports)), who)
		if err == nil {
			return c, nil
		}
		if holder == "" || !sameStateDir(holder, stateDir) || time.Now().After(deadline) {
			if holder == "" {
				holder = "it did not say which"
			}
			return nil, fmt.Errorf("port %d is %w (%s); use PORT_OFFSET to give this state dir other ports", port, errPortClaimed, holder)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// tryClaim claims each of the sorted ports, or none: on failure it
// returns the port it could not claim and what its holder says.
func tryClaim(ports []int, who string) (c *portClaim, failed int, holder string, err error) {
	c = &portClaim{}
	for _, port := range ports {
		ln, err := net.Listen("unix", claimName(port))
		if err != nil {
			c.Close()
			return nil, port, askHolder(port), err
		}
		c.lns = append(c.lns, ln)
		go answer(ln, who)
	}
	return c, 0, "", nil
}

// answer tells each connection to ln who holds the claim.
func answer(ln net.Listener, who string) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		conn.SetWriteDeadline(time.Now().Add(time.Second))
		conn.Write([]byte(who + "\n"))
		conn.Close()
	}
}

// askHolder is what the holder of port's claim says it is; "" when it
// does not answer.
func askHolder(port int) string {
	conn, err := net.DialTimeout("unix", claimName(port), time.Second)
	if err != nil {
		return ""
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(time.Second))
	line, _ := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line)
}

// sameStateDir reports whether a holder's "state dir D, pid P" names dir.
func sameStateDir(holder, dir string) bool {
	d, ok := strings.CutPrefix(holder, "state dir ")
	if !ok {
		return false
	}
	if i := strings.LastIndex(d, ", pid "); i >= 0 {
		d = d[:i]
	}
	return filepath.Clean(d) == filepath.Clean(dir)
}

// Close releases every claim, once.
func (c *portClaim) Close() {
	c.once.Do(func() {
		for _, ln := range c.lns {
			ln.Close()
		}
	})
}
