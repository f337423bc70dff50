// Package render prints what `jmake build` shows: the progress lines, a
// unit's compiler output once under its line, the summary, the final error
// line, and the exit status each outcome gets. The full program and the
// small client both print through it, so a build looks the same from
// either.
package render

import (
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// Palette colours jmake's own lines, and says whether the compilers may
// colour theirs: only when the stream is a terminal and NO_COLOR
// (no-color.org) is unset or empty, and TERM is not "dumb". Piped output
// never holds an escape sequence.
type Palette struct{ On bool }

// NewPalette is the palette for w.
func NewPalette(w io.Writer) Palette {
	return Palette{On: IsTerminal(w) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"}
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (p Palette) wrap(code, s string) string {
	if !p.On || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// Bold, Red and Green are the SGR attributes GCC uses for its own
// "error:" and notes, so jmake's lines look like the compiler's.
func (p Palette) Bold(s string) string { return p.wrap("1", s) }

// Red is bold red, as GCC's "error:".
func (p Palette) Red(s string) string { return p.wrap("1;31", s) }

// Green is GCC's green.
func (p Palette) Green(s string) string { return p.wrap("32", s) }

// Text is compiler output as this palette shows it: without its escape
// sequences when colour is off (a unit restored from the cache replays
// what its compile printed, which may have been for a terminal).
func (p Palette) Text(s string) string {
	if p.On {
		return s
	}
	return StripSGR(s)
}

// StripSGR removes the escape sequences compilers colour with: SGR
// (ESC [ digits-and-semicolons m) and the erase-in-line GCC puts after each
// (ESC [ K). Written by hand rather than with regexp, which would cost the
// small client's start a compiled expression and a large package.
func StripSGR(s string) string {
	if !strings.Contains(s, "\x1b[") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		if j := sgrEnd(s, i); j > 0 {
			i = j
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// sgrEnd is the index just past an SGR or erase-in-line sequence starting
// at s[i], or 0 if none starts there.
func sgrEnd(s string, i int) int {
	if !strings.HasPrefix(s[i:], "\x1b[") {
		return 0
	}
	for j := i + 2; j < len(s); j++ {
		switch c := s[j]; {
		case c >= '0' && c <= '9' || c == ';':
		case c == 'm' || c == 'K':
			return j + 1
		default:
			return 0
		}
	}
	return 0
}
