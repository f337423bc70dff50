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
			continue
		}
		q := r.Request
		q.NoopOnly, q.NoFast, q.Slots, q.locked = false, true, slots, true
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
			res, err := e.Build(ctx, q, emit)
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
