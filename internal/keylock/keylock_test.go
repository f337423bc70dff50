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
