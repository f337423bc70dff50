package main

import (
	"errors"
	"net/http"

	"github.com/jmake/jmake/internal/client"
	"github.com/jmake/jmake/internal/render"
)

// Exit statuses, as documented in README.md and defined in render (the
// small client gives the same). Only main maps errors to them
// (exitStatus).
const (
	exitOK          = render.ExitOK
	exitFailed      = render.ExitFailed
	exitUsage       = render.ExitUsage
	exitDaemons     = render.ExitDaemons
	exitInterrupted = render.ExitInterrupted
)

// usageError is a command line jmake cannot run: a wrong flag or argument.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// projectError is a project file that is wrong or in the way (init over
// an existing jmake.toml, clean of a directory that is no project).
type projectError struct{ err error }

func (e *projectError) Error() string { return e.err.Error() }
func (e *projectError) Unwrap() error { return e.err }

// daemonsUnavailable is a command that needed daemons that were not
// running and could not be started.
type daemonsUnavailable struct{ err error }

func (e *daemonsUnavailable) Error() string { return "the daemons could not start: " + e.err.Error() }
func (e *daemonsUnavailable) Unwrap() error { return e.err }

// exitError carries an explicit exit status (status exits 3 when a daemon
// is not running, as LSB init scripts do). An empty message prints
// nothing.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// exitStatus is the exit status of a command that returned err; parsed
// says whether cobra got as far as running the command (an error before
// that is a usage error), interrupted whether a signal cancelled it.
func exitStatus(err error, parsed, interrupted bool) int {
	var ee *exitError
	var ue *usageError
	var pe *projectError
	var bf *render.BuildFailed
	var du *daemonsUnavailable
	var down *client.DownError
	var ce *client.CallError
	switch {
	case err == nil:
		return exitOK
	case interrupted:
		return exitInterrupted
	case errors.As(err, &ee):
		return ee.code
	case !parsed || errors.As(err, &ue), errors.As(err, &pe):
		return exitUsage
	case errors.As(err, &bf):
		return bf.ExitCode()
	case errors.As(err, &du), errors.As(err, &down), client.Interrupted(err),
		errors.As(err, &ce) && ce.Status == http.StatusServiceUnavailable:
		return exitDaemons
	}
	return exitFailed
}
