package project

import (
	"fmt"
	"path/filepath"
	"strings"
)

// This file keeps what a build writes inside the project. The build and
// output directories are created and written by every build, and removed
// by `jmake clean`; one that resolves outside the root (`build =
// "../../outside"`) is an error unless [paths] allow_outside_root says the
// user means it. The check is lexical: a symlink inside the root that
// points elsewhere is the user's own doing.

// outsideRoot reports whether p (absolute, or relative to root) lies
// outside root.
func outsideRoot(root, p string) bool {
	if !filepath.IsAbs(p) {
		p = filepath.Join(root, p)
	}
	rel, err := filepath.Rel(root, filepath.Clean(p))
	if err != nil {
		return true
	}
	rel = filepath.ToSlash(rel)
	return rel == ".." || strings.HasPrefix(rel, "../")
}

// OutsideRoot returns the [paths] keys (paths.build, paths.output) whose
// directory lies outside the project root of a jmake.toml in dir, unless
// allow_outside_root is set. An output left to default to the build
// directory is not reported twice. Defaults must have been applied.
func (c *Config) OutsideRoot(dir string) []string {
	if c.Paths.AllowOutsideRoot {
		return nil
	}
	root := c.RootDir(dir)
	var keys []string
	if outsideRoot(root, c.Paths.Build) {
		keys = append(keys, "paths.build")
	}
	if c.Paths.Output != c.Paths.Build && outsideRoot(root, c.Paths.Output) {
		keys = append(keys, "paths.output")
	}
	return keys
}

// outsideMessage is the diagnostic for key, one of OutsideRoot's.
func (c *Config) outsideMessage(dir, key string) string {
	val := c.Paths.Build
	if key == "paths.output" {
		val = c.Paths.Output
	}
	return fmt.Sprintf("%s %q is outside the project root %s (set [paths] allow_outside_root = true to write there)",
		key, val, c.RootDir(dir))
}

// checkInside returns a *PositionError at the first key of OutsideRoot, or
// nil. file and data are the jmake.toml c was decoded from.
func (c *Config) checkInside(dir, file string, data []byte) error {
	keys := c.OutsideRoot(dir)
	if len(keys) == 0 {
		return nil
	}
	e := &PositionError{File: file, Msg: c.outsideMessage(dir, keys[0])}
	if ix, _ := indexDoc(data); ix != nil {
		e.Line, e.Column, _ = ix.pos(keys[0])
	}
	return e
}
