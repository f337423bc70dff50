package render

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/jmake/jmake/internal/buildapi"
)

// StatusLine prints build progress: a ninja-style line rewritten in place
// on a terminal, plain lines when piped; a unit's compiler output right
// below its line, as the unit finishes.
type StatusLine struct {
	w     io.Writer
	pal   Palette
	tty   bool
	quiet bool
	// shown holds the compiler outputs printed as their units finished,
	// which the report leaves out of the build's diagnostics.
	shown []string
	// warned holds the config's warnings printed as they came, before
	// the compiles, so that the report does not print them again.
	warned map[string]bool
	width  int
	dirty  bool
}

// NewStatusLine prints progress to w; quiet (--json) prints only the
// config's warnings.
func NewStatusLine(w io.Writer, quiet bool) *StatusLine {
	s := &StatusLine{w: w, pal: NewPalette(w), quiet: quiet, width: 80}
	// A dumb terminal cannot erase a line: it gets plain lines, as a pipe.
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb" {
		s.tty = true
		// A pty may report 0 columns: keep 80 then.
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			s.width = cols
		}
	}
	return s
}

// Event prints one progress event.
func (s *StatusLine) Event(ev buildapi.Event) {
	if ev.Event == "warning" {
		s.Finish()
		fmt.Fprintln(s.w, ev.Msg)
		if s.warned == nil {
			s.warned = make(map[string]bool)
		}
		s.warned[ev.Msg] = true
		return
	}
	if s.quiet {
		return
	}
	var verb string
	switch ev.Event {
	case "compile":
		verb = "CC"
	case "cache":
		verb = "CACHED"
	case "link":
		verb = "LINK"
	default:
		return
	}
	line := fmt.Sprintf("[%d/%d] %s %s", ev.Done, ev.Total, verb, ev.Unit)
	switch {
	case !s.tty:
		fmt.Fprintln(s.w, line)
	case ev.Output != "":
		// The line stays, above the unit's output, as ninja leaves it.
		fmt.Fprintf(s.w, "\r%s\x1b[K\n", line)
		s.dirty = false
	default:
		if len(line) > s.width-1 {
			line = line[:s.width-1]
		}
		fmt.Fprintf(s.w, "\r%s\x1b[K", line)
		s.dirty = true
	}
	if ev.Output != "" {
		WriteOutput(s.w, s.pal, ev.Output)
		s.shown = append(s.shown, ev.Output)
	}
}

// Finish erases a status line left on a terminal.
func (s *StatusLine) Finish() {
	if s.dirty {
		fmt.Fprint(s.w, "\r\x1b[K")
		s.dirty = false
	}
}
