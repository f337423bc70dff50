package project

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jmake/jmake/internal/change"
	"github.com/jmake/jmake/internal/toolenv"
)

// PkgFlags are one package's pkg-config --cflags and --libs, and the
// .pc file they came from.
type PkgFlags struct {
	CFlags, Libs []string
	// File is the package's .pc file ("" when pkg-config cannot say),
	// and id its identity when pkg-config was asked: a package installed
	// again since (a new version, other flags) is asked about again.
	File string
	id   change.ID
}

// Current reports whether the .pc file is as it was when pkg-config was
// asked (true when its file is unknown: nothing to compare).
func (f PkgFlags) Current() bool {
	if f.File == "" {
		return true
	}
	id, _, err := change.Stat(f.File)
	return err == nil && id == f.id
}

// PkgCurrent reports whether every answer in memo still holds.
func PkgCurrent(memo map[string]PkgFlags) bool {
	for _, f := range memo {
		if !f.Current() {
			return false
		}
	}
	return true
}

// PkgDirs are the directories of the .pc files in memo: a watch over
// them sees a package installed again.
func PkgDirs(memo map[string]PkgFlags) []string {
	var dirs []string
	for _, f := range memo {
		if f.File != "" {
			dirs = append(dirs, filepath.Dir(f.File))
		}
	}
	slices.Sort(dirs)
	return slices.Compact(dirs)
}

// ApplyPkgConfig adds each target's pkg-config packages to it: their
// --cflags to its compile flags and their --libs to its link. pkg-config
// runs as the caller's shell would run it (env: its PATH, PKG_CONFIG_PATH
// and the like). memo holds the answers pkg-config gave already in env
// (nil: ask every time); it is filled in. A package pkg-config does not
// know is an error naming it and the line of jmake.toml (in dir) that
// asks for it.
func ApplyPkgConfig(dir string, ts []*Target, env toolenv.Env, memo map[string]PkgFlags) error {
	file := filepath.Join(dir, FileName)
	if memo == nil {
		memo = map[string]PkgFlags{}
	}
	for _, t := range ts {
		for _, pkg := range t.Pkg {
			got, ok := memo[pkg]
			if !ok || !got.Current() {
				got = PkgFlags{File: pcFile(env, pkg)}
				// The file's identity before its flags: a file written
				// in between is asked about again next time.
				got.id, _, _ = change.Stat(got.File)
				var err error
				got.CFlags, err = pkgConfig(env, "--cflags", pkg)
				if err == nil {
					got.Libs, err = pkgConfig(env, "--libs", pkg)
				}
				if err != nil {
					return fmt.Errorf("%s: pkg-config package %q: %w", AtLine(file, pkgLine(file, pkg)), pkg, err)
				}
				memo[pkg] = got
			}
			t.Config.Compile.Flags = append(t.Config.Compile.Flags, got.CFlags...)
			// After the project's own libraries, which may need them.
			t.Config.Compile.LinkLibraries = append(t.Config.Compile.LinkLibraries, got.Libs...)
		}
	}
	return nil
}

// pcFile is the .pc file pkg-config reads for pkg (pkgconf's and
// pkg-config's --path), or "" when it cannot say.
func pcFile(env toolenv.Env, pkg string) string {
	out, err := pkgConfig(env, "--path", pkg)
	if err != nil || len(out) != 1 || !filepath.IsAbs(out[0]) {
		return ""
	}
	return out[0]
}

// pkgConfig runs pkg-config with one option for pkg in env and returns
// the words it printed.
func pkgConfig(env toolenv.Env, opt, pkg string) ([]string, error) {
	bin, err := env.LookPath("pkg-config")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, opt, "--", pkg)
	cmd.Env = env.Environ()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(errOut.String()); msg != "" {
			return nil, fmt.Errorf("%s", firstLine(msg))
		}
		return nil, fmt.Errorf("pkg-config: %w", err)
	}
	return strings.Fields(out.String()), nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// pkgLine is the first line of file that names pkg in a pkg list, or 0.
func pkgLine(file, pkg string) int {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	quoted := `"` + pkg + `"`
	for i, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && strings.TrimSpace(k) == "pkg" && strings.Contains(v, quoted) {
			return i + 1
		}
	}
	return 0
}

// AtLine is file:line, or file when line is 0.
func AtLine(file string, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", file, line)
	}
	return file
}
