package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/jmake/jmake/internal/client"
	"github.com/jmake/jmake/internal/pidfile"
	"github.com/jmake/jmake/internal/proc"
)

// Proc is a daemon process this one spawned and waits on.
type Proc struct {
	Name     string
	PID      int
	Started  time.Time
	LogPath  string
	LogStart int64 // the log's size when the process started

	done chan struct{}
	err  error // cmd.Wait's result; read after done is closed
}

// Done is closed when the process has exited and been reaped.
func (p *Proc) Done() <-chan struct{} { return p.done }

// ExitErr is cmd.Wait's result; call it after Done is closed.
func (p *Proc) ExitErr() error { return p.err }

// ExitString describes how the process ended: "exit 0", "exit 1",
// "signal killed"; "" while it runs.
func (p *Proc) ExitString() string {
	select {
	case <-p.done:
	default:
		return ""
	}
	return ExitString(p.err)
}

// ExitString describes a cmd.Wait result: "exit 0", "exit 2",
// "signal killed".
func ExitString(err error) string {
	if err == nil {
		return "exit 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "signal " + ws.Signal().String()
		}
		return "exit " + strconv.Itoa(ee.ExitCode())
	}
	return err.Error()
}

// Info is the PID file view of p, for the helpers that take one.
func (p *Proc) Info() pidfile.Info {
	start, _ := proc.StartTicks(p.PID)
	return pidfile.Info{PID: p.PID, Name: p.Name, Start: start}
}

// LogTail is the last n lines p wrote to its log, as a block to append to
// an error.
func (p *Proc) LogTail(n int) string { return logTail(p.LogPath, p.LogStart, n) }

// Spawn starts `jmake daemon <name>` in its own session with its output
// appended to its log, and returns at once: readiness is AwaitReady's job.
// The process outlives the caller (a supervisor killed with -9 leaves its
// daemons serving).
func (e Env) Spawn(name string, opts StartOptions) (*Proc, error) {
	logPath := e.LogFile(name)
	if fi, err := os.Stat(logPath); err == nil && fi.Size() > logRotateSize {
		os.Rename(logPath, logPath+".1")
	}
	os.MkdirAll(e.StateDir+"/logs", 0o700)
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: open log: %w", name, err)
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
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", name, e.Exe, err)
	}
	p := &Proc{Name: name, PID: cmd.Process.Pid, Started: time.Now(), LogPath: logPath, LogStart: logStart, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// AwaitReady polls /healthz every 2 ms until the daemon answering on name's
// port is process pid, the process ends (done closes), or timeout passes.
func (e Env) AwaitReady(ctx context.Context, name string, pid int, done <-chan struct{}, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := e.Client(name)
	c.HTTP = probeHTTP
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		hctx, hcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		h, err := c.Health(hctx)
		hcancel()
		if err == nil && h.PID == pid && h.Status == "ok" {
			return nil
		}
		select {
		case <-done:
			return errExited
		case <-ctx.Done():
			if err == nil {
				return fmt.Errorf("port %d answers as pid %d, not the daemon just started", e.Port(name), h.PID)
			}
			return fmt.Errorf("not answering /healthz after %s: %v", timeout, err)
		case <-tick.C:
		}
	}
}

// Probe asks daemon name's /healthz within timeout, on a fresh connection
// (a kept-alive one could belong to an instance that is stopping).
func (e Env) Probe(ctx context.Context, name string, timeout time.Duration) (client.Health, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := e.Client(name)
	c.HTTP = probeHTTP
	h, err := c.Health(ctx)
	if err == nil && h.Status != "ok" {
		err = fmt.Errorf("%s: /healthz says %q", name, h.Status)
	}
	return h, err
}

// probeHTTP opens a new connection per probe: a probe must reach whichever
// instance the kernel picks now, not one kept alive from before.
var probeHTTP = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
