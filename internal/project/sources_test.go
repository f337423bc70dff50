package project

import (
	"path"
	"reflect"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		path        string
		c, cxx, hdr bool
	}{
		{"a.c", true, false, false},
		{"src/a.C", false, true, false},
		{"a.cc", false, true, false},
		{"a.cpp", false, true, false},
		{"a.cxx", false, true, false},
		{"a.c++", false, true, false},
		{"a.h", false, false, true},
		{"a.hh", false, false, true},
		{"a.hpp", false, false, true},
		{"a.hxx", false, false, true},
		{"a.h++", false, false, true},
		{"a.inc", false, false, true},
		{"a.ipp", false, false, true},
		{"a.tpp", false, false, true},
		{"a.o", false, false, false},
		{"Makefile", false, false, false},
		{"dir.c/file", false, false, false},
		{`win\dir\x.cpp`, false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := IsCSource(tt.path); got != tt.c {
				t.Errorf("IsCSource = %v", got)
			}
			if got := IsCXXSource(tt.path); got != tt.cxx {
				t.Errorf("IsCXXSource = %v", got)
			}
			if got := IsHeader(tt.path); got != tt.hdr {
				t.Errorf("IsHeader = %v", got)
			}
			if got := IsSource(tt.path); got != (tt.c || tt.cxx) {
				t.Errorf("IsSource = %v", got)
			}
		})
	}
}

func TestMatchGlob(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
		bad           bool
	}{
		{"src/*.c", "src/a.c", true, false},
		{"src/*.c", "src/x/a.c", false, false},
		{"./src/*.c", "src/a.c", true, false},
		{"src/*.c", "./src/a.c", true, false},
		{"src/**/*.c", "src/a.c", true, false},
		{"src/**/*.c", "src/x/y/a.c", true, false},
		{"src/**/*.c", "lib/a.c", false, false},
		{"**/*.c", "a.c", true, false},
		{"**/*.c", "a/b/c/d.c", true, false},
		{"**", "a/b.c", true, false},
		{"src/**", "src/a/b.c", true, false},
		{"**/test/**", "x/test/y/z.c", true, false},
		{"**/test/**", "x/tests/z.c", false, false},
		{"src/**/**/*.c", "src/a.c", true, false},
		{"src/?.c", "src/a.c", true, false},
		{"src/?.c", "src/ab.c", false, false},
		{"src/[ab].c", "src/b.c", true, false},
		{"src/[!ab].c", "src/b.c", false, false},
		{"src/[a-c]*.cpp", "src/cat.cpp", true, false},
		{"src/[^ab].c", "src/c.c", true, false},
		{"src/[!ab].c", "src/c.c", true, false},
		{`src/\[!x].c`, "src/[!x].c", true, false},
		{"src/a.c", "src/a.c", true, false},
		{"src/*", "src/a/b.c", false, false},
		{"src/[", "src/a.c", false, true},
		{"**/[", "src/a.c", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"~"+tt.name, func(t *testing.T) {
			got, err := MatchGlob(tt.pattern, tt.name)
			if (err != nil) != tt.bad {
				t.Fatalf("err = %v, want bad=%v", err, tt.bad)
			}
			if err != nil && err != path.ErrBadPattern {
				t.Errorf("err = %v, want path.ErrBadPattern", err)
			}
			if got != tt.want {
				t.Errorf("MatchGlob(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
			}
		})
	}
}

func TestSelectSources(t *testing.T) {
	files := []string{
		"src/a.c", "src/b.cpp", "src/a.h", "src/sub/c.cc", "src/sub/test_c.cc",
		"lib/l.c", "tests/t.c", "main.c", "README.md", "src/x.C", "src/a.c",
	}
	tests := []struct {
		name   string
		cfg    Config
		root   string
		files  []string
		want   []string
		wantCX bool
	}{
		{
			name:   "default source dir",
			want:   []string{"src/a.c", "src/b.cpp", "src/sub/c.cc", "src/sub/test_c.cc", "src/x.C"},
			wantCX: true,
		},
		{
			name: "source dot means everything",
			cfg:  Config{Paths: PathsSection{Source: "."}},
			want: []string{"lib/l.c", "main.c", "src/a.c", "src/b.cpp", "src/sub/c.cc", "src/sub/test_c.cc", "src/x.C", "tests/t.c"},
		},
		{
			name: "other source dir",
			cfg:  Config{Paths: PathsSection{Source: "./lib/"}},
			want: []string{"lib/l.c"},
		},
		{
			name: "globs",
			cfg:  Config{Compile: CompileSection{Sources: []string{"src/*.c", "lib/**/*.c", "main.c"}}},
			want: []string{"lib/l.c", "main.c", "src/a.c"},
		},
		{
			name: "globs then exclude",
			cfg: Config{Compile: CompileSection{
				Sources: []string{"src/**/*.cc", "src/*.cpp"},
				Exclude: []string{"**/test_*"},
			}},
			want: []string{"src/b.cpp", "src/sub/c.cc"},
		},
		{
			name: "exclude with default dir",
			cfg:  Config{Compile: CompileSection{Exclude: []string{"src/sub/**", "src/*.C"}}},
			want: []string{"src/a.c", "src/b.cpp"},
		},
		{
			name: "glob matching headers only yields nothing",
			cfg:  Config{Compile: CompileSection{Sources: []string{"src/*.h"}}},
			want: nil,
		},
		{
			name: "malformed glob matches nothing",
			cfg:  Config{Compile: CompileSection{Sources: []string{"src/[", "main.c"}}},
			want: []string{"main.c"},
		},
		{
			name:  "absolute files, globs and source dir under root",
			cfg:   Config{Paths: PathsSection{Source: "/p/src"}, Compile: CompileSection{Exclude: []string{"/p/src/b.cpp"}}},
			root:  "/p",
			files: []string{"/p/src/a.c", "/p/src/b.cpp", "/q/src/c.c", "lib/l.c"},
			want:  []string{"src/a.c"},
		},
		{
			name: "absolute glob outside root",
			cfg:  Config{Compile: CompileSection{Sources: []string{"/elsewhere/*.c"}}},
			root: "/p",
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.files
			if in == nil {
				in = files
			}
			got := tt.cfg.SelectSources(tt.root, in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SelectSources = %q, want %q", got, tt.want)
			}
			if cx := tt.cfg.IsCXXProject(got); cx != (tt.wantCX || hasCXX(tt.want)) {
				t.Errorf("IsCXXProject = %v", cx)
			}
		})
	}
}

func hasCXX(units []string) bool {
	for _, u := range units {
		if IsCXXSource(u) {
			return true
		}
	}
	return false
}
