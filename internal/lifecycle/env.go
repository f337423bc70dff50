// Package lifecycle starts, stops and inspects the daemons as separate
// processes: PID files verified against /proc, detached spawning with
// readiness by /healthz, graceful stop with a bounded wait and SIGKILL of the
// process group after it.
package lifecycle

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/jmake/jmake/internal/client"
	"github.com/jmake/jmake/internal/daemon"
	"github.com/jmake/jmake/internal/pidfile"
	"github.com/jmake/jmake/internal/settings"
)

// Env is where the daemons live: their state directory, settings and port
// offset, and the jmake binary that runs them.
type Env struct {
	StateDir string
	Offset   int
	Settings settings.Settings
	Exe      string // the jmake binary to spawn; default os.Executable()
}

// NewEnv resolves the state directory and reads its settings.
func NewEnv(offset int) (Env, error) {
	dir, err := settings.StateDir()
	if err != nil {
		return Env{}, err
	}
	s, err := settings.Load(dir)
	if err != nil {
		return Env{}, err
	}
	exe, err := os.Executable()
	if err != nil {
		return Env{}, err
	}
	return Env{StateDir: dir, Offset: offset, Settings: s, Exe: exe}, nil
}

// Port is daemon name's port.
func (e Env) Port(name string) int { return e.Settings.Port(name, e.Offset) }

// Addr is daemon name's address.
func (e Env) Addr(name string) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(e.Port(name)))
}

// PIDFile is daemon name's PID file.
func (e Env) PIDFile(name string) string { return pidfile.Path(e.StateDir, name) }

// LogFile is daemon name's log.
func (e Env) LogFile(name string) string { return filepath.Join(e.StateDir, "logs", name+".log") }

// Client returns a client of daemon name (the token is read if present).
func (e Env) Client(name string) *client.Client {
	tok, _ := daemon.ReadToken(e.StateDir)
	return client.New(name, e.Addr(name), tok)
}

// CheckNames validates daemon names, returning all four when none are given.
func CheckNames(names []string) ([]string, error) {
	if len(names) == 0 {
		return settings.Names(), nil
	}
	for _, n := range names {
		if !settings.IsDaemon(n) {
			return nil, fmt.Errorf("unknown daemon %q (want discovery, setup, compilation or orchestrator)", n)
		}
	}
	return names, nil
}
