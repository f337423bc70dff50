package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

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
