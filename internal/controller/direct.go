package controller

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/jmake/jmake/internal/lifecycle"
)

// reviveStopTimeout is how long Revive waits for a daemon found hung to
// stop gracefully: it already failed its health check, so it is not
// expected to drain, only given a moment before SIGKILL.
const reviveStopTimeout = 2 * time.Second

// Direct controls the daemon processes itself, through their PID files:
// what runs when no supervisor does.
type Direct struct {
	Env lifecycle.Env
	// Options is how Start and Restart start a daemon.
	Options lifecycle.StartOptions
}

var _ Controller = Direct{}

// Start starts the named daemons detached.
func (d Direct) Start(ctx context.Context, w io.Writer, names []string) error {
	res, err := d.Env.Start(ctx, names, d.Options)
	PrintStarted(w, res)
	return err
}

// Stop stops the named daemons.
func (d Direct) Stop(ctx context.Context, w io.Writer, names []string, timeout time.Duration) error {
	res, err := d.Env.Stop(ctx, names, timeout)
	printStopped(w, res)
	return err
}

// Restart stops the named daemons, deletes their caches when clean, and
// starts them.
func (d Direct) Restart(ctx context.Context, w io.Writer, names []string, clean bool, timeout time.Duration) error {
	if err := d.Stop(ctx, w, names, timeout); err != nil {
		return err
	}
	if clean {
		for _, n := range names {
			if err := removeCaches(w, d.Env, n); err != nil {
				return err
			}
		}
	}
	return d.Start(ctx, w, names)
}

// Rolling replaces the named daemons one by one.
func (d Direct) Rolling(ctx context.Context, w io.Writer, names []string, timeout time.Duration) error {
	res, err := d.Env.RollingRestart(ctx, names, lifecycle.StartOptions{}, timeout)
	for _, r := range res {
		if r.OldPID == 0 {
			fmt.Fprintf(w, "%-12s started (pid %d) in %d ms\n", r.Name, r.NewPID, r.Took.Milliseconds())
		} else {
			fmt.Fprintf(w, "%-12s replaced pid %d with pid %d in %d ms\n", r.Name, r.OldPID, r.NewPID, r.Took.Milliseconds())
		}
	}
	return err
}

// Revive stops the named daemons (SIGKILLing a hung one) and starts them.
func (d Direct) Revive(ctx context.Context, w io.Writer, names []string) error {
	if _, err := d.Env.Stop(ctx, names, reviveStopTimeout); err != nil {
		return err
	}
	res, err := d.Env.Start(ctx, names, lifecycle.StartOptions{})
	PrintStarted(w, res)
	return err
}

// PrintStarted reports Start's results, one line per daemon.
func PrintStarted(w io.Writer, res []lifecycle.StartResult) {
	for _, r := range res {
		switch {
		case r.Name == "":
		case r.Already:
			fmt.Fprintf(w, "%-12s already running (pid %d, port %d)\n", r.Name, r.PID, r.Port)
		default:
			fmt.Fprintf(w, "%-12s started (pid %d, port %d) in %d ms\n", r.Name, r.PID, r.Port, r.Took.Milliseconds())
		}
	}
}

func printStopped(w io.Writer, res []lifecycle.StopResult) {
	for _, r := range res {
		switch {
		case r.Stale != "":
			fmt.Fprintf(w, "%-12s stale PID file removed (%s)\n", r.Name, r.Stale)
		case !r.Running:
			fmt.Fprintf(w, "%-12s not running\n", r.Name)
		case r.Killed:
			fmt.Fprintf(w, "%-12s killed (pid %d did not stop in time)\n", r.Name, r.PID)
		default:
			fmt.Fprintf(w, "%-12s stopped (pid %d) in %d ms\n", r.Name, r.PID, r.Took.Milliseconds())
		}
	}
}
