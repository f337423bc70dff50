package project

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Severities of a Diagnostic.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// OptLevels returns the values [target] opt_level accepts, each of which becomes
// -O<level>: a fresh slice the caller may change.
func OptLevels() []string { return []string{"0", "1", "2", "3", "s", "z", "g", "fast"} }

// Linkers are the values of [compile] linker.
var Linkers = []string{"auto", "default", "bfd", "gold", "lld", "mold"}

// Diagnostic is one problem Validate found in a jmake.toml.
type Diagnostic struct {
	Severity string `json:"severity"`         // SeverityError or SeverityWarning
	File     string `json:"file"`             // the jmake.toml
	Line     int    `json:"line,omitempty"`   // 1-based; 0 when the problem has no place in the file
	Column   int    `json:"column,omitempty"` // 1-based byte column; 0 when unknown
	Msg      string `json:"message"`
	// UnknownKey marks a key or table the schema does not know: a warning,
	// or an error under [project] strict = true or `jmake build --strict`.
	UnknownKey bool `json:"unknown_key,omitempty"`
}

// String renders d as file:line:col: severity: msg, the form compilers and
// editors understand; file: severity: msg when d has no position.
func (d Diagnostic) String() string {
	if d.Line == 0 {
		return fmt.Sprintf("%s: %s: %s", d.File, d.Severity, d.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", d.File, d.Line, d.Column, d.Severity, d.Msg)
}

// Validate reads dir/jmake.toml and reports every problem in it: syntax and
// type errors, unknown keys (warnings), and what would make a build fail:
// a missing root, source or include directory, a sources glob that matches
// nothing, an unknown library_type or opt_level, a compiler lookTool cannot
// find (nil lookTool skips that check), no sources at all. The error is for
// a file that cannot be read; problems in it are Diagnostics.
func Validate(dir string, lookTool func(name string) (string, bool)) ([]Diagnostic, error) {
	file := filepath.Join(dir, FileName)
	data, err := ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	return ValidateData(dir, file, data, lookTool), nil
}

// ValidateData is Validate on text already read: data is the content of
// file, a jmake.toml in directory dir. Diagnostics come sorted by position,
// those without a position last.
func ValidateData(dir, file string, data []byte, lookTool func(name string) (string, bool)) []Diagnostic {
	v := &validator{dir: dir, file: file, removed: map[string]bool{}}
	if c, ok := v.decode(data); ok {
		if c.Project.Strict {
			for i := range v.diags {
				if v.diags[i].UnknownKey {
					v.diags[i].Severity = SeverityError
				}
			}
		}
		v.check(c, lookTool)
	}
	sort.SliceStable(v.diags, func(i, j int) bool {
		a, b := v.diags[i], v.diags[j]
		if (a.Line == 0) != (b.Line == 0) {
			return b.Line == 0
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return v.diags
}

// validator collects the diagnostics of one file.
type validator struct {
	dir, file string
	ix        *docIndex
	diags     []Diagnostic
	// removed holds the keys whose expressions had type errors and were left
	// out of the decoded Config; checks that depend on them are skipped so
	// one mistake is not reported twice.
	removed map[string]bool
}

// add records a diagnostic once: stepping over type errors can meet the
// same one again.
func (v *validator) add(sev string, line, col int, format string, args ...any) {
	d := Diagnostic{Severity: sev, File: v.file, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
	if !contains(v.diags, d) {
		v.diags = append(v.diags, d)
	}
}

// at reports a problem with key, at the key's position when it is written.
func (v *validator) at(sev, key string, format string, args ...any) {
	line, col, _ := v.ix.pos(key)
	v.add(sev, line, col, format, args...)
}

// broken reports whether any of keys lost its value to a type error.
func (v *validator) broken(keys ...string) bool {
	for _, k := range keys {
		ks := strings.Split(k, ".")
		for r := range v.removed {
			rs := strings.Split(r, ".")
			if hasPrefix(ks, rs) || hasPrefix(rs, ks) {
				return true
			}
		}
	}
	return false
}

// decode reports syntax errors, every type error and every unknown key, and
// returns the Config decoded from the keys that had no type error. A type
// error stops go-toml, so each one found is blanked out of a copy of the
// text (spaces keep every other position) and decoding runs again.
func (v *validator) decode(data []byte) (*Config, bool) {
	ix, perr := indexDoc(data)
	v.ix = ix
	if perr != nil {
		if _, err := Parse(v.file, data); err != nil {
			var pe *PositionError
			if errors.As(err, &pe) {
				v.add(SeverityError, pe.Line, pe.Column, "%s", pe.Msg)
				return nil, false
			}
		}
		v.add(SeverityError, 0, 0, "%v", perr)
		return nil, false
	}
	text := bytes.Clone(data)
	blanked := map[int]bool{} // expressions already blanked out of text
	for range len(ix.exprs) + 1 {
		var c Config
		dec := toml.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		err := dec.Decode(&c)
		if err == nil {
			return &c, true
		}
		var serr *toml.StrictMissingError
		if errors.As(err, &serr) {
			for i := range serr.Errors {
				e := &serr.Errors[i]
				line, col := e.Position()
				key := strings.Join(e.Key(), ".")
				msg := fmt.Sprintf("unknown key %s%s", key, suggest(e.Key()))
				if strings.Contains(e.Error(), "table") {
					msg = fmt.Sprintf("unknown table [%s]%s", key, suggest(e.Key()))
				}
				d := Diagnostic{Severity: SeverityWarning, File: v.file, Line: line, Column: col, Msg: msg, UnknownKey: true}
				if !contains(v.diags, d) {
					v.diags = append(v.diags, d)
				}
			}
			c, err := Parse(v.file, text)
			if err != nil {
				v.add(SeverityError, 0, 0, "%v", err)
				return nil, false
			}
			return c, true
		}
		var derr *toml.DecodeError
		if !errors.As(err, &derr) {
			v.add(SeverityError, 0, 0, "%v", err)
			return nil, false
		}
		key := derr.Key()
		i, found := ix.find(key, func(i int) bool { return blanked[i] })
		line, col := derr.Position()
		var start, end int
		if found {
			start, end = ix.span(i)
			// go-toml sometimes points at the document's start for a
			// nested value; keep its position only when it is inside the
			// expression it is about.
			if off := posOffset(data, line, col); off < start || off > end {
				line, col = offsetPos(data, ix.exprs[i].keyOff)
			}
		}
		v.add(SeverityError, line, col, "%s", tidyMessage(derr))
		if !found || len(key) == 0 {
			return nil, false // not a type error we can step over
		}
		e := ix.exprs[i]
		blank(text[start:end])
		blanked[i] = true
		v.removed[strings.Join(e.path, ".")] = true
	}
	return nil, false
}

// blank overwrites b with spaces, keeping line breaks so positions after it
// do not move.
func blank(b []byte) {
	for i, c := range b {
		if c != '\n' && c != '\r' {
			b[i] = ' '
		}
	}
}

// check reports the problems that would make a build fail.
func (v *validator) check(c *Config, lookTool func(string) (string, bool)) {
	explicitSrc := c.Paths.Source != ""
	c.Defaults(v.dir)

	if lt := c.Binary.LibraryType; lt != Shared && lt != Static && lt != Executable && !v.broken("binary.library_type") {
		v.at(SeverityError, "binary.library_type", "library_type %q is not one of %s, %s, %s", lt, Shared, Static, Executable)
	}
	if ol := c.Target.OptLevel; ol != "" && !contains(OptLevels(), ol) {
		v.at(SeverityError, "target.opt_level", "opt_level %q is not one of %s", ol, strings.Join(OptLevels(), ", "))
	}
	if l := c.Compile.Linker; l != "" && !contains(Linkers, l) {
		v.at(SeverityError, "compile.linker", "linker %q is not one of %s", l, strings.Join(Linkers, ", "))
	}
	if c.Compile.Jobs < 0 {
		v.at(SeverityError, "compile.jobs", "jobs %d is negative", c.Compile.Jobs)
	}
	// JMake's per-project cache keys are read but not applied: the object
	// cache is the compilation daemon's, shared by every project.
	if c.Cache.Directory != "" {
		v.at(SeverityWarning, "cache.directory", "cache.directory is not applied: the object cache is the compilation daemon's, in $JMAKE_HOME/cache/compilation")
	}
	if c.Cache.MaxSize != "" {
		v.at(SeverityWarning, "cache.max_size", "cache.max_size is not applied: the object cache's limit is cache_max_size in $JMAKE_HOME/config.toml")
	}
	if lookTool != nil {
		for _, t := range []struct{ key, name string }{
			{"compile.compiler", c.Compile.Compiler},
			{"compile.cxx_compiler", c.Compile.CXXCompiler},
		} {
			if t.name == "" {
				continue
			}
			if _, ok := lookTool(t.name); !ok {
				v.at(SeverityError, t.key, "%s %q not found on PATH", t.key[len("compile."):], t.name)
			}
		}
	}

	if v.broken("project.root") {
		return
	}
	root := c.RootDir(v.dir)
	if !isDir(root) {
		v.at(SeverityError, "project.root", "project root %s does not exist", root)
		return
	}
	v.checkIncludeDirs(c, root)
	if !v.broken("paths") {
		for _, key := range c.OutsideRoot(v.dir) {
			v.at(SeverityError, key, "%s", c.outsideMessage(v.dir, key))
		}
	}
	if v.broken("paths", "compile.sources", "compile.exclude") {
		return
	}
	files, _, err := listFiles(root, c.Paths.Build, c.Paths.Output)
	if err != nil {
		v.add(SeverityWarning, 0, 0, "listing %s: %v", root, err)
	}
	if c.HasTargets() {
		v.checkTargets(c, root, files)
		return
	}
	v.checkSources(c, root, files, explicitSrc)
}

// checkIncludeDirs reports include directories that do not exist.
func (v *validator) checkIncludeDirs(c *Config, root string) {
	if v.broken("compile.include_dirs") {
		return
	}
	for i, d := range c.Compile.IncludeDirs {
		abs := d
		if !filepath.IsAbs(d) {
			abs = filepath.Join(root, d)
		}
		if !isDir(abs) {
			v.at(SeverityError, fmt.Sprintf("compile.include_dirs[%d]", i), "include directory %q does not exist (%s)", d, abs)
		}
	}
}

// checkSources reports a missing source directory, globs that are malformed
// or match nothing, and a project with no sources at all.
func (v *validator) checkSources(c *Config, root string, files []string, explicitSrc bool) {
	explicitGlobs := len(c.Compile.Sources) > 0
	srcAbs := c.Paths.Source
	if !filepath.IsAbs(srcAbs) {
		srcAbs = filepath.Join(root, srcAbs)
	}
	srcMissing := !isDir(srcAbs)
	// Explicit globs do not need the source directory, unless it was named.
	if srcMissing && (!explicitGlobs || explicitSrc) {
		v.at(SeverityError, "paths.source", "source directory %q does not exist (%s)", c.Paths.Source, srcAbs)
	}

	var units []string
	for _, f := range files {
		if IsSource(f) {
			units = append(units, f)
		}
	}
	failed := 0
	for i, g := range c.Compile.Sources {
		key := fmt.Sprintf("compile.sources[%d]", i)
		if msg := globProblem(root, g, units); msg != "" {
			v.at(SeverityError, key, "sources glob %q %s", g, msg)
			failed++
		}
	}
	for i, g := range c.Compile.Exclude {
		key := fmt.Sprintf("compile.exclude[%d]", i)
		if msg := globProblem(root, g, units); strings.Contains(msg, "malformed") {
			v.at(SeverityError, key, "exclude glob %q %s", g, msg)
		} else if msg != "" {
			v.at(SeverityWarning, key, "exclude glob %q %s", g, msg)
		}
	}

	if len(c.SelectSources(root, files)) > 0 {
		return
	}
	switch {
	case srcMissing && !explicitGlobs:
		// Already reported: the source directory is missing.
	case explicitGlobs && failed == len(c.Compile.Sources):
		// Already reported: every glob matched nothing.
	case explicitGlobs:
		v.at(SeverityError, "compile.sources", "no C or C++ sources to build: every file the sources globs match is excluded")
	case len(c.Compile.Exclude) > 0 && len((&Config{Paths: c.Paths}).SelectSources(root, files)) > 0:
		v.at(SeverityError, "compile.exclude", "no C or C++ sources to build: every source under %s is excluded", srcAbs)
	default:
		v.at(SeverityError, "paths.source", "no C or C++ sources to build under %s", srcAbs)
	}
}

// globProblem says what is wrong with one glob: malformed, outside root, or
// matching no unit. It returns "" for a glob that matches.
func globProblem(root, g string, units []string) string {
	rel, ok := relToRoot(root, g)
	if !ok {
		return "is outside the project root " + root
	}
	if _, err := MatchGlob(rel, ""); err != nil {
		return "is malformed: " + err.Error()
	}
	for _, u := range units {
		if ok, _ := MatchGlob(rel, u); ok {
			return ""
		}
	}
	return "matches no C or C++ source under " + root
}

// listFiles returns every regular file under root as a slash path relative
// to root, skipping hidden directories (.git, .cache) and the build and
// output directories, which hold what jmake made, not sources; and every
// directory it listed, absolute (root first). A symbolic link to a
// directory is followed unless that directory was listed already (a link
// to an ancestor would loop).
func listFiles(root string, skip ...string) (files, dirs []string, err error) {
	// WalkDir does not follow a symlinked root (a temp dir on macOS is one).
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	skipAbs := map[string]bool{}
	for _, s := range skip {
		if s == "" || s == "." {
			continue
		}
		if !filepath.IsAbs(s) {
			s = filepath.Join(root, s)
		}
		skipAbs[filepath.Clean(s)] = true
	}
	var firstErr error
	var walked walkedDirs
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			if d != nil && d.IsDir() && p != root {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if p != root && (strings.HasPrefix(d.Name(), ".") || skipAbs[p]) {
				return fs.SkipDir
			}
			dirs = append(dirs, p)
			walked.add(p)
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			fi, err := os.Stat(p)
			if err == nil && fi.IsDir() && !strings.HasPrefix(d.Name(), ".") && !skipAbs[p] {
				rel, _ := filepath.Rel(root, p)
				lf, ld := walked.linked(p, filepath.ToSlash(rel))
				files, dirs = append(files, lf...), append(dirs, ld...)
				return nil
			}
			if err != nil || !fi.Mode().IsRegular() {
				return nil
			}
		} else if !d.Type().IsRegular() {
			return nil
		}
		if rel, err := filepath.Rel(root, p); err == nil {
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err == nil {
		err = firstErr
	}
	return files, dirs, err
}

// ValidationInputs lists the paths whose identity Validate's verdict on c,
// the parsed jmake.toml of directory dir, rests on besides the file itself
// and the compilers: the project root and every directory under it that
// validation lists (their entries decide what the sources globs match),
// the source directory and every include directory (which must exist). A
// memo of a verdict stays true while none of them changes (see package
// change).
func ValidationInputs(dir string, c *Config) []string {
	c = c.Clone()
	c.Defaults(dir)
	root := c.RootDir(dir)
	_, dirs, _ := listFiles(root, c.Paths.Build, c.Paths.Output)
	in := append([]string{root}, dirs...)
	for _, d := range append([]string{c.Paths.Source}, c.Compile.IncludeDirs...) {
		if !filepath.IsAbs(d) {
			d = filepath.Join(root, d)
		}
		in = append(in, filepath.Clean(d))
	}
	return in
}

// isDir reports whether p is a directory (following symlinks).
func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// contains reports whether list holds x.
func contains[T comparable](list []T, x T) bool {
	for _, y := range list {
		if y == x {
			return true
		}
	}
	return false
}
