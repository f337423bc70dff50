package keylock

import (
	"context"
	"testing"
	"time"
)

// A held key makes a second Lock wait until it is released or its context
// ends; another key is free meanwhile.
func TestLock(t *testing.T) {
	var l Locks
	unlock, err := l.Lock(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	other, err := l.Lock(context.Background(), "b")
	if err != nil {
		t.Fatal("another key was not free:", err)
	}
	other()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Lock(ctx, "a"); err == nil {
		t.Fatal("a held key was taken twice")
	}

	got := make(chan struct{})
	go func() {
		u, err := l.Lock(context.Background(), "a")
		if err == nil {
			u()
		}
		close(got)
	}()
	unlock()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting Lock did not get the released key")
	}
}

// TryLock takes a free key at once and declines a held one, whichever of
// Lock and TryLock holds it.
func TestTryLock(t *testing.T) {
	var l Locks
	unlock, ok := l.TryLock("a")
	if !ok {
		t.Fatal("a free key was refused")
	}
	if _, ok := l.TryLock("a"); ok {
		t.Fatal("a key held by TryLock was taken twice")
	}
	if u, ok := l.TryLock("b"); !ok {
		t.Fatal("another key was not free")
	} else {
		u()
	}
	unlock()
	held, err := l.Lock(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := l.TryLock("a"); ok {
		t.Fatal("a key held by Lock was taken")
	}
	held()
	if u, ok := l.TryLock("a"); !ok {
		t.Fatal("a released key was refused")
	} else {
		u()
	}
}
