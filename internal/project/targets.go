package project

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Target kinds: what a target builds.
const (
	KindShared  = "shared"  // a shared library
	KindStatic  = "static"  // a static library (ar archive)
	KindProgram = "program" // an executable
	KindTest    = "test"    // an executable that `jmake test` runs; never installed
)

// TargetTable is one [[library]], [[program]] or [[test]] table. Every
// list adds to the project-wide [compile] one; defines are merged, the
// target's value winning.
type TargetTable struct {
	Name          string            `toml:"name"`
	Type          string            `toml:"type,omitempty"`     // [[library]] only: shared (default) or static
	Output        string            `toml:"output,omitempty"`   // file name; default lib<name>.so[.version], lib<name>.a or <name>
	Version       string            `toml:"version,omitempty"`  // shared library: default [project] version
	Soname        string            `toml:"soname,omitempty"`   // shared library: default lib<name>.so.<major> when versioned
	Sources       []string          `toml:"sources,omitempty"`  // globs relative to the root
	Exclude       []string          `toml:"exclude,omitempty"`  // globs removed from sources
	Flags         []string          `toml:"flags,omitempty"`    // after [compile] flags
	CFlags        []string          `toml:"cflags,omitempty"`   // after [compile] cflags
	CXXFlags      []string          `toml:"cxxflags,omitempty"` // after [compile] cxxflags
	CStd          string            `toml:"c_std,omitempty"`    // replaces [compile] c_std
	CXXStd        string            `toml:"cxx_std,omitempty"`  // replaces [compile] cxx_std
	IncludeDirs   []string          `toml:"include_dirs,omitempty"`
	Defines       map[string]string `toml:"defines,omitempty"`
	LinkFlags     []string          `toml:"link_flags,omitempty"`
	LinkLibraries []string          `toml:"link_libraries,omitempty"`
	Links         []string          `toml:"links,omitempty"`          // the project's libraries this target links
	Pkg           []string          `toml:"pkg,omitempty"`            // pkg-config packages
	VersionScript string            `toml:"version_script,omitempty"` // a linker version script, relative to the root
	LinkInputs    []string          `toml:"link_inputs,omitempty"`    // other files the link reads (linker scripts): editing one relinks
}

// InstallSection is [install].
type InstallSection struct {
	// Headers are the public headers `jmake install` copies to
	// <prefix>/include: directories (copied with their tree) or globs,
	// relative to the root. Default: "include" when it exists.
	Headers []string `toml:"headers,omitempty"`
}

// Target is one output of a project, resolved: Config is the
// single-output configuration the compile engine builds it from, with the
// project-wide settings and the target's own merged.
type Target struct {
	Name string
	Kind string
	// Line is where the target is declared in jmake.toml (0 for the
	// single-output form and conventional tests).
	Line   int
	Config *Config
	// Links are the project's libraries this target links, directly or
	// through another library, in link order.
	Links []string
	// Pkg are the pkg-config packages of this target.
	Pkg []string
	// LinkInputs are files the link reads, relative to the root: the
	// project's libraries it links and version or linker scripts.
	LinkInputs []string
	// Symlinks are names the output also answers to, in the output
	// directory (a versioned shared library's soname and link name).
	Symlinks []string
	// Dir is the directory a test runs in, relative to the root.
	Dir string
	// StateKey names the target's build state; "" for the single-output
	// form, whose state is the project's.
	StateKey string
}

// HasTargets reports whether the file declares targets ([[library]],
// [[program]] or [[test]]) rather than one output ([binary]).
func (c *Config) HasTargets() bool {
	return len(c.Library)+len(c.Program)+len(c.Test) > 0
}

// Profile selects compile flags and a build directory of their own.
type Profile struct {
	Name     string   // "", "debug" or "release"
	Sanitize []string // e.g. address, undefined
}

// Profiles returns the values --profile accepts, a fresh slice the caller may change.
func Profiles() []string { return []string{"debug", "release"} }

// Check reports an unknown profile.
func (p Profile) Check() error {
	if p.Name != "" && !slices.Contains(Profiles(), p.Name) {
		return fmt.Errorf("unknown profile %q (profiles: %s)", p.Name, strings.Join(Profiles(), ", "))
	}
	for _, s := range p.Sanitize {
		if s == "" || strings.ContainsAny(s, " ,=") {
			return fmt.Errorf("bad sanitizer name %q", s)
		}
	}
	return nil
}

// dir is the build directory's suffix: "" for the default, else the
// profile's name and sanitizers.
func (p Profile) dir() string {
	parts := []string{}
	if p.Name != "" {
		parts = append(parts, p.Name)
	}
	if len(p.Sanitize) > 0 {
		parts = append(parts, "san-"+strings.Join(p.Sanitize, "-"))
	}
	return strings.Join(parts, "-")
}

// apply adds the profile's flags to a target's config.
func (p Profile) apply(c *Config) {
	switch p.Name {
	case "debug":
		c.Compile.Flags = append(c.Compile.Flags, "-O0", "-g")
	case "release":
		c.Compile.Flags = append(c.Compile.Flags, "-O2", "-DNDEBUG")
	}
	if len(p.Sanitize) > 0 {
		f := "-fsanitize=" + strings.Join(p.Sanitize, ",")
		c.Compile.Flags = append(c.Compile.Flags, f, "-fno-omit-frame-pointer")
		c.Compile.LinkFlags = append(c.Compile.LinkFlags, f)
	}
}

// BuildDir is the build directory for a profile, relative to the root.
func (c *Config) BuildDir(p Profile) string {
	if d := p.dir(); d != "" {
		return filepath.ToSlash(filepath.Join(c.Paths.Build, d))
	}
	return c.Paths.Build
}

// Targets resolves the file's targets for a profile: the [binary] output
// of a file without target tables, else its [[library]], [[program]] and
// [[test]] tables, and the tests the convention finds in the root's tests/
// when no [[test]] is declared. dir holds jmake.toml. Every error names
// jmake.toml and the line of the target it is about.
func (c *Config) Targets(dir string, p Profile) ([]*Target, error) {
	if err := p.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, FileName), err)
	}
	file := filepath.Join(dir, FileName)
	data, _ := os.ReadFile(file)
	lines := targetLines(data)
	root := c.RootDir(dir)
	var ts []*Target
	if !c.HasTargets() {
		t := c.single(p)
		ts = append(ts, t)
	}
	for i := range c.Library {
		ts = append(ts, c.derive(&c.Library[i], "library", lines.at("library", i), p))
	}
	for _, g := range []struct {
		table string
		list  []TargetTable
	}{{"program", c.Program}, {"test", c.Test}} {
		for i := range g.list {
			line := lines.at(g.table, i)
			if len(g.list[i].Sources) == 0 {
				return nil, fmt.Errorf("%s:%d: [[%s]] %q has no sources", file, line, g.table, g.list[i].Name)
			}
			ts = append(ts, c.derive(&g.list[i], g.table, line, p))
		}
	}
	if len(c.Test) == 0 {
		ts = append(ts, c.conventionTests(root, ts, p)...)
	}
	if err := resolveLinks(file, ts); err != nil {
		return nil, err
	}
	return ts, nil
}

// single is the target of a file without [[library]], [[program]] or
// [[test]]: the [binary] output, built exactly as before targets existed.
func (c *Config) single(p Profile) *Target {
	d := c.Clone()
	kind := KindShared
	switch d.Binary.LibraryType {
	case Static:
		kind = KindStatic
	case Executable:
		kind = KindProgram
	}
	d.Paths.Build = c.BuildDir(p)
	if p.dir() != "" {
		d.Paths.Output = d.Paths.Build
	}
	p.apply(d)
	t := &Target{Name: c.Project.Name, Kind: kind, Config: d, Pkg: slices.Clone(c.Compile.Pkg)}
	if p.dir() != "" {
		t.StateKey = "profile:" + p.dir()
	}
	// The soname is [binary] soname (default: the file name), as ever.
	t.finishLibrary("", "")
	return t
}

// derive merges the project-wide settings with one target's.
func (c *Config) derive(s *TargetTable, table string, line int, p Profile) *Target {
	d := c.Clone()
	d.Library, d.Program, d.Test = nil, nil, nil
	t := &Target{Name: s.Name, Line: line, Config: d, StateKey: "target:" + s.Name + "@" + p.dir()}
	switch table {
	case "library":
		t.Kind = KindShared
		if s.Type == Static {
			t.Kind = KindStatic
		}
	case "program":
		t.Kind = KindProgram
	default:
		t.Kind = KindTest
	}
	cm := &d.Compile
	if len(s.Sources) > 0 {
		cm.Sources = slices.Clone(s.Sources)
	}
	cm.Exclude = append(cm.Exclude, s.Exclude...)
	cm.Flags = append(cm.Flags, s.Flags...)
	cm.CFlags = append(cm.CFlags, s.CFlags...)
	cm.CXXFlags = append(cm.CXXFlags, s.CXXFlags...)
	if s.CStd != "" {
		cm.CStd = s.CStd
	}
	if s.CXXStd != "" {
		cm.CXXStd = s.CXXStd
	}
	cm.IncludeDirs = append(cm.IncludeDirs, s.IncludeDirs...)
	if len(s.Defines) > 0 {
		if cm.Defines == nil {
			cm.Defines = map[string]string{}
		}
		maps.Copy(cm.Defines, s.Defines)
	}
	cm.LinkFlags = append(cm.LinkFlags, s.LinkFlags...)
	cm.LinkLibraries = append(cm.LinkLibraries, s.LinkLibraries...)
	cm.Pkg = append(cm.Pkg, s.Pkg...)
	t.Pkg = slices.Clone(cm.Pkg)
	t.Links = slices.Clone(s.Links)
	if s.VersionScript != "" {
		cm.LinkFlags = append(cm.LinkFlags, "-Wl,--version-script="+s.VersionScript)
		t.LinkInputs = append(t.LinkInputs, s.VersionScript)
	}
	t.LinkInputs = append(t.LinkInputs, s.LinkInputs...)
	build := c.BuildDir(p)
	d.Paths.Build = filepath.ToSlash(filepath.Join(build, s.Name+".dir"))
	d.Paths.Output = c.Paths.Output
	if p.dir() != "" || c.Paths.Output == c.Paths.Build {
		d.Paths.Output = build
	}
	p.apply(d)
	switch t.Kind {
	case KindShared:
		d.Binary.LibraryType = Shared
		d.Binary.LibraryName = "lib" + s.Name + ".so"
	case KindStatic:
		d.Binary.LibraryType = Static
		d.Binary.LibraryName = "lib" + s.Name + ".a"
	default:
		d.Binary.LibraryType = Executable
		d.Binary.LibraryName = s.Name
	}
	d.Binary.Soname = ""
	if s.Output != "" {
		d.Binary.LibraryName = s.Output
	}
	if t.Kind == KindShared {
		version := s.Version
		if version == "" {
			version = c.Project.Version
		}
		if s.Output == "" && version != "" {
			d.Binary.LibraryName += "." + version
		}
		t.finishLibrary(version, s.Soname)
	}
	if t.Kind == KindTest && len(s.Sources) > 0 {
		t.Dir = testDir(s.Sources[0])
	}
	return t
}

// finishLibrary sets a shared library's soname and symlinks: for
// lib<x>.so.1.2.3 the soname lib<x>.so.1 (unless set), and links from the
// soname and from lib<x>.so to the file.
func (t *Target) finishLibrary(version, soname string) {
	b := &t.Config.Binary
	if t.Kind != KindShared {
		return
	}
	name := b.LibraryName
	base, _, versioned := strings.Cut(name, ".so.")
	if soname == "" {
		soname = b.Soname
	}
	if soname == "" || soname == name && versioned && version != "" {
		soname = name
		if versioned && version != "" {
			major, _, _ := strings.Cut(version, ".")
			soname = base + ".so." + major
		}
	}
	b.Soname = soname
	if !versioned {
		return
	}
	if soname != name {
		t.Symlinks = append(t.Symlinks, soname)
	}
	if dev := base + ".so"; dev != soname {
		t.Symlinks = append(t.Symlinks, dev)
	}
}

// testDir is the directory of a test's source, where it runs.
func testDir(src string) string {
	d := filepath.ToSlash(filepath.Dir(src))
	if strings.ContainsAny(d, "*?[") {
		return "."
	}
	return d
}

// conventionTests are the tests of a project that declares none: each
// tests/*.c and tests/*.cpp is a test program linking the project's
// libraries.
func (c *Config) conventionTests(root string, ts []*Target, p Profile) []*Target {
	ents, err := os.ReadDir(filepath.Join(root, "tests"))
	if err != nil {
		return nil
	}
	var libs []string
	for _, t := range ts {
		if t.Kind == KindShared || t.Kind == KindStatic {
			libs = append(libs, t.Name)
		}
	}
	taken := map[string]bool{}
	for _, t := range ts {
		taken[t.Name] = true
	}
	var out []*Target
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !IsSource(n) {
			continue
		}
		name := strings.TrimSuffix(n, filepath.Ext(n))
		if taken[name] {
			name = "test_" + name
		}
		taken[name] = true
		s := &TargetTable{Name: name, Sources: []string{"tests/" + n}, Links: libs}
		t := c.derive(s, "test", 0, p)
		// Project-wide sources and excludes are the library's.
		t.Config.Compile.Exclude = nil
		out = append(out, t)
	}
	return out
}

// resolveLinks checks target names and links, orders each target's links
// (a library's own links after it) and adds the libraries' outputs to the
// link. Errors name file:line: a duplicate name or output, an unknown
// library, a link to a program, a cycle.
func resolveLinks(file string, ts []*Target) error {
	at := func(t *Target) string {
		if t.Line > 0 {
			return fmt.Sprintf("%s:%d", file, t.Line)
		}
		return file
	}
	byName := map[string]*Target{}
	outputs := map[string]*Target{}
	for _, t := range ts {
		if t.Name == "" {
			return fmt.Errorf("%s: a target without a name", at(t))
		}
		if o := byName[t.Name]; o != nil {
			return fmt.Errorf("%s: target %q is declared twice (also at %s)", at(t), t.Name, at(o))
		}
		byName[t.Name] = t
		out := filepath.Join(t.Config.Paths.Output, t.Config.Binary.LibraryName)
		for _, n := range append([]string{t.Config.Binary.LibraryName}, t.Symlinks...) {
			k := filepath.Join(t.Config.Paths.Output, n)
			if o := outputs[k]; o != nil {
				return fmt.Errorf("%s: target %q writes %s, as does target %q (%s)", at(t), t.Name, out, o.Name, at(o))
			}
			outputs[k] = t
		}
	}
	// Depth-first over links, in declaration order, to find cycles and
	// each target's link order.
	const (
		unvisited = iota
		visiting
		visited
	)
	state := map[string]int{}
	closure := map[string][]string{}
	var visit func(t *Target, path []string) error
	visit = func(t *Target, path []string) error {
		switch state[t.Name] {
		case visited:
			return nil
		case visiting:
			return fmt.Errorf("%s: targets link each other in a cycle: %s", at(t), strings.Join(append(path, t.Name), " -> "))
		}
		state[t.Name] = visiting
		var order []string
		for _, l := range t.Links {
			d := byName[l]
			if d == nil {
				return fmt.Errorf("%s: target %q links %q, which is not a library of this project", at(t), t.Name, l)
			}
			if d.Kind != KindShared && d.Kind != KindStatic {
				return fmt.Errorf("%s: target %q links %q, which is a %s, not a library", at(t), t.Name, l, d.Kind)
			}
			if err := visit(d, append(path, t.Name)); err != nil {
				return err
			}
			order = append(order, l)
			order = append(order, closure[l]...)
		}
		closure[t.Name] = dedupKeepLast(order)
		state[t.Name] = visited
		return nil
	}
	for _, t := range ts {
		if err := visit(t, nil); err != nil {
			return err
		}
	}
	for _, t := range ts {
		t.Links = closure[t.Name]
		cm := &t.Config.Compile
		var libs []string
		for _, l := range t.Links {
			d := byName[l]
			lib := filepath.ToSlash(filepath.Join(d.Config.Paths.Output, d.Config.Binary.LibraryName))
			libs = append(libs, lib)
			t.LinkInputs = append(t.LinkInputs, lib)
			if d.Kind == KindShared {
				rel, err := filepath.Rel(t.Config.Paths.Output, d.Config.Paths.Output)
				if err != nil {
					rel = "."
				}
				// $ORIGIN: the program runs from the build tree, and from
				// <prefix>/bin once installed beside <prefix>/lib.
				cm.LinkFlags = append(cm.LinkFlags, "-Wl,-rpath,"+filepath.ToSlash(filepath.Join("$ORIGIN", rel))+":$ORIGIN/../lib")
			}
		}
		if len(libs) > 0 {
			cm.LinkLibraries = append(libs, cm.LinkLibraries...)
			cm.LinkFlags = dedupKeepFirst(cm.LinkFlags)
		}
	}
	return nil
}

// dedupKeepLast keeps the last occurrence of each name: a library a later
// one needs goes after it.
func dedupKeepLast(names []string) []string {
	seen := map[string]bool{}
	var out []string
	for i := len(names) - 1; i >= 0; i-- {
		if !seen[names[i]] {
			seen[names[i]] = true
			out = append(out, names[i])
		}
	}
	slices.Reverse(out)
	return out
}

// dedupKeepFirst keeps the first occurrence of each item.
func dedupKeepFirst(items []string) []string {
	seen := map[string]bool{}
	out := items[:0:0]
	for _, s := range items {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Select returns the targets to build for names: all but tests when names
// is empty (tests too when withTests), else the named ones. Every target a
// selected one links comes along. An unknown name is an error listing the
// targets.
func Select(ts []*Target, names []string, withTests bool) ([]*Target, error) {
	byName := map[string]*Target{}
	for _, t := range ts {
		byName[t.Name] = t
	}
	want := map[string]bool{}
	for _, n := range names {
		if byName[n] == nil {
			all := make([]string, 0, len(ts))
			for _, t := range ts {
				all = append(all, t.Name)
			}
			return nil, fmt.Errorf("no target %q (targets: %s)", n, strings.Join(all, ", "))
		}
		want[n] = true
	}
	if len(names) == 0 {
		for _, t := range ts {
			if t.Kind != KindTest || withTests {
				want[t.Name] = true
			}
		}
	}
	for n := range maps.Clone(want) {
		for _, l := range byName[n].Links {
			want[l] = true
		}
	}
	var out []*Target
	for _, t := range ts {
		if want[t.Name] {
			out = append(out, t)
		}
	}
	return out, nil
}

// targetLines finds where each [[library]], [[program]] and [[test]] table
// starts, for errors that name a line.
type tableLines map[string][]int

func targetLines(data []byte) tableLines {
	out := tableLines{}
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "[[") {
			continue
		}
		end := strings.Index(l, "]]")
		if end < 0 {
			continue
		}
		name := strings.TrimSpace(l[2:end])
		out[name] = append(out[name], i+1)
	}
	return out
}

// at is the line of the i-th table of that name, or 0.
func (tl tableLines) at(table string, i int) int {
	if i < len(tl[table]) {
		return tl[table][i]
	}
	return 0
}
