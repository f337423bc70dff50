package main

import (
	"io"
	"os"
	"regexp"

	"golang.org/x/term"
)

// palette colours jmake's own lines, and says whether the compilers may
// colour theirs: only when the stream is a terminal and NO_COLOR
// (no-color.org) is unset or empty, and TERM is not "dumb". Piped output
// never holds an escape sequence.
type palette struct{ on bool }

func newPalette(w io.Writer) palette {
	return palette{on: isTerminal(w) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (p palette) wrap(code, s string) string {
	if !p.on || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// bold, red and green are the SGR attributes GCC uses for its own
// "error:" and notes, so jmake's lines look like the compiler's.
func (p palette) bold(s string) string  { return p.wrap("1", s) }
func (p palette) red(s string) string   { return p.wrap("1;31", s) }
func (p palette) green(s string) string { return p.wrap("32", s) }

// sgr matches the escape sequences compilers colour with (SGR, and the
// erase-in-line GCC puts after each).
var sgr = regexp.MustCompile("\x1b\\[[0-9;]*[mK]")

// text is compiler output as this palette shows it: without its escape
// sequences when colour is off (a unit restored from the cache replays
// what its compile printed, which may have been for a terminal).
func (p palette) text(s string) string {
	if p.on {
		return s
	}
	return sgr.ReplaceAllString(s, "")
}
