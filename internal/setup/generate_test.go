package setup

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/jmake/jmake/internal/project"
	"github.com/jmake/jmake/internal/testenv"
)

func TestGenerateConfig(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string
		info      func(root string) ProjectInfo
		has       []string
		hasNot    []string
		wantUnits []string
		libType   string
	}{
		{
			name:  "library under src",
			files: map[string]string{"src/a.c": "int a;", "src/sub/b.c": "int b;", "include/x.h": ""},
			info: func(string) ProjectInfo {
				return ProjectInfo{Name: "lib", Sources: []string{"src/a.c", "src/sub/b.c"}, IncludeDirs: []string{"include"}}
			},
			has:       []string{`name = "lib"`, `source = "src"`, `include_dirs = ["include"]`, `library_type = "shared"`, `# c_std = "c11"`},
			hasNot:    []string{"sources =", "cxx_std"},
			wantUnits: []string{"src/a.c", "src/sub/b.c"},
			libType:   project.Shared,
		},
		{
			name:  "program spread over the root, absolute paths",
			files: map[string]string{"main.cpp": "int main(){}", "lib/x.cc": "", "lib/deep/y.cc": "", "util/z.c": "", "tests/t.c": ""},
			info: func(root string) ProjectInfo {
				return ProjectInfo{
					Sources: []string{filepath.Join(root, "main.cpp"), filepath.Join(root, "lib/x.cc"), "lib/deep/y.cc", "util/z.c"},
					HasCXX:  true, HasMain: true,
				}
			},
			has:       []string{`source = "."`, `sources = ["lib/**/*.cc", "main.cpp", "util/**/*.c"]`, `library_type = "executable"`, `# cxx_std = "c++17"`},
			wantUnits: []string{"lib/deep/y.cc", "lib/x.cc", "main.cpp", "util/z.c"},
			libType:   project.Executable,
		},
		{
			name:  "sources outside the project are left out",
			files: map[string]string{"code/a.c": ""},
			info: func(root string) ProjectInfo {
				return ProjectInfo{Sources: []string{"code/a.c", "/elsewhere/b.c", "../c.c"}}
			},
			has:       []string{`source = "code"`},
			wantUnits: []string{"code/a.c"},
			libType:   project.Shared,
		},
		{
			name:  "name needing quotes",
			files: map[string]string{"src/a.c": ""},
			info: func(string) ProjectInfo {
				return ProjectInfo{Name: `my "quoted" lib`, Sources: []string{"src/a.c"}}
			},
			has:       []string{`name = "my \"quoted\" lib"`},
			wantUnits: []string{"src/a.c"},
			libType:   project.Shared,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := testenv.Tree(t, tt.files)
			text, err := New(Options{}).GenerateConfig(root, tt.info(root), false)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range tt.has {
				if !strings.Contains(text, h) {
					t.Errorf("config lacks %q:\n%s", h, text)
				}
			}
			for _, h := range tt.hasNot {
				if strings.Contains(text, h) {
					t.Errorf("config has %q:\n%s", h, text)
				}
			}
			onDisk, _ := os.ReadFile(filepath.Join(root, project.FileName))
			if string(onDisk) != text {
				t.Errorf("returned text differs from the file")
			}
			ds, err := project.Validate(root, nil)
			if err != nil || len(ds) != 0 {
				t.Fatalf("generated config does not validate: %v %v\n%s", err, ds, text)
			}
			cfg, err := project.Load(root)
			if err != nil {
				t.Fatal(err)
			}
			var files []string
			for f := range tt.files {
				files = append(files, f)
			}
			if units := cfg.SelectSources(root, files); !reflect.DeepEqual(units, tt.wantUnits) {
				t.Errorf("units = %q, want %q", units, tt.wantUnits)
			}
			if cfg.Binary.LibraryType != tt.libType {
				t.Errorf("library_type = %q, want %q", cfg.Binary.LibraryType, tt.libType)
			}
		})
	}
}

func TestGenerateConfigForce(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, project.FileName)
	if err := os.WriteFile(file, []byte("# hand written\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := New(Options{})
	info := ProjectInfo{Name: "x", Sources: []string{"src/a.c"}}
	if _, err := s.GenerateConfig(root, info, false); err == nil || !strings.Contains(err.Error(), file) {
		t.Fatalf("err = %v, want a refusal naming %s", err, file)
	}
	if b, _ := os.ReadFile(file); string(b) != "# hand written\n" {
		t.Fatalf("file overwritten without force: %q", b)
	}
	text, err := s.GenerateConfig(file, info, true)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); string(b) != text {
		t.Errorf("force did not overwrite: %q", b)
	}
}

func TestGenerateConfigNoDir(t *testing.T) {
	_, err := New(Options{}).GenerateConfig(filepath.Join(t.TempDir(), "missing"), ProjectInfo{Name: "x"}, false)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want ErrNotExist", err)
	}
}

func TestSourceLayout(t *testing.T) {
	tests := []struct {
		name  string
		srcs  []string
		dir   string
		globs []string
	}{
		{"none", nil, "src", nil},
		{"one dir", []string{"src/a.c", "src/b.c"}, "src", nil},
		{"deepest shared", []string{"lib/core/a.c", "lib/core/x/b.c"}, "lib/core", nil},
		{"shared prefix", []string{"lib/a/x.c", "lib/b/y.c"}, "lib", nil},
		{"root file", []string{"main.c"}, ".", []string{"main.c"}},
		{"spread", []string{"a/x.c", "a/y.cpp", "b/z.c", "a/deep/w.c"}, ".", []string{"a/**/*.c", "a/**/*.cpp", "b/**/*.c"}},
		{"wildcards escaped", []string{"odd[1]/a*.c", "main.c"}, ".", []string{`main.c`, `odd\[1]/**/*.c`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, globs := sourceLayout(tt.srcs)
			if dir != tt.dir || !reflect.DeepEqual(globs, tt.globs) {
				t.Errorf("sourceLayout = %q %q, want %q %q", dir, globs, tt.dir, tt.globs)
			}
			for _, g := range globs {
				matched := false
				for _, s := range tt.srcs {
					if ok, err := project.MatchGlob(g, s); err != nil {
						t.Fatalf("glob %q: %v", g, err)
					} else if ok {
						matched = true
					}
				}
				if !matched {
					t.Errorf("glob %q matches none of %q", g, tt.srcs)
				}
			}
		})
	}
}
