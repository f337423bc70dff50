package lifecycle

import (
	"errors"
	"sync"
)

// inParallel calls one for each of names at once and returns the results
// in the order of names, with the errors joined.
func inParallel[R any](names []string, one func(name string) (R, error)) ([]R, error) {
	out := make([]R, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { out[i], errs[i] = one(name) })
	}
	wg.Wait()
	return out, errors.Join(errs...)
}
