package main

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/jmake/jmake/internal/orchestrator"
)

// statusLine prints build progress: a ninja-style line rewritten in place
// on a terminal, plain lines when piped.
type statusLine struct {
	w     io.Writer
	tty   bool
	quiet bool
	width int
	dirty bool
}

func newStatusLine(w io.Writer, quiet bool) *statusLine {
	s := &statusLine{w: w, quiet: quiet, width: 80}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		s.tty = true
		// A pty may report 0 columns: keep 80 then.
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			s.width = cols
		}
	}
	return s
}

func (s *statusLine) event(ev orchestrator.Event) {
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
	if !s.tty {
		fmt.Fprintln(s.w, line)
		return
	}
	if len(line) > s.width-1 {
		line = line[:s.width-1]
	}
	fmt.Fprintf(s.w, "\r%s\x1b[K", line)
	s.dirty = true
}

func (s *statusLine) finish() {
	if s.dirty {
		fmt.Fprint(s.w, "\r\x1b[K")
		s.dirty = false
	}
}
