package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jmake/jmake/internal/daemon"
	"github.com/jmake/jmake/internal/settings"
)

// StartTimeout bounds how long Start waits for a daemon to answer /healthz.
// A daemon loads its caches before listening; 100k entries take ~25 ms, so
// ten seconds is slack for a loaded machine, not an expected wait.
const StartTimeout = 10 * time.Second

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
	out := make([]StartResult, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		if info, stale := e.Inspect(name); info.PID != 0 {
			out[i] = StartResult{Name: name, PID: info.PID, Port: info.Port, Already: true}
			continue
		} else if stale != "" {
			os.Remove(e.PIDFile(name))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = e.startOne(ctx, name, opts)
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func (e Env) startOne(ctx context.Context, name string, opts StartOptions) (StartResult, error) {
	begin := time.Now()
	logPath := e.LogFile(name)
	if fi, err := os.Stat(logPath); err == nil && fi.Size() > logRotateSize {
		os.Rename(logPath, logPath+".1")
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return StartResult{}, fmt.Errorf("%s: open log: %w", name, err)
	}
	defer logf.Close()
	logStart, _ := logf.Seek(0, io.SeekEnd)

	args := []string{"daemon", name, "--port-offset", strconv.Itoa(e.Offset)}
	if opts.NoPersist {
		args = append(args, "--no-persist")
	}
	args = append(args, opts.ExtraArgs...)
	cmd := exec.Command(e.Exe, args...)
	cmd.Env = append(os.Environ(), "JMAKE_HOME="+e.StateDir)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own session and process group: the daemon outlives this command and
	// its terminal, and stop can signal its whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return StartResult{}, fmt.Errorf("%s: start %s: %w", name, e.Exe, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	pid := cmd.Process.Pid
	if err := e.awaitReady(ctx, name, pid, exited); err != nil {
		if !errors.Is(err, errExited) {
			cmd.Process.Kill()
		}
		return StartResult{}, fmt.Errorf("%s (pid %d, port %d): %w%s", name, pid, e.Port(name), err, logTail(logPath, logStart, 10))
	}
	return StartResult{Name: name, PID: pid, Port: e.Port(name), Took: time.Since(begin)}, nil
}

var errExited = errors.New("exited before it was ready")

// awaitReady polls /healthz until the daemon that answers is the process we
// started, the process exits, or the deadline passes. Polling every 2 ms is
// cheap on loopback and keeps start near the daemon's own start-up time.
func (e Env) awaitReady(ctx context.Context, name string, pid int, exited <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	c := e.Client(name)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		hctx, hcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		h, err := c.Health(hctx)
		hcancel()
		if err == nil && h.PID == pid {
			return nil
		}
		select {
		case werr := <-exited:
			if werr == nil {
				return errExited
			}
			return fmt.Errorf("%w (%v)", errExited, werr)
		case <-ctx.Done():
			if err == nil {
				return fmt.Errorf("port %d answers as pid %d, not the daemon just started", e.Port(name), h.PID)
			}
			return fmt.Errorf("not answering /healthz after %s: %v", StartTimeout, err)
		case <-tick.C:
		}
	}
}

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
