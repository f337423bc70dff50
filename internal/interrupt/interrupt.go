// Package interrupt catches Ctrl-C and SIGTERM for a command that, told
// to stop, ends its work itself and reports it, instead of dying at once.
package interrupt

import (
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// Catcher holds SIGINT and SIGTERM from the time Catch is called until
// Stop.
type Catcher struct {
	sigs        chan os.Signal
	interrupted atomic.Bool
}

// Catch starts catching SIGINT and SIGTERM. The first marks the command
// interrupted and calls then (to close its connection or cancel its
// context); those after it are swallowed until Stop, so that the command's
// own ending is not cut short.
func Catch(then func()) *Catcher {
	c := &Catcher{sigs: make(chan os.Signal, 1)}
	signal.Notify(c.sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		if _, ok := <-c.sigs; ok {
			c.interrupted.Store(true)
			then()
		}
	}()
	return c
}

// Interrupted reports whether a signal came; false for a nil Catcher (one
// never started).
func (c *Catcher) Interrupted() bool { return c != nil && c.interrupted.Load() }

// Stop gives SIGINT and SIGTERM back their default action; a nil Catcher
// has nothing to stop.
func (c *Catcher) Stop() {
	if c != nil {
		signal.Stop(c.sigs)
	}
}
