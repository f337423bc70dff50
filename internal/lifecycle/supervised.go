package lifecycle

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jmake/jmake/internal/pidfile"
	"github.com/jmake/jmake/internal/proc"
)

// SupervisorName names the supervisor's PID file: .daemon_pids.supervisor.
const SupervisorName = "supervisor"

// Supervised is one daemon as the supervisor sees it; the supervisor
// writes these to $JMAKE_HOME/supervisor.json and `jmake status` shows them.
type Supervised struct {
	Name      string    `json:"name"`
	State     string    `json:"state"` // starting, running, backoff, fatal, stopping, stopped
	PID       int       `json:"pid,omitempty"`
	Adopted   bool      `json:"adopted,omitempty"` // found running, not spawned by this supervisor
	Restarts  int       `json:"restarts"`
	LastExit  string    `json:"last_exit,omitempty"` // "exit 1", "signal killed"
	LastStart time.Time `json:"last_start,omitzero"`
	Reason    string    `json:"reason,omitempty"` // why it last restarted, or why FATAL
}

// SupervisorState is the content of supervisor.json.
type SupervisorState struct {
	PID     int          `json:"pid"`
	Socket  string       `json:"socket"`
	Updated time.Time    `json:"updated"`
	Daemons []Supervised `json:"daemons"`
}

// SupervisorStateFile is $JMAKE_HOME/supervisor.json.
func (e Env) SupervisorStateFile() string { return filepath.Join(e.StateDir, "supervisor.json") }

// SupervisorSocket is the supervisor's control socket.
func (e Env) SupervisorSocket() string { return filepath.Join(e.StateDir, "supervisor.sock") }

// SupervisorPIDFile is .daemon_pids.supervisor.
func (e Env) SupervisorPIDFile() string { return pidfile.Path(e.StateDir, SupervisorName) }

// InspectSupervisor returns the running supervisor's PID file, verified
// (same start time, and its command line runs `jmake supervise`), or a zero
// Info.
func (e Env) InspectSupervisor() pidfile.Info {
	info, err := pidfile.Read(e.SupervisorPIDFile())
	if err != nil {
		return pidfile.Info{}
	}
	if !IsSupervisor(info) {
		return pidfile.Info{}
	}
	return info
}

// IsSupervisor reports whether info names a live `jmake supervise` process.
func IsSupervisor(info pidfile.Info) bool {
	if !proc.Alive(info.Proc()) {
		return false
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(info.PID) + "/cmdline")
	if err != nil {
		return false
	}
	for _, a := range bytes.Split(cmdline, []byte{0}) {
		if string(a) == "supervise" {
			return proc.Alive(info.Proc())
		}
	}
	return false
}

// ReadSupervisorState returns supervisor.json when the supervisor that
// wrote it is still running.
func (e Env) ReadSupervisorState() (SupervisorState, bool) {
	info := e.InspectSupervisor()
	if info.PID == 0 {
		return SupervisorState{}, false
	}
	data, err := os.ReadFile(e.SupervisorStateFile())
	if err != nil {
		return SupervisorState{}, false
	}
	var st SupervisorState
	if json.Unmarshal(data, &st) != nil || st.PID != info.PID {
		return SupervisorState{}, false
	}
	return st, true
}
