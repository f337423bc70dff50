// Package keylock serializes work per key: builds of one project root run
// one after the other, builds of different roots in parallel. Waiting for
// a key gives up when the caller's context ends.
package keylock

import (
	"context"
	"sync"
)

// Locks holds one lock per key. The zero value is ready to use.
type Locks struct {
	mu    sync.Mutex
	chans map[string]chan struct{}
}

// Lock takes key's lock and returns the function that releases it, or
// ctx's error if ctx ends first.
func (l *Locks) Lock(ctx context.Context, key string) (unlock func(), err error) {
	ch := l.chanFor(key)
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// chanFor is key's lock: a channel with room for one holder.
func (l *Locks) chanFor(key string) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.chans == nil {
		l.chans = make(map[string]chan struct{})
	}
	ch := l.chans[key]
	if ch == nil {
		ch = make(chan struct{}, 1)
		l.chans[key] = ch
	}
	return ch
}

// TryLock takes key's lock if no one holds it, without waiting.
func (l *Locks) TryLock(key string) (unlock func(), ok bool) {
	ch := l.chanFor(key)
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, true
	default:
		return nil, false
	}
}
