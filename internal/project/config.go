// Package project holds the jmake.toml schema: its sections and keys, their
// defaults, and loading with errors that name file:line:column.
//
// The keys are the original JMake's ([project], [paths], [compile], [binary],
// [cache], [target]) plus what real projects need on top: explicit source globs
// and exclude patterns, link flags, and the C and C++ standards.
package project

import (
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/jmake/jmake/internal/buildapi"
)

// FileName is the name of a project's configuration file, at its root.
const FileName = buildapi.ProjectFile

// Library types accepted by [binary] library_type.
const (
	Shared     = "shared"
	Static     = "static"
	Executable = "executable"
)

// Config is a parsed jmake.toml. The zero value of every field means
// "not set"; Defaults fills in what a build needs.
type Config struct {
	Project ProjectSection `toml:"project"`
	Paths   PathsSection   `toml:"paths"`
	Compile CompileSection `toml:"compile"`
	Binary  BinarySection  `toml:"binary"`
	Cache   CacheSection   `toml:"cache"`
	Target  TargetSection  `toml:"target"`
	Install InstallSection `toml:"install"`

	// Library, Program and Test are the project's targets (targets.go);
	// without any, the file describes the one output of [binary].
	Library []TargetTable `toml:"library,omitempty"`
	Program []TargetTable `toml:"program,omitempty"`
	Test    []TargetTable `toml:"test,omitempty"`
}

// ProjectSection is [project].
type ProjectSection struct {
	Name    string `toml:"name"`
	Root    string `toml:"root,omitempty"`    // relative to the file's directory; default "."
	Version string `toml:"version,omitempty"` // informational
	// Strict makes unknown keys and tables errors instead of warnings.
	Strict bool `toml:"strict,omitempty"`
}

// PathsSection is [paths]; every path is relative to the project root.
type PathsSection struct {
	Source string `toml:"source,omitempty"` // default "src"
	Build  string `toml:"build,omitempty"`  // default "build"
	Output string `toml:"output,omitempty"` // where the library or program goes; default = build
	// AllowOutsideRoot lets build and output lie outside the project root;
	// without it such a directory is an error (see inside.go).
	AllowOutsideRoot bool `toml:"allow_outside_root,omitempty"`
}

// CompileSection is [compile].
type CompileSection struct {
	Compiler      string            `toml:"compiler,omitempty"`     // C compiler; default: discovered cc/gcc/clang
	CXXCompiler   string            `toml:"cxx_compiler,omitempty"` // C++ compiler; default: discovered c++/g++/clang++
	Flags         []string          `toml:"flags,omitempty"`        // for C and C++ units
	CFlags        []string          `toml:"cflags,omitempty"`       // C units only
	CXXFlags      []string          `toml:"cxxflags,omitempty"`     // C++ units only
	CStd          string            `toml:"c_std,omitempty"`        // e.g. "c11" -> -std=c11
	CXXStd        string            `toml:"cxx_std,omitempty"`      // e.g. "c++17" -> -std=c++17
	IncludeDirs   []string          `toml:"include_dirs,omitempty"`
	Defines       map[string]string `toml:"defines,omitempty"` // NAME = "value" -> -DNAME=value; "" -> -DNAME
	Sources       []string          `toml:"sources,omitempty"` // globs relative to root ("**" allowed); default: every C/C++ source under paths.source
	Exclude       []string          `toml:"exclude,omitempty"` // globs relative to root, removed from sources
	LinkLibraries []string          `toml:"link_libraries,omitempty"`
	LinkFlags     []string          `toml:"link_flags,omitempty"`
	Pkg           []string          `toml:"pkg,omitempty"`      // pkg-config packages every target uses
	Parallel      *bool             `toml:"parallel,omitempty"` // default true
	Jobs          int               `toml:"jobs,omitempty"`     // default: core count
	// Linker is the linker shared libraries and programs link with:
	// "auto" (the default: the fastest the compiler driver can use),
	// "bfd", "gold", "lld", "mold", or "default" (the driver's own, no
	// -fuse-ld=). A -fuse-ld= in the link flags takes precedence.
	Linker string `toml:"linker,omitempty"`
}

// BinarySection is [binary].
type BinarySection struct {
	LibraryType string `toml:"library_type,omitempty"` // shared | static | executable; default shared
	LibraryName string `toml:"library_name,omitempty"` // file name of the output; default lib<name>.so / lib<name>.a / <name>
	Soname      string `toml:"soname,omitempty"`       // default: LibraryName
	// PartialLink lets a shared library or program of many units be
	// linked from partially linked groups of them (faster relinks); false
	// links from the objects always. Default true.
	PartialLink *bool `toml:"partial_link,omitempty"`
}

// CacheSection is [cache].
type CacheSection struct {
	Enabled   *bool  `toml:"enabled,omitempty"`   // default true
	Directory string `toml:"directory,omitempty"` // default: the compilation daemon's cache dir
	MaxSize   string `toml:"max_size,omitempty"`  // e.g. "5GiB"; default 5 GiB
}

// TargetSection is [target].
type TargetSection struct {
	OptLevel string `toml:"opt_level,omitempty"` // "0".."3", "s", "z", "g" -> -O<level>
	CPU      string `toml:"cpu,omitempty"`       // -march=<cpu>
	LTO      bool   `toml:"lto,omitempty"`       // -flto when compiling and linking
}

// Defaults fills in every unset field a build needs. dir is the directory
// that holds jmake.toml; it names the project when [project] name is unset.
func (c *Config) Defaults(dir string) {
	if c.Project.Name == "" {
		c.Project.Name = filepath.Base(filepath.Clean(dir))
	}
	if c.Project.Root == "" {
		c.Project.Root = "."
	}
	if c.Paths.Source == "" {
		c.Paths.Source = "src"
	}
	if c.Paths.Build == "" {
		c.Paths.Build = "build"
	}
	if c.Paths.Output == "" {
		c.Paths.Output = c.Paths.Build
	}
	if c.Binary.LibraryType == "" {
		c.Binary.LibraryType = Shared
	}
	if c.Binary.LibraryName == "" {
		switch c.Binary.LibraryType {
		case Static:
			c.Binary.LibraryName = "lib" + c.Project.Name + ".a"
		case Executable:
			c.Binary.LibraryName = c.Project.Name
		default:
			c.Binary.LibraryName = "lib" + c.Project.Name + ".so"
		}
	}
	if c.Binary.Soname == "" && c.Binary.LibraryType == Shared {
		c.Binary.Soname = c.Binary.LibraryName
	}
	if c.Compile.Parallel == nil {
		t := true
		c.Compile.Parallel = &t
	}
	if c.Cache.Enabled == nil {
		t := true
		c.Cache.Enabled = &t
	}
}

// CacheEnabled reports whether the object cache is used for this project.
func (c *Config) CacheEnabled() bool { return c.Cache.Enabled == nil || *c.Cache.Enabled }

// RootDir is the absolute project root for a jmake.toml in dir.
func (c *Config) RootDir(dir string) string {
	if filepath.IsAbs(c.Project.Root) {
		return filepath.Clean(c.Project.Root)
	}
	return filepath.Join(dir, c.Project.Root)
}

// DefineFlags renders [compile] defines as -D flags in a stable order.
func (c *Config) DefineFlags() []string {
	names := make([]string, 0, len(c.Compile.Defines))
	for k := range c.Compile.Defines {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]string, 0, len(names))
	for _, k := range names {
		if v := c.Compile.Defines[k]; v != "" {
			out = append(out, "-D"+k+"="+v)
		} else {
			out = append(out, "-D"+k)
		}
	}
	return out
}

// FlagsFor returns the compile flags of one translation unit, in a stable
// order: the language standard (-std=<c_std> for C, -std=<cxx_std> for C++),
// -O<opt_level>, -march=<cpu>, -flto, [compile] flags, then cflags or
// cxxflags, -I<dir> per include directory (relative ones joined to root, the
// project root; an empty root keeps them relative, for a compiler run in
// the root), and the defines. The unit matters only through its language:
// one that is not C++ gets the C flags.
func (c *Config) FlagsFor(root, unit string) []string {
	cxx := IsCXXSource(unit)
	var out []string
	if cxx && c.Compile.CXXStd != "" {
		out = append(out, "-std="+c.Compile.CXXStd)
	} else if !cxx && c.Compile.CStd != "" {
		out = append(out, "-std="+c.Compile.CStd)
	}
	if c.Target.OptLevel != "" {
		out = append(out, "-O"+c.Target.OptLevel)
	}
	if c.Target.CPU != "" {
		out = append(out, "-march="+c.Target.CPU)
	}
	if c.Target.LTO {
		out = append(out, "-flto")
	}
	out = append(out, c.Compile.Flags...)
	if cxx {
		out = append(out, c.Compile.CXXFlags...)
	} else {
		out = append(out, c.Compile.CFlags...)
	}
	for _, d := range c.Compile.IncludeDirs {
		if !filepath.IsAbs(d) && root != "" {
			d = filepath.Join(root, d)
		}
		out = append(out, "-I"+d)
	}
	return append(out, c.DefineFlags()...)
}

// Clone returns a deep copy of c, so a cached Config can be handed out
// without callers changing it under each other.
func (c *Config) Clone() *Config {
	n := *c
	n.Compile.Flags = slices.Clone(c.Compile.Flags)
	n.Compile.CFlags = slices.Clone(c.Compile.CFlags)
	n.Compile.CXXFlags = slices.Clone(c.Compile.CXXFlags)
	n.Compile.IncludeDirs = slices.Clone(c.Compile.IncludeDirs)
	n.Compile.Defines = maps.Clone(c.Compile.Defines)
	n.Compile.Sources = slices.Clone(c.Compile.Sources)
	n.Compile.Exclude = slices.Clone(c.Compile.Exclude)
	n.Compile.LinkLibraries = slices.Clone(c.Compile.LinkLibraries)
	n.Compile.LinkFlags = slices.Clone(c.Compile.LinkFlags)
	n.Compile.Pkg = slices.Clone(c.Compile.Pkg)
	n.Install.Headers = slices.Clone(c.Install.Headers)
	n.Library = cloneTargets(c.Library)
	n.Program = cloneTargets(c.Program)
	n.Test = cloneTargets(c.Test)
	n.Compile.Parallel = cloneBool(c.Compile.Parallel)
	n.Binary.PartialLink = cloneBool(c.Binary.PartialLink)
	n.Cache.Enabled = cloneBool(c.Cache.Enabled)
	return &n
}

func cloneTargets(ts []TargetTable) []TargetTable {
	if ts == nil {
		return nil
	}
	out := make([]TargetTable, len(ts))
	for i, t := range ts {
		t.Sources, t.Exclude = slices.Clone(t.Sources), slices.Clone(t.Exclude)
		t.Flags, t.CFlags, t.CXXFlags = slices.Clone(t.Flags), slices.Clone(t.CFlags), slices.Clone(t.CXXFlags)
		t.IncludeDirs, t.Defines = slices.Clone(t.IncludeDirs), maps.Clone(t.Defines)
		t.LinkFlags, t.LinkLibraries = slices.Clone(t.LinkFlags), slices.Clone(t.LinkLibraries)
		t.Links, t.Pkg, t.LinkInputs = slices.Clone(t.Links), slices.Clone(t.Pkg), slices.Clone(t.LinkInputs)
		out[i] = t
	}
	return out
}

func cloneBool(p *bool) *bool {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// Sections returns the names of the jmake.toml sections, in schema order.
func Sections() []string {
	t := reflect.TypeFor[Config]()
	out := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		out = append(out, tomlName(t.Field(i)))
	}
	return out
}

// Keys returns the keys of a section, in schema order, or nil for a name
// that is not a section.
func Keys(section string) []string {
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		f := t.Field(i)
		if tomlName(f) != section {
			continue
		}
		st := f.Type
		if st.Kind() == reflect.Slice {
			st = st.Elem()
		}
		out := make([]string, 0, st.NumField())
		for j := range st.NumField() {
			out = append(out, tomlName(st.Field(j)))
		}
		return out
	}
	return nil
}

// IsTableArray reports whether section is written as an array of tables
// ([[library]], [[program]], [[test]]) rather than one table.
func IsTableArray(section string) bool {
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if f := t.Field(i); tomlName(f) == section {
			return f.Type.Kind() == reflect.Slice
		}
	}
	return false
}

// tomlName is the key a struct field has in jmake.toml.
func tomlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	return name
}
