package interrupt

import (
	"syscall"
	"testing"
	"time"
)

// TestCatch: the first SIGINT marks the command interrupted and calls its
// function once; a second is swallowed while the catcher runs.
func TestCatch(t *testing.T) {
	called := make(chan struct{}, 2)
	c := Catch(func() { called <- struct{}{} })
	defer c.Stop()
	if c.Interrupted() {
		t.Fatal("interrupted before any signal")
	}
	for range 2 {
		if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
	}
	// A minute: delivery takes microseconds; only a stuck runtime is slower.
	select {
	case <-called:
	case <-time.After(time.Minute):
		t.Fatal("SIGINT did not reach the catcher")
	}
	if !c.Interrupted() {
		t.Fatal("not marked interrupted after SIGINT")
	}
	select {
	case <-called:
		t.Fatal("the function ran twice")
	default:
	}
}
