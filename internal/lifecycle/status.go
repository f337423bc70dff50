package lifecycle

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/jmake/jmake/internal/client"
	"github.com/jmake/jmake/internal/pidfile"
)

// States a daemon can be in.
const (
	Running = "running"
	Stopped = "stopped"
	Stale   = "stale"
)

// DaemonStatus is one daemon's line in `jmake status`.
type DaemonStatus struct {
	Name          string  `json:"name"`
	State         string  `json:"state"`
	PID           int     `json:"pid,omitempty"`
	Port          int     `json:"port"`
	UptimeSeconds float64 `json:"uptime_seconds,omitempty"`
	Requests      int64   `json:"requests,omitempty"`
	CacheHitRate  float64 `json:"cache_hit_rate"`
	Reason        string  `json:"reason,omitempty"` // why stale, or why not answering
	// Set when a supervisor runs: its view of the daemon (running, backoff,
	// fatal, ...), restarts so far, how it last ended, why it restarted.
	Supervisor string `json:"supervisor,omitempty"`
	Restarts   int    `json:"restarts,omitempty"`
	LastExit   string `json:"last_exit,omitempty"`
}

// Inspect reads daemon name's PID file and verifies it. It returns what the
// file says of our live daemon, or a zero Info and the reason the file is
// stale ("" when there is no file).
func (e Env) Inspect(name string) (info pidfile.Info, stale string) {
	info, err := pidfile.Read(e.PIDFile(name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return pidfile.Info{}, ""
		}
		return pidfile.Info{}, err.Error()
	}
	if ok, reason := pidfile.Verify(info, name); !ok {
		return pidfile.Info{}, reason
	}
	if info.Port == 0 {
		info.Port = e.Port(name)
	}
	return info, ""
}

// clientAt is a client of daemon name on the port its PID file names.
func (e Env) clientAt(name string, info pidfile.Info) *client.Client {
	c := e.Client(name)
	c.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(info.Port))
	return c
}

// Status reports each daemon, removing PID files found stale.
func (e Env) Status(ctx context.Context, names []string) []DaemonStatus {
	out, _ := inParallel(names, func(name string) (DaemonStatus, error) { return e.status(ctx, name), nil })
	if sup, ok := e.ReadSupervisorState(); ok {
		for i := range out {
			for _, d := range sup.Daemons {
				if d.Name != out[i].Name {
					continue
				}
				out[i].Supervisor, out[i].Restarts, out[i].LastExit = d.State, d.Restarts, d.LastExit
				if out[i].Reason == "" {
					out[i].Reason = d.Reason
				}
			}
		}
	}
	return out
}

func (e Env) status(ctx context.Context, name string) DaemonStatus {
	st := DaemonStatus{Name: name, State: Stopped, Port: e.Port(name)}
	info, stale := e.Inspect(name)
	if stale != "" {
		os.Remove(e.PIDFile(name))
		st.State, st.Reason = Stale, stale
		return st
	}
	if info.PID == 0 {
		e.holderStatus(ctx, &st)
		return st
	}
	st.State, st.PID, st.Port = Running, info.PID, info.Port
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := e.clientAt(name, info).Stats(ctx)
	if err != nil {
		st.Reason = "not answering: " + err.Error()
		return st
	}
	st.UptimeSeconds, st.Requests, st.CacheHitRate = s.UptimeSeconds, s.Requests, s.CacheHitRate
	return st
}
