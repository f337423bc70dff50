package supervisor

import (
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Notifier speaks systemd's sd_notify protocol: one datagram of
// newline-separated VAR=value lines to the unix socket $NOTIFY_SOCKET
// (a leading '@' means the abstract namespace). Without NOTIFY_SOCKET every
// method does nothing.
type Notifier struct {
	addr     string
	watchdog time.Duration // WATCHDOG_USEC, when it is meant for this process
}

// NotifierFromEnv reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID.
func NotifierFromEnv() *Notifier {
	n := &Notifier{addr: os.Getenv("NOTIFY_SOCKET")}
	if us, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64); err == nil && us > 0 {
		pid := os.Getenv("WATCHDOG_PID")
		if pid == "" || pid == strconv.Itoa(os.Getpid()) {
			n.watchdog = time.Duration(us) * time.Microsecond
		}
	}
	return n
}

// Send sends state (e.g. "READY=1", "STATUS=3/4 running"); errors are
// returned but a missing socket is not one.
func (n *Notifier) Send(state string) error {
	if n == nil || n.addr == "" {
		return nil
	}
	name := n.addr
	if strings.HasPrefix(name, "@") {
		name = "\x00" + name[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte(state))
	return err
}

// Watchdog sends WATCHDOG=1 every half WATCHDOG_USEC (systemd's advice)
// until the returned stop is called; without a watchdog it does nothing.
func (n *Notifier) Watchdog() (stop func()) {
	if n == nil || n.addr == "" || n.watchdog == 0 {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(n.watchdog / 2)
		defer t.Stop()
		n.Send("WATCHDOG=1")
		for {
			select {
			case <-done:
				return
			case <-t.C:
				n.Send("WATCHDOG=1")
			}
		}
	}()
	return func() { close(done) }
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, which systemd wants
// with RELOADING=1 (Type=notify-reload).
func monotonicUsec() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return 0
	}
	return ts.Nano() / 1000
}
