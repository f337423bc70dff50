package render

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/jmake/jmake/internal/buildapi"
)

// Report prints a finished build: the compiler's output once, the
// config's warnings, the explanations, then the summary (or, with asJSON,
// the reply raw). A failed build returns the pipeline's words for why (a
// *BuildFailed), which main prints last; the layered error stays in the
// --json reply.
func Report(res *buildapi.BuildResult, raw []byte, err error, asJSON bool, status *StatusLine, stdout, stderr io.Writer) error {
	errPal := NewPalette(stderr)
	if res != nil {
		// What the status line showed as each unit finished is not
		// printed again; the rest (a failed link's output) is.
		diag := res.Diagnostics
		for _, out := range status.shown {
			diag = strings.Replace(diag, out, "", 1)
		}
		WriteOutput(stderr, errPal, diag)
	}
	if res != nil {
		for _, w := range res.Warnings {
			if !status.warned[w] {
				fmt.Fprintln(stderr, w)
			}
		}
		for _, e := range res.Explain {
			fmt.Fprintln(stderr, "explain:", e)
		}
	}
	if err == nil && res != nil {
		w, pal := stdout, NewPalette(stdout)
		if asJSON {
			w, pal = stderr, errPal
		}
		for _, line := range buildSummary(res) {
			fmt.Fprintln(w, pal.Green("jmake:"), line)
		}
	}
	if asJSON && raw != nil {
		fmt.Fprintln(stdout, strings.TrimSpace(string(raw)))
	}
	if err != nil && res != nil && res.Failure != nil {
		return &BuildFailed{res.Failure}
	}
	return err
}

// WriteOutput prints a compiler's output as pal shows it, ending with a
// newline.
func WriteOutput(w io.Writer, pal Palette, out string) {
	if out == "" {
		return
	}
	fmt.Fprint(w, pal.Text(out))
	if !strings.HasSuffix(out, "\n") {
		fmt.Fprintln(w)
	}
}

// buildSummary is what a successful build ends with: the output, its units
// and what was done; with several targets, a line per target and one with
// the totals.
func buildSummary(res *buildapi.BuildResult) []string {
	rel := func(p string) string {
		if r, err := filepath.Rel(res.Path, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
		return p
	}
	if len(res.Targets) <= 1 {
		return []string{fmt.Sprintf("%s: %d units, %d compiled, %d from cache, %.3f s", rel(res.Output), res.Units, res.Compiled, res.Cached, res.ElapsedSeconds)}
	}
	var lines []string
	for _, t := range res.Targets {
		lines = append(lines, fmt.Sprintf("%s %s: %d units, %d compiled, %d from cache", t.Kind, rel(t.Output), t.Units, t.Compiled, t.Cached))
	}
	return append(lines, fmt.Sprintf("%d targets: %d units, %d compiled, %d from cache, %.3f s", len(res.Targets), res.Units, res.Compiled, res.Cached, res.ElapsedSeconds))
}
