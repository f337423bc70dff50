package project

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/jmake/jmake/internal/testenv"
)

func TestDefaults(t *testing.T) {
	f := false
	tests := []struct {
		name string
		in   Config
		want func(c *Config) bool
	}{
		{"name from dir", Config{}, func(c *Config) bool { return c.Project.Name == "hello" }},
		{"shared by default", Config{}, func(c *Config) bool {
			return c.Binary.LibraryType == Shared && c.Binary.LibraryName == "libhello.so" && c.Binary.Soname == "libhello.so"
		}},
		{"static name", Config{Binary: BinarySection{LibraryType: Static}}, func(c *Config) bool {
			return c.Binary.LibraryName == "libhello.a" && c.Binary.Soname == ""
		}},
		{"executable name", Config{Binary: BinarySection{LibraryType: Executable}}, func(c *Config) bool {
			return c.Binary.LibraryName == "hello"
		}},
		{"paths", Config{Paths: PathsSection{Build: "out"}}, func(c *Config) bool {
			return c.Paths.Source == "src" && c.Paths.Build == "out" && c.Paths.Output == "out" && c.Project.Root == "."
		}},
		{"cache off kept", Config{Cache: CacheSection{Enabled: &f}}, func(c *Config) bool {
			return !c.CacheEnabled() && *c.Compile.Parallel
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.in
			c.Defaults("/work/hello/")
			if !tt.want(&c) {
				t.Errorf("Defaults gave %+v", c)
			}
		})
	}
}

func TestRootDir(t *testing.T) {
	tests := []struct{ root, dir, want string }{
		{".", "/p", "/p"},
		{"sub", "/p", "/p/sub"},
		{"/abs/x/", "/p", "/abs/x"},
	}
	for _, tt := range tests {
		c := Config{Project: ProjectSection{Root: tt.root}}
		if got := c.RootDir(tt.dir); got != filepath.FromSlash(tt.want) {
			t.Errorf("RootDir(%q) with root %q = %q, want %q", tt.dir, tt.root, got, tt.want)
		}
	}
}

func TestFlagsFor(t *testing.T) {
	full := Config{
		Compile: CompileSection{
			CStd: "c11", CXXStd: "c++17",
			Flags: []string{"-Wall"}, CFlags: []string{"-Wc"}, CXXFlags: []string{"-Wcxx"},
			IncludeDirs: []string{"include", "/usr/include/x"},
			Defines:     map[string]string{"B": "2", "A": ""},
		},
		Target: TargetSection{OptLevel: "2", CPU: "native", LTO: true},
	}
	tests := []struct {
		name string
		cfg  Config
		root string
		unit string
		want []string
	}{
		{"c unit", full, "/p", "src/a.c", []string{
			"-std=c11", "-O2", "-march=native", "-flto", "-Wall", "-Wc", "-I/p/include", "-I/usr/include/x", "-DA", "-DB=2"}},
		{"cxx unit", full, "/p", "src/a.cpp", []string{
			"-std=c++17", "-O2", "-march=native", "-flto", "-Wall", "-Wcxx", "-I/p/include", "-I/usr/include/x", "-DA", "-DB=2"}},
		{"no root keeps relative includes", full, "", "a.C", []string{
			"-std=c++17", "-O2", "-march=native", "-flto", "-Wall", "-Wcxx", "-Iinclude", "-I/usr/include/x", "-DA", "-DB=2"}},
		{"empty config", Config{}, "/p", "a.c", nil},
		{"only cxx std on a c unit", Config{Compile: CompileSection{CXXStd: "c++20"}}, "/p", "a.c", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cfg.FlagsFor(tt.root, tt.unit)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FlagsFor = %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestDefineFlags(t *testing.T) {
	c := Config{Compile: CompileSection{Defines: map[string]string{"Z": "1", "A": "", "M": "x y"}}}
	want := []string{"-DA", "-DM=x y", "-DZ=1"}
	if got := c.DefineFlags(); !reflect.DeepEqual(got, want) {
		t.Errorf("DefineFlags = %q, want %q", got, want)
	}
}

func TestClone(t *testing.T) {
	tr := true
	c := &Config{Compile: CompileSection{
		Flags: []string{"-Wall"}, Defines: map[string]string{"A": "1"}, Parallel: &tr,
		Sources: []string{"src/*.c"},
	}, Cache: CacheSection{Enabled: &tr}}
	n := c.Clone()
	if !reflect.DeepEqual(c, n) {
		t.Fatalf("Clone differs: %+v", n)
	}
	n.Compile.Flags[0] = "-O0"
	n.Compile.Defines["A"] = "2"
	*n.Compile.Parallel = false
	*n.Cache.Enabled = false
	n.Compile.Sources[0] = "x"
	if c.Compile.Flags[0] != "-Wall" || c.Compile.Defines["A"] != "1" || !*c.Compile.Parallel || !*c.Cache.Enabled || c.Compile.Sources[0] != "src/*.c" {
		t.Errorf("changing the clone changed the original: %+v", c)
	}
}

func TestSectionsAndKeys(t *testing.T) {
	want := []string{"project", "paths", "compile", "binary", "cache", "target", "install", "library", "program", "test"}
	if got := Sections(); !reflect.DeepEqual(got, want) {
		t.Errorf("Sections = %q, want %q", got, want)
	}
	tests := []struct {
		section string
		has     string
		n       int
	}{
		{"project", "name", 4},
		{"compile", "linker", 17},
		{"program", "links", 20},
		{"target", "opt_level", 3},
		{"nope", "", 0},
	}
	for _, tt := range tests {
		keys := Keys(tt.section)
		if len(keys) != tt.n {
			t.Errorf("Keys(%q) = %q, want %d keys", tt.section, keys, tt.n)
		}
		if tt.has != "" && !contains(keys, tt.has) {
			t.Errorf("Keys(%q) lacks %q", tt.section, tt.has)
		}
	}
}

// TestDocsMatchSchema keeps docs/jmake-toml.md true to the schema: every
// section and key is documented, and the full example parses with no
// unknown key.
func TestDocsMatchSchema(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "jmake-toml.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	for _, sec := range Sections() {
		if !strings.Contains(text, "## `["+sec+"]`") && !strings.Contains(text, "`[["+sec+"]]`") {
			t.Errorf("docs lack a heading for [%s]", sec)
		}
		for _, k := range Keys(sec) {
			if !strings.Contains(text, "| `"+k+"`") {
				t.Errorf("docs lack a row for [%s] %s", sec, k)
			}
		}
	}
	_, example, ok := strings.Cut(text, "## Full example\n\n```toml\n")
	if !ok {
		t.Fatal("docs lack the full example")
	}
	example, _, _ = strings.Cut(example, "```")
	dir := testenv.Tree(t, map[string]string{"src/a.c": "", "src/b.cpp": "", "src/test_a.c": "", "include/": ""})
	for _, d := range ValidateData(dir, "example.toml", []byte(example), func(string) (string, bool) { return "", true }) {
		t.Errorf("full example: %s", d)
	}
}
