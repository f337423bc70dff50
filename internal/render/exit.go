package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/jmake/jmake/internal/buildapi"
)

// Exit statuses, as documented in README.md.
const (
	ExitOK          = 0   // success
	ExitFailed      = 1   // the build failed: a unit did not compile, or the link
	ExitUsage       = 2   // a bad command line, or a project file with errors
	ExitDaemons     = 3   // the daemons are not running and could not be started
	ExitInterrupted = 130 // interrupted (128 + SIGINT, as shells report it)
)

// BuildFailed is a build that ran and failed, with the pipeline's words
// for why.
type BuildFailed struct{ F *buildapi.Failure }

func (e *BuildFailed) Error() string { return e.F.Msg }

// ExitCode is the exit status of the failure's kind.
func (e *BuildFailed) ExitCode() int {
	switch e.F.Kind {
	case buildapi.FailProject:
		return ExitUsage
	case buildapi.FailDaemon:
		return ExitDaemons
	}
	return ExitFailed
}

// FinalError prints the error a command ended with as jmake's last line:
// "jmake: interrupted" for ExitInterrupted, nothing for an empty error,
// and a pointer to --help after a one-line usage error (usage: the
// command line was not understood).
func FinalError(w io.Writer, err error, code int, usage bool) {
	prefix := NewPalette(w).Red("jmake:")
	switch {
	case code == ExitInterrupted:
		fmt.Fprintln(w, prefix, "interrupted")
	case err == nil || err.Error() == "":
	case usage && !strings.Contains(err.Error(), "\n"):
		fmt.Fprintf(w, "%s %v (see `jmake --help`)\n", prefix, err)
	default:
		fmt.Fprintln(w, prefix, err)
	}
}
