package main

import (
	"errors"
	"net/http"

	"github.com/jmake/jmake/internal/client"
	"github.com/jmake/jmake/internal/orchestrator"
)

// Exit statuses, as documented in README.md. Only main maps errors to
// them (exitStatus).
const (
	exitOK          = 0   // success
	exitFailed      = 1   // the build failed: a unit did not compile, or the link
	exitUsage       = 2   // a bad command line, or a project file with errors
	exitDaemons     = 3   // the daemons are not running and could not be started
	exitInterrupted = 130 // interrupted (128 + SIGINT, as shells report it)
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

// buildFailed is a build that ran and failed, with the pipeline's words
// for why.
type buildFailed struct{ f *orchestrator.Failure }

func (e *buildFailed) Error() string { return e.f.Msg }

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
	var bf *buildFailed
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
		switch bf.f.Kind {
		case orchestrator.FailProject:
			return exitUsage
		case orchestrator.FailDaemon:
			return exitDaemons
		}
		return exitFailed
	case errors.As(err, &du), errors.As(err, &down), client.Interrupted(err),
		errors.As(err, &ce) && ce.Status == http.StatusServiceUnavailable:
		return exitDaemons
	}
	return exitFailed
}
