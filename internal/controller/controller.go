// Package controller starts, stops and restarts the daemons for the
// command line, the same way whether a supervisor keeps them or not: For
// picks the implementation (Supervised when a supervisor runs for the
// state dir, Direct otherwise), and the commands call the interface.
// Each operation reports one line per daemon on its writer.
package controller

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/jmake/jmake/internal/lifecycle"
	"github.com/jmake/jmake/internal/store"
	"github.com/jmake/jmake/internal/supervisor"
)

// Controller is what the lifecycle commands ask of whoever keeps the
// daemons.
type Controller interface {
	// Start starts the named daemons and returns once each answers.
	Start(ctx context.Context, w io.Writer, names []string) error
	// Stop stops them, SIGKILLing one that takes longer than timeout.
	Stop(ctx context.Context, w io.Writer, names []string, timeout time.Duration) error
	// Restart stops and starts them, deleting their caches in between
	// when clean is set.
	Restart(ctx context.Context, w io.Writer, names []string, clean bool, timeout time.Duration) error
	// Rolling replaces them one by one with no failed request: each new
	// instance serves before the old one drains (within timeout).
	Rolling(ctx context.Context, w io.Writer, names []string, timeout time.Duration) error
	// Revive brings back daemons found down or hung.
	Revive(ctx context.Context, w io.Writer, names []string) error
}

// For returns the controller for env's daemons: the running supervisor's,
// else direct control of the processes.
func For(env lifecycle.Env) Controller {
	if ctl := supervisor.Dial(env); ctl != nil {
		return &Supervised{Env: env, ctl: ctl}
	}
	return Direct{Env: env}
}

// removeCaches deletes daemon name's caches, for restart --clean.
func removeCaches(w io.Writer, env lifecycle.Env, name string) error {
	dir := filepath.Join(env.StateDir, "cache", name)
	if err := store.RemoveCache(dir); err != nil {
		return fmt.Errorf("%s: delete caches: %w", name, err)
	}
	fmt.Fprintf(w, "%-12s caches deleted (%s)\n", name, dir)
	return nil
}

func lookupPID(env lifecycle.Env, name string) int {
	info, _ := env.Inspect(name)
	return info.PID
}

func containsName(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
