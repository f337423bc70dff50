package change

import "sync"

// Answers remembers, per key (a project root), the answer of the last
// piece of work done in full, with the Set that vouches for it: while the
// Set is Unchanged, the same work would give the same answer, which a
// daemon can then give without doing the work (a no-op build). Work for
// one key must be serialized by the caller: a project's builds are.
//
// The methods of a nil *Answers (no watcher) remember nothing and prove
// nothing.
type Answers[T any] struct {
	w  *Watcher
	mu sync.Mutex // guards m
	m  map[string]*answer[T]
}

type answer[T any] struct {
	set *Set
	val T
}

// NewAnswers returns an empty memo over w's watch; nil when w is nil.
func NewAnswers[T any](w *Watcher) *Answers[T] {
	if w == nil {
		return nil
	}
	return &Answers[T]{w: w, m: make(map[string]*answer[T])}
}

func (a *Answers[T]) get(key string) *answer[T] {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.m[key]
}

// getOrNew returns key's answer, made (with a new Set) if there is none.
func (a *Answers[T]) getOrNew(key string) *answer[T] {
	a.mu.Lock()
	defer a.mu.Unlock()
	an := a.m[key]
	if an == nil {
		an = &answer[T]{set: a.w.NewSet()}
		a.m[key] = an
	}
	return an
}

// Arm is called as the work for key begins: events from now on count
// against its answer (Set.Arm).
func (a *Answers[T]) Arm(key string) {
	if a == nil {
		return
	}
	a.getOrNew(key).set.Arm()
}

// ArmChanged is Arm for work that looks only at what changed since key's
// last piece of work (Set.ArmChanged): it returns that work's answer and
// the paths changed since it began, with ok only if its Settle vouched for
// it and the list is complete.
func (a *Answers[T]) ArmChanged(key string) (val T, paths map[string]bool, ok bool) {
	if a == nil {
		return val, nil, false
	}
	an := a.getOrNew(key)
	paths, ok = an.set.ArmChanged()
	return an.val, paths, ok
}

// Settle records val, the answer of the work armed for key, which read
// inputs and wrote outputs in the given directories, and reports whether
// the watch vouches for it (Set.Settle).
func (a *Answers[T]) Settle(key string, inputs, outputs map[string]bool, val T) bool {
	if a == nil {
		return false
	}
	an := a.get(key)
	if an == nil {
		return false
	}
	ok := an.set.Settle(inputs, outputs)
	an.val = val
	return ok
}

// Disarm stops the watch vouching for key's answer until the next
// successful Settle.
func (a *Answers[T]) Disarm(key string) {
	if an := a.getOrNil(key); an != nil {
		an.set.Disarm()
	}
}

// Quiet returns key's answer if no event was read since it settled, without
// waiting for events in flight (Set.Quiet): the cheap test before
// Unchanged.
func (a *Answers[T]) Quiet(key string) (T, bool) {
	if an := a.getOrNil(key); an != nil && an.set.Quiet() {
		return an.val, true
	}
	var zero T
	return zero, false
}

// Unchanged returns key's answer if nothing changed in its directories
// since it settled, up to the moment of the call (Set.Unchanged).
func (a *Answers[T]) Unchanged(key string) (T, bool) {
	if an := a.getOrNil(key); an != nil && an.set.Unchanged() {
		return an.val, true
	}
	var zero T
	return zero, false
}

func (a *Answers[T]) getOrNil(key string) *answer[T] {
	if a == nil {
		return nil
	}
	return a.get(key)
}
