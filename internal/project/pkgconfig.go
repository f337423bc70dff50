package project

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/jmake/jmake/internal/toolenv"
)

// PkgFlags are one package's pkg-config --cflags and --libs.
type PkgFlags struct{ CFlags, Libs []string }

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
			if !ok {
				cflags, err := pkgConfig(env, "--cflags", pkg)
				if err == nil {
					var libs []string
					libs, err = pkgConfig(env, "--libs", pkg)
					got = PkgFlags{cflags, libs}
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
