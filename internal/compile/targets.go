package compile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// TargetRequest is one output of a project with several (libraries,
// programs, tests), built by BuildTargets.
type TargetRequest struct {
	Name    string
	Request Request // Request.Target names its build state
	// Needs are the targets whose outputs this one links: its link waits
	// for theirs.
	Needs []string
	// Symlinks are names in the output's directory that point at the
	// output (a versioned shared library's soname and link name).
	Symlinks []string
}

// TargetResult is the outcome of one target. Result is nil when the
// target did not start (a library it links failed).
type TargetResult struct {
	Name   string
	Result *Result
	Err    error
}

// BuildTargets builds several outputs of one root as one graph: the
// compiles of every target share one pool of jobs compilers (0: the
// engine's workers), and a target links once the libraries it links are
// linked. A target is relinked when a library it links was (the library's
// stat is among its link inputs). When every target is provably a no-op
// (the watched fast path of each), nothing else runs. A target that fails
// does not stop the others, except those that link it. The error joins
// the targets' errors.
func (e *Engine) BuildTargets(ctx context.Context, reqs []TargetRequest, jobs int, progress func(Event)) ([]TargetResult, error) {
	results := make([]TargetResult, len(reqs))
	index := make(map[string]int, len(reqs))
	for i, r := range reqs {
		index[r.Name] = i
		results[i].Name = r.Name
	}
	for _, r := range reqs {
		for _, n := range r.Needs {
			if _, ok := index[n]; !ok {
				return nil, fmt.Errorf("compile: target %q needs %q, which is not being built", r.Name, n)
			}
		}
	}
	// Every target's lock, in one order, then clearMu (see Engine.clearMu).
	keys := make([]string, 0, len(reqs))
	for _, r := range reqs {
		keys = append(keys, stateKey(filepath.Clean(r.Request.Root), r.Request))
	}
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		unlock, err := e.roots.Lock(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("compile: waiting for another build: %w", err)
		}
		defer unlock()
	}
	e.clearMu.RLock()
	defer e.clearMu.RUnlock()

	var progMu sync.Mutex
	emit := func(ev Event) {
		if progress != nil && ev.Kind != "done" {
			progMu.Lock()
			progress(ev)
			progMu.Unlock()
		}
	}
	count := newTargetCount(len(reqs), emit)

	// Every target a no-op by its own watch, and every symlink in place:
	// the answer costs a few map lookups and stats.
	dirty := make([]bool, len(reqs))
	anyDirty := false
	for i, r := range reqs {
		if r.Request.Clean {
			dirty[i], anyDirty = true, true
			continue
		}
		q := r.Request
		q.NoopOnly, q.locked = true, true
		res, err := e.Build(ctx, q, nil)
		if err != nil || !SymlinksOK(res.Output, r.Symlinks) {
			dirty[i], anyDirty = true, true
			continue
		}
		results[i].Result = res
	}
	if !anyDirty {
		return results, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// A target linking a target that has work to do may have to relink.
	for changed := true; changed; {
		changed = false
		for i, r := range reqs {
			for _, n := range r.Needs {
				if dirty[index[n]] && !dirty[i] {
					dirty[i], changed = true, true
				}
			}
		}
	}

	if jobs <= 0 {
		jobs = e.workers
	}
	slots := make(chan struct{}, jobs)
	done := make([]chan struct{}, len(reqs))
	for i := range done {
		done[i] = make(chan struct{})
		if !dirty[i] {
			close(done[i])
		}
	}
	var wg sync.WaitGroup
	for i, r := range reqs {
		if !dirty[i] {
			count.settle(i)
			continue
		}
		q := r.Request
		q.NoopOnly, q.Slots, q.locked = false, slots, true
		// A target that links one rebuilt now cannot take the watch's
		// word for its inputs: the library changes while it builds. The
		// others can, as they did for their no-op above, and stat only
		// what the watch saw change.
		for _, n := range r.Needs {
			q.NoFast = q.NoFast || dirty[index[n]]
		}
		if q.Jobs <= 0 {
			q.Jobs = jobs
		}
		q.BeforeLink = func() error {
			for _, n := range r.Needs {
				j := index[n]
				select {
				case <-done[j]:
				case <-ctx.Done():
					return ctx.Err()
				}
				if results[j].Err != nil {
					return fmt.Errorf("compile: target %q not linked: library %q failed", r.Name, n)
				}
			}
			return nil
		}
		wg.Go(func() {
			defer close(done[i])
			defer count.settle(i) // a build that ends before it planned
			res, err := e.Build(ctx, q, func(ev Event) { count.event(i, ev) })
			if err == nil {
				err = placeSymlinks(res.Output, r.Symlinks)
			}
			results[i].Result, results[i].Err = res, err
		})
	}
	wg.Wait()
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return results, errors.Join(errs...)
}

// SymlinksOK reports whether every name in out's directory is a symlink
// to out's file name.
func SymlinksOK(out string, names []string) bool {
	for _, n := range names {
		if dst, err := os.Readlink(filepath.Join(filepath.Dir(out), n)); err != nil || dst != filepath.Base(out) {
			return false
		}
	}
	return true
}

// placeSymlinks makes each name in out's directory a symlink to out's file
// name (relative, so the directory can move), replacing what is there
// atomically.
func placeSymlinks(out string, names []string) error {
	dir, base := filepath.Dir(out), filepath.Base(out)
	for _, n := range names {
		p := filepath.Join(dir, n)
		if dst, err := os.Readlink(p); err == nil && dst == base {
			continue
		}
		tmp := fmt.Sprintf("%s.%d.tmp", p, os.Getpid())
		os.Remove(tmp)
		if err := os.Symlink(base, tmp); err != nil {
			return fmt.Errorf("compile: symlink %s: %w", p, err)
		}
		if err := os.Rename(tmp, p); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("compile: symlink %s: %w", p, err)
		}
	}
	return nil
}

// targetCount numbers the progress of several targets' builds as one
// count, as a build of one output shows it: [n/N] where n counts every
// target's compiles and restores and N adds up every target's units to
// do. Each build says its N in a "plan" event before its first compile;
// events are held until every target has planned (or ended, or come to
// its link with nothing to compile), which takes the time of the builds'
// stat and hash checks, before any compiler has finished.
type targetCount struct {
	emit func(Event)

	mu      sync.Mutex // guards the fields below
	planned []bool
	pending int     // targets not planned yet
	total   int     // the sum of the planned targets' units to do
	done    int     // units compiled or restored so far
	held    []Event // events waiting for the last plan
}

func newTargetCount(n int, emit func(Event)) *targetCount {
	return &targetCount{emit: emit, planned: make([]bool, n), pending: n}
}

// event takes one event of target i's build.
func (c *targetCount) event(i int, ev Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch ev.Kind {
	case "done":
		return
	case "plan":
		c.total += ev.Total
		c.settleLocked(i)
	case "link":
		c.settleLocked(i) // nothing to compile: no plan came
		c.held = append(c.held, ev)
	default:
		c.held = append(c.held, ev)
	}
	c.flushLocked()
}

// settle marks target i as planned: it has nothing (more) to count.
func (c *targetCount) settle(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settleLocked(i)
	c.flushLocked()
}

func (c *targetCount) settleLocked(i int) {
	if !c.planned[i] {
		c.planned[i] = true
		c.pending--
	}
}

// flushLocked passes the held events on, numbered, once all have planned.
func (c *targetCount) flushLocked() {
	if c.pending > 0 {
		return
	}
	for _, ev := range c.held {
		if ev.Kind != "link" {
			c.done++
		}
		ev.Done, ev.Total = c.done, max(c.total, c.done)
		c.emit(ev)
	}
	c.held = c.held[:0]
}
