package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/jmake/jmake/internal/orchestrator"
)

func reportBuild(res *orchestrator.BuildResult, raw json.RawMessage, err error, f buildFlags, stdout, stderr io.Writer) error {
	if res != nil && res.Diagnostics != "" {
		fmt.Fprint(stderr, res.Diagnostics)
		if !strings.HasSuffix(res.Diagnostics, "\n") {
			fmt.Fprintln(stderr)
		}
	}
	if res != nil {
		for _, w := range res.Warnings {
			fmt.Fprintln(stderr, w)
		}
		for _, e := range res.Explain {
			fmt.Fprintln(stderr, "explain:", e)
		}
	}
	if err == nil && res != nil {
		summary := buildSummary(res)
		if f.asJSON {
			fmt.Fprint(stderr, summary)
		} else {
			fmt.Fprint(stdout, summary)
		}
	}
	if f.asJSON && raw != nil {
		fmt.Fprintln(stdout, strings.TrimSpace(string(raw)))
	}
	if err != nil {
		return fmt.Errorf("build failed: %w", err)
	}
	return nil
}

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

// buildSummary is the line a successful build ends with: the output, its
// units and what was done; with several targets, one line per target and
// one with the totals.
func buildSummary(res *orchestrator.BuildResult) string {
	rel := func(p string) string {
		if r, err := filepath.Rel(res.Path, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
		return p
	}
	var b strings.Builder
	if len(res.Targets) > 1 {
		for _, t := range res.Targets {
			fmt.Fprintf(&b, "jmake: %s %s: %d units, %d compiled, %d from cache\n", t.Kind, rel(t.Output), t.Units, t.Compiled, t.Cached)
		}
		fmt.Fprintf(&b, "jmake: %d targets: %d units, %d compiled, %d from cache, %.3f s\n", len(res.Targets), res.Units, res.Compiled, res.Cached, res.ElapsedSeconds)
		return b.String()
	}
	fmt.Fprintf(&b, "jmake: %s: %d units, %d compiled, %d from cache, %.3f s\n", rel(res.Output), res.Units, res.Compiled, res.Cached, res.ElapsedSeconds)
	return b.String()
}
