package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/jmake/jmake/internal/orchestrator"
	"github.com/jmake/jmake/internal/project"
)

// defaultTestTimeout bounds one test: long enough for a unit test of a C
// library under a sanitizer, short enough that a hung test ends the run
// within minutes rather than never.
const defaultTestTimeout = 5 * time.Minute

func testCmd(g *globals) *cobra.Command {
	var sel orchestrator.Select
	var noDaemon bool
	var jobs int
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "test [dir] [name...] [-j N] [--timeout D]",
		Short: "Build the project's tests, run them in parallel, and report each; exits non-zero if any fails",
		RunE: onProject(func(cmd *cobra.Command, dir string, names []string) error {
			sel.Targets, sel.Tests = names, true
			res, err := buildQuiet(cmd.Context(), g, orchestrator.BuildRequest{Path: dir, Select: sel}, noDaemon, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			var tests []orchestrator.TargetOutcome
			for _, t := range res.Targets {
				if t.Kind == project.KindTest {
					tests = append(tests, t)
				}
			}
			for _, n := range names {
				if t, ok := targetOf(res, n); ok && t.Kind != project.KindTest {
					return fmt.Errorf("test: target %q is a %s, not a test", n, t.Kind)
				}
			}
			if len(tests) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no tests: add tests/*.c or [[test]] tables")
				fmt.Fprintln(cmd.OutOrStdout(), "0 passed, 0 failed")
				return nil
			}
			if jobs <= 0 {
				jobs = runtime.NumCPU()
			}
			failed := runTests(cmd.Context(), tests, jobs, timeout, cmd.OutOrStdout())
			if failed > 0 {
				return &exitError{code: 1}
			}
			return nil
		}),
	}
	profileFlags(cmd, &sel)
	cmd.Flags().BoolVar(&noDaemon, "no-daemon", false, "build in-process, without the daemons")
	cmd.Flags().IntVarP(&jobs, "jobs", "j", 0, "tests to run at once (default: core count)")
	cmd.Flags().DurationVar(&timeout, "timeout", defaultTestTimeout, "fail a test that runs longer than this")
	return cmd
}

// testRun is one test's outcome.
type testRun struct {
	ok     bool
	status string // "ok", "FAILED (exit 1)", "FAILED (signal: segmentation fault)", "FAILED (timeout 1s)"
	took   time.Duration
	output []byte
}

// runTests runs tests with up to jobs at once and prints, in the tests'
// order, one line per test as soon as it and those before it are done,
// each failure's output after its line, and the totals; it returns how
// many failed.
func runTests(ctx context.Context, tests []orchestrator.TargetOutcome, jobs int, timeout time.Duration, w io.Writer) int {
	runs := make([]testRun, len(tests))
	done := make([]chan struct{}, len(tests))
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for i := range tests {
		done[i] = make(chan struct{})
		wg.Go(func() {
			defer close(done[i])
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				runs[i] = testRun{status: "FAILED (interrupted)"}
				return
			}
			defer func() { <-sem }()
			runs[i] = runTest(ctx, tests[i], timeout)
		})
	}
	passed, failed := 0, 0
	for i, t := range tests {
		<-done[i]
		r := runs[i]
		fmt.Fprintf(w, "%-30s %s %.3fs\n", t.Name, r.status, r.took.Seconds())
		if r.ok {
			passed++
			continue
		}
		failed++
		if len(r.output) > 0 {
			fmt.Fprintf(w, "--- output of %s:\n%s", t.Name, r.output)
			if !bytes.HasSuffix(r.output, []byte("\n")) {
				fmt.Fprintln(w)
			}
		}
	}
	wg.Wait()
	fmt.Fprintf(w, "%d passed, %d failed\n", passed, failed)
	return failed
}

// runTest runs one test in its directory with a deadline, its stdout and
// stderr captured together.
func runTest(ctx context.Context, t orchestrator.TargetOutcome, timeout time.Duration) testRun {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := exec.CommandContext(ctx, t.Output)
	c.Dir = t.Dir
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	// Its own process group, so a timeout ends what it started too.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	// Output pipes of an escaped grandchild are not waited for forever.
	c.WaitDelay = time.Second
	start := time.Now()
	err := c.Run()
	r := testRun{took: time.Since(start), output: out.Bytes()}
	var ee *exec.ExitError
	switch {
	case err == nil:
		r.ok, r.status = true, "ok"
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		r.status = fmt.Sprintf("FAILED (timeout %s)", timeout)
	case errors.As(err, &ee) && ee.ExitCode() < 0:
		r.status = fmt.Sprintf("FAILED (%s)", ee.ProcessState.String())
	case errors.As(err, &ee):
		r.status = fmt.Sprintf("FAILED (exit %d)", ee.ExitCode())
	default:
		r.status = fmt.Sprintf("FAILED (%v)", err)
	}
	return r
}
