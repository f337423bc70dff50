package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/jmake/jmake/internal/daemon"
	"github.com/jmake/jmake/internal/settings"
)

// StartTimeout bounds how long Start waits for a daemon to answer /healthz.
// A daemon loads its caches before listening; 100k entries take ~25 ms, so
// ten seconds is slack for a loaded machine, not an expected wait.
const StartTimeout = 10 * time.Second

// StopTimeout is how long a daemon may take to stop gracefully (finish its
// requests, flush its caches) before it is SIGKILLed with its process
// group, unless told otherwise. A no-op build answers in milliseconds and a
// cold compile of one unit in about a second; fifteen seconds lets a burst
// of in-flight compiles finish without letting a hung daemon hold a stop
// for long.
const StopTimeout = 15 * time.Second

// ReloadTimeout bounds a /v1/reload call: a daemon re-reads config.toml
// and applies it in milliseconds; one that takes longer is hung, and the
// caller says so rather than wait.
const ReloadTimeout = 10 * time.Second

// logRotateSize: a daemon's log is rotated at start when over this size,
// keeping one previous file (<name>.log.1). Rotating at start, never while
// a daemon writes, keeps two instances of one daemon safe on one log.
const logRotateSize = 10 << 20

// StartOptions tune Start.
type StartOptions struct {
	NoPersist bool     // run the daemons with caches in memory only
	ExtraArgs []string // passed to `jmake daemon <name>`
}

// StartResult is what Start did for one daemon.
type StartResult struct {
	Name    string
	PID     int
	Port    int
	Already bool // it was running and was left alone
	Took    time.Duration
}

// Start starts the named daemons detached, each in its own session with its
// output in logs/<name>.log, and returns once each answers /healthz. Daemons
// already running are left alone and reported. All are spawned at once and
// awaited in parallel.
func (e Env) Start(ctx context.Context, names []string, opts StartOptions) ([]StartResult, error) {
	if err := settings.EnsureStateDir(e.StateDir); err != nil {
		return nil, err
	}
	// Create the token before any daemon starts, so they share it.
	if _, err := daemon.LoadOrCreateToken(e.StateDir); err != nil {
		return nil, err
	}
	return inParallel(names, func(name string) (StartResult, error) {
		if info, stale := e.Inspect(name); info.PID != 0 {
			return StartResult{Name: name, PID: info.PID, Port: info.Port, Already: true}, nil
		} else if stale != "" {
			os.Remove(e.PIDFile(name))
		}
		return e.startClaimed(ctx, name, opts)
	})
}

func (e Env) startOne(ctx context.Context, name string, opts StartOptions) (StartResult, error) {
	begin := time.Now()
	p, err := e.Spawn(name, opts)
	if err != nil {
		return StartResult{}, err
	}
	if err := e.AwaitReady(ctx, name, p.PID, p.Done(), StartTimeout); err != nil {
		if errors.Is(err, errExited) {
			err = fmt.Errorf("%w (%s)", err, p.ExitString())
		} else {
			syscall.Kill(p.PID, syscall.SIGKILL)
		}
		return StartResult{}, fmt.Errorf("%s (pid %d, port %d): %w%s", name, p.PID, e.Port(name), err, p.LogTail(10))
	}
	return StartResult{Name: name, PID: p.PID, Port: e.Port(name), Took: time.Since(begin)}, nil
}

var errExited = errors.New("exited before it was ready")

// logTail returns the log lines written since offset (at most n), as a
// block to append to an error.
func logTail(path string, offset int64, n int) string {
	data, err := os.ReadFile(path)
	if err != nil || int64(len(data)) <= offset {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data[offset:]), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "\n  last lines of %s:", path)
	for _, l := range lines {
		b.WriteString("\n    " + l)
	}
	return b.String()
}
