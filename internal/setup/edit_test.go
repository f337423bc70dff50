package setup

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/jmake/jmake/internal/project"
	"github.com/jmake/jmake/internal/testenv"
)

const projectToml = `# demo project
[project]
name = "demo" # keep this comment

[compile]
# flags for every unit
flags = ["-Wall"]
jobs = 2
compiler = "gcc"

[binary]
library_type = "static"
`

// newProject makes a project with a source and the given jmake.toml.
func newProject(t *testing.T, toml string) string {
	t.Helper()
	return testenv.Tree(t, map[string]string{"src/a.c": "int a;", project.FileName: toml})
}

func TestValidateConfig(t *testing.T) {
	look := func(name string) (string, bool) { return "/bin/" + name, name == "gcc" }
	tests := []struct {
		name         string
		toml         string
		valid        bool
		errs, warns  int
		firstErrPart string
	}{
		{"valid", projectToml, true, 0, 0, ""},
		{"warning only", projectToml + "color = true\n", true, 0, 1, ""},
		{"errors and warnings", "[compile]\ncompiler = \"tcc\"\nfoo = 1\n[binary]\nlibrary_type = \"dll\"\n", false, 2, 1, `jmake.toml:2:1: error: compiler "tcc" not found`},
		{"syntax", "[compile\n", false, 1, 0, "jmake.toml:1:9: error:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newProject(t, tt.toml)
			v, err := New(Options{LookTool: look}).ValidateConfig(root)
			if err != nil {
				t.Fatal(err)
			}
			if v.Valid != tt.valid || len(v.Errors) != tt.errs || len(v.Warnings) != tt.warns {
				t.Fatalf("Validation = %+v", v)
			}
			if tt.firstErrPart != "" && !strings.Contains(v.Errors[0].String(), tt.firstErrPart) {
				t.Errorf("first error %q lacks %q", v.Errors[0], tt.firstErrPart)
			}
		})
	}
	if _, err := New(Options{}).ValidateConfig(t.TempDir()); err == nil {
		t.Error("no error for a directory without jmake.toml")
	}
}

func TestValidateConfigUsesCache(t *testing.T) {
	s := New(Options{})
	root := newProject(t, projectToml)
	for i, want := range []bool{false, true} {
		v, err := s.ValidateConfig(root)
		if err != nil {
			t.Fatal(err)
		}
		if v.Cached != want || !v.Valid {
			t.Errorf("call %d: %+v, want cached %v", i, v, want)
		}
	}
	if _, cached, err := s.Config(root); err != nil || !cached {
		t.Errorf("Config after ValidateConfig: cached %v err %v", cached, err)
	}
	// Diagnostics are not cached: they follow the file system.
	if err := os.Remove(filepath.Join(root, "src", "a.c")); err != nil {
		t.Fatal(err)
	}
	v, err := s.ValidateConfig(root)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Cached || v.Valid || len(v.Errors) != 1 {
		t.Errorf("after removing the only source: %+v", v)
	}
}

func TestGetConfigSection(t *testing.T) {
	root := newProject(t, projectToml)
	tests := []struct {
		section string
		want    map[string]any
		wantErr string
	}{
		{"project", map[string]any{"name": "demo"}, ""},
		{"compile", map[string]any{"flags": []any{"-Wall"}, "jobs": int64(2), "compiler": "gcc"}, ""},
		{"target", map[string]any{}, ""},
		{"linker", nil, "unknown section [linker]"},
	}
	s := New(Options{})
	for _, tt := range tests {
		t.Run(tt.section, func(t *testing.T) {
			got, err := s.GetConfigSection(filepath.Join(root, project.FileName), tt.section)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("section = %#v, want %#v", got, tt.want)
			}
		})
	}
	bad := newProject(t, "[project]\nname = 1\n")
	if _, err := s.GetConfigSection(bad, "project"); err == nil || !strings.Contains(err.Error(), "jmake.toml:2:8") {
		t.Errorf("err = %v, want a positioned type error", err)
	}
}

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func TestUpdateConfig(t *testing.T) {
	tests := []struct {
		name    string
		section string
		data    map[string]any
		want    string
		wantErr string
	}{
		{"set a key", "compile", map[string]any{"jobs": float64(16)}, strings.Replace(projectToml, "jobs = 2", "jobs = 16", 1), ""},
		{"add and remove", "compile", map[string]any{"compiler": nil, "cxx_std": "c++20"},
			strings.Replace(projectToml, "compiler = \"gcc\"\n", "cxx_std = \"c++20\"\n", 1), ""},
		{"append a section", "target", map[string]any{"opt_level": "3", "lto": true},
			projectToml + "\n[target]\nlto = true\nopt_level = \"3\"\n", ""},
		{"no change", "binary", map[string]any{"library_type": "static"}, projectToml, ""},
		{"invalid result", "compile", map[string]any{"jobs": "many"}, projectToml, "compile.jobs: expected an integer"},
		{"unknown key", "binary", map[string]any{"kind": "x"}, projectToml, `unknown key "kind"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newProject(t, projectToml)
			file := filepath.Join(root, project.FileName)
			if err := os.Chmod(file, 0o600); err != nil {
				t.Fatal(err)
			}
			before := inode(t, file)
			err := New(Options{}).UpdateConfig(root, tt.section, tt.data)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(file)
			if string(got) != tt.want {
				t.Errorf("file =\n%s\nwant\n%s", got, tt.want)
			}
			changed := tt.want != projectToml
			if after := inode(t, file); (after != before) != changed {
				t.Errorf("inode changed = %v, want %v (atomic replace only on change)", after != before, changed)
			}
			if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
				t.Errorf("mode = %v, want 0600 kept", fi.Mode().Perm())
			}
			entries, _ := os.ReadDir(root)
			if len(entries) != 2 {
				t.Errorf("stray files: %v", entries)
			}
		})
	}
	if err := New(Options{}).UpdateConfig(t.TempDir(), "project", map[string]any{"name": "x"}); err == nil {
		t.Error("no error updating a missing file")
	}
}

func TestUpdateConfigConcurrent(t *testing.T) {
	root := newProject(t, "[project]\nname = \"x\"\n")
	s := New(Options{})
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.UpdateConfig(root, "compile", map[string]any{"defines": nil, "cflags": []string{fmt.Sprint("-DX", i)}}); err != nil {
				t.Error(err)
			}
			if err := s.UpdateConfig(root, "target", map[string]any{"cpu": fmt.Sprint("cpu", i)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	cfg, err := project.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Compile.CFlags) != 1 || !strings.HasPrefix(cfg.Target.CPU, "cpu") || cfg.Project.Name != "x" {
		t.Errorf("after concurrent updates: %+v", cfg)
	}
}
