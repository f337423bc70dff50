package compile

import (
	"fmt"
	"strings"
)

// UnitFailure is one unit that failed to compile.
type UnitFailure struct {
	Unit        string `json:"unit"`        // relative to the root, as in Request.Sources
	Diagnostics string `json:"diagnostics"` // the compiler's output, verbatim (file:line:col as it printed them)
	Err         error  `json:"-"`           // how the compiler exited, or what else went wrong
}

// BuildError reports a build that failed: the units that did not compile,
// each with the compiler's diagnostics, or the link. Units that did compile
// keep their objects and state, so the next build redoes only the failures.
type BuildError struct {
	Root        string        `json:"root"`
	Units       []string      `json:"units,omitempty"`    // the units that failed, sorted
	Failures    []UnitFailure `json:"failures,omitempty"` // one per unit in Units
	Diagnostics string        `json:"diagnostics"`        // every failure's compiler (or linker) output, verbatim
	Link        bool          `json:"link,omitempty"`     // the link failed (no unit did)
	LinkErr     error         `json:"-"`
}

// newBuildError makes the error for failures (sorted by unit).
func newBuildError(root string, failures []UnitFailure) *BuildError {
	e := &BuildError{Root: root, Failures: failures}
	var sb strings.Builder
	for _, f := range failures {
		e.Units = append(e.Units, f.Unit)
		sb.WriteString(f.Diagnostics)
		if f.Diagnostics == "" && f.Err != nil {
			fmt.Fprintf(&sb, "%s: %v\n", f.Unit, f.Err)
		}
	}
	e.Diagnostics = sb.String()
	return e
}

// Error names the failed units (or the link) followed by the diagnostics.
func (e *BuildError) Error() string {
	var sb strings.Builder
	if e.Link {
		fmt.Fprintf(&sb, "compile: %s: link failed: %v", e.Root, e.LinkErr)
	} else {
		fmt.Fprintf(&sb, "compile: %s: %d unit", e.Root, len(e.Units))
		if len(e.Units) != 1 {
			sb.WriteString("s")
		}
		sb.WriteString(" failed: ")
		sb.WriteString(strings.Join(e.Units, ", "))
	}
	if d := strings.TrimRight(e.Diagnostics, "\n"); d != "" {
		sb.WriteString("\n")
		sb.WriteString(d)
	}
	return sb.String()
}

// Summary says what failed in one line, for people: the unit that did
// not compile (the first few when there are many), or the link.
func (e *BuildError) Summary() string {
	if e.Link {
		return "the link failed (the linker's messages are above)"
	}
	const shown = 3 // more names than this is a wall of text; the diagnostics above list them all
	names := strings.Join(e.Units[:min(shown, len(e.Units))], ", ")
	switch n := len(e.Units); {
	case n == 1:
		return names + " did not compile"
	case n <= shown:
		return fmt.Sprintf("%d units did not compile: %s", n, names)
	default:
		return fmt.Sprintf("%d units did not compile: %s and %d more", n, names, n-shown)
	}
}

// Unwrap returns the underlying errors (exit statuses and the like).
func (e *BuildError) Unwrap() []error {
	var errs []error
	for _, f := range e.Failures {
		if f.Err != nil {
			errs = append(errs, f.Err)
		}
	}
	if e.LinkErr != nil {
		errs = append(errs, e.LinkErr)
	}
	return errs
}
