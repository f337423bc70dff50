// Command noopcalls times the calls that a no-op `jmake build` makes, one
// after another on kept-alive connections, as the orchestrator makes them:
// build_project on the orchestrator (the whole no-op as the client sees it,
// without starting the client process), and the three calls it makes for it
// at once: setup's validate_config, discovery's scan_files with the source
// fingerprint it knows, and compilation's compile with noop_only. /healthz
// on the orchestrator is the floor (HTTP on loopback and nothing else).
//
//	go run ./bench/noopcalls -dir examples/c [-n 1000] [-gap 2ms]
//
// The project must have been built through the daemons once, so that each
// call is the no-op case. The daemons are found as `jmake` finds them
// ($JMAKE_HOME, PORT_OFFSET). A gap between calls lets the daemons go idle,
// as they are between two builds.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/jmake/jmake/internal/lifecycle"
	"github.com/jmake/jmake/internal/settings"
)

func main() {
	dir := flag.String("dir", ".", "a project built through the daemons before")
	n := flag.Int("n", 1000, "calls of each kind")
	gap := flag.Duration("gap", 2*time.Millisecond, "pause between two calls")
	flag.Parse()
	if err := run(*dir, *n, *gap); err != nil {
		fmt.Fprintln(os.Stderr, "noopcalls:", err)
		os.Exit(1)
	}
}

func run(dir string, n int, gap time.Duration) error {
	root, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	offset, err := settings.PortOffset()
	if err != nil {
		return err
	}
	env, err := lifecycle.NewEnv(offset)
	if err != nil {
		return err
	}
	ctx := context.Background()
	orch, disc := env.Client(settings.Orchestrator), env.Client(settings.Discovery)
	setup, comp := env.Client(settings.Setup), env.Client(settings.Compilation)

	args := func(v map[string]any) []byte { b, _ := json.Marshal(v); return b }
	scan, err := disc.CallRaw(ctx, "scan_files", args(map[string]any{"path": root, "sources_only": true}))
	if err != nil {
		return err
	}
	var files struct{ Fingerprint string }
	if err := json.Unmarshal(scan, &files); err != nil || files.Fingerprint == "" {
		return fmt.Errorf("scan_files of %s gave no fingerprint (%v)", root, err)
	}
	noop := args(map[string]any{"path": root, "fingerprint": files.Fingerprint, "noop_only": true})
	if _, err := comp.CallRaw(ctx, "compile", noop); err != nil {
		return fmt.Errorf("%s is not a no-op for the compilation daemon (build it first): %w", root, err)
	}

	calls := []struct {
		name string
		call func() error
	}{
		{"orchestrator /healthz", func() error { _, err := orch.Health(ctx); return err }},
		{"orchestrator build_project", func() error {
			_, err := orch.CallRaw(ctx, "build_project", args(map[string]any{"path": root}))
			return err
		}},
		{"setup validate_config", func() error {
			_, err := setup.CallRaw(ctx, "validate_config", args(map[string]any{"path": root}))
			return err
		}},
		{"discovery scan_files (known)", func() error {
			_, err := disc.CallRaw(ctx, "scan_files", args(map[string]any{"path": root, "sources_only": true, "known": files.Fingerprint}))
			return err
		}},
		{"compilation compile (noop_only)", func() error { _, err := comp.CallRaw(ctx, "compile", noop); return err }},
	}
	fmt.Printf("%-32s %10s %10s   (%d calls each, %v apart)\n", "call", "p50", "p90", n, gap)
	for _, c := range calls {
		took := make([]time.Duration, 0, n)
		for range n {
			start := time.Now()
			if err := c.call(); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			took = append(took, time.Since(start))
			time.Sleep(gap)
		}
		slices.Sort(took)
		fmt.Printf("%-32s %8.0f µs %8.0f µs\n", c.name, us(took[n/2]), us(took[n*9/10]))
	}
	return nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
