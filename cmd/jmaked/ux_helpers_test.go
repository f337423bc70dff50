package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/testenv"
)

// sgrColour matches a colour escape sequence (SGR); the status line's
// erase-in-line (ESC [ K) is not colour.
var sgrColour = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// sgr matches what plain removes: colours and erase-in-line.
var sgr = regexp.MustCompile("\x1b\\[[0-9;]*[mK]")

// writeProject writes files (relative path -> content) under a new temp
// dir and returns it; "jmake.toml" defaults to a C program's.
func writeProject(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if _, ok := files["jmake.toml"]; !ok {
		files["jmake.toml"] = "[project]\nname = \"prog\"\n[compile]\nflags = [\"-Wall\"]\n[binary]\nlibrary_type = \"executable\"\n"
	}
	testenv.WriteFiles(t, dir, files)
	return dir
}

// runTerminal runs jmake under a pseudo-terminal made by script(1), as a
// person at a terminal would, and returns what the terminal showed
// (stdout and stderr together) and the exit status.
func runTerminal(t *testing.T, e *testenv.Env, extra []string, args ...string) (string, int) {
	t.Helper()
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) (util-linux) is not installed")
	}
	line := shellQuote(e.Bin)
	for _, a := range args {
		line += " " + shellQuote(a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// -e: script exits with the command's status; /dev/null: no typescript file.
	cmd := exec.CommandContext(ctx, script, "-qec", line, "/dev/null")
	cmd.Env = append(e.Environ(), append([]string{"TERM=xterm"}, extra...)...)
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("script jmake %s: %v", strings.Join(args, " "), err)
	}
	return strings.ReplaceAll(string(out), "\r\n", "\n"), code
}

// plain is terminal output without its escape sequences (colours and
// the status line's erase-in-line).
func plain(s string) string { return sgr.ReplaceAllString(s, "") }

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// writeWrapper writes an executable sh script named name in a new temp dir
// that appends its arguments to log, then runs body; it returns the dir.
func writeWrapper(t *testing.T, name, log, body string) string {
	t.Helper()
	dir := t.TempDir()
	text := "#!/bin/sh\necho \"$*\" >> " + shellQuote(log) + "\n" + body + "\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
