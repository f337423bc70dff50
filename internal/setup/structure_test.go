package setup

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/project"
	"github.com/jmake/jmake/internal/testenv"
)

func TestCreateStructure(t *testing.T) {
	tests := []struct {
		typ      string
		dirName  string
		kind     string
		files    []string
		libType  string
		cxx      bool
		greeting string
	}{
		{"c_project", "hello", CProject, []string{"include/hello/hello.h", "src/hello.c", "app/hello.c", "tests/test_hello.c", ".gitignore", "jmake.toml"}, project.Shared, false, ""},
		{"c", "my-lib", CProject, []string{"include/my-lib/my-lib.h", "src/my-lib.c", "app/hello.c", "tests/test_my-lib.c", ".gitignore", "jmake.toml"}, project.Shared, false, ""},
		{"cpp_project", "widget", CXXProject, []string{"include/widget/widget.hpp", "src/widget.cpp", "app/hello.cpp", "tests/test_widget.cpp", ".gitignore", "jmake.toml"}, project.Shared, true, ""},
		{"CPP", "class", CXXProject, []string{"include/class/class.hpp", "src/class.cpp", "app/hello.cpp", "tests/test_class.cpp", ".gitignore", "jmake.toml"}, project.Shared, true, ""},
		{"binary_project", "app", BinaryProject, []string{"include/app/app.h", "src/app.c", "src/main.c", ".gitignore", "jmake.toml"}, project.Executable, false, "Hello from app!"},
		{"binary", "2 fast", BinaryProject, []string{"include/2_fast/2_fast.h", "src/2_fast.c", "src/main.c", ".gitignore", "jmake.toml"}, project.Executable, false, "Hello from 2_fast!"},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.dirName, func(t *testing.T) {
			s := New(Options{})
			root := filepath.Join(t.TempDir(), tt.dirName)
			got, err := s.CreateStructure(root, tt.typ)
			if err != nil {
				t.Fatal(err)
			}
			wantDirs := []string{"src", "include", "include/" + fileName(tt.dirName)}
			if tt.libType == project.Shared {
				wantDirs = append(wantDirs, "app", "tests")
			}
			if got.Root != root || got.Type != tt.kind || !reflect.DeepEqual(got.Files, tt.files) || len(got.Skipped) != 0 || !reflect.DeepEqual(got.Dirs, wantDirs) {
				t.Errorf("Created = %+v, want files %q", got, tt.files)
			}
			ds, err := project.Validate(root, nil)
			if err != nil || len(ds) != 0 {
				t.Fatalf("Validate of the new project: %v %v", err, ds)
			}
			cfg, err := project.Load(root)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Project.Name != tt.dirName || cfg.Binary.LibraryType != tt.libType {
				t.Errorf("config: name %q type %q", cfg.Project.Name, cfg.Binary.LibraryType)
			}
			if gi, _ := os.ReadFile(filepath.Join(root, ".gitignore")); string(gi) != "build/\n" {
				t.Errorf(".gitignore = %q", gi)
			}
			compileProject(t, root, cfg, tt.libType, tt.greeting)
		})
	}
}

// compileProject builds the new project's sources with the real compiler,
// using the flags jmake would, and runs a program.
func compileProject(t *testing.T, root string, cfg *project.Config, libType, greeting string) {
	t.Helper()
	files := testenv.Files(t, root)
	units := cfg.SelectSources(root, files)
	if len(units) == 0 {
		t.Fatal("no units selected")
	}
	driver := "gcc"
	if cfg.IsCXXProject(units) {
		driver = "g++"
	}
	if _, err := exec.LookPath(driver); err != nil {
		t.Skipf("%s not installed", driver)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "out")
	args := []string{"-Werror"}
	for _, u := range units {
		args = append(args, cfg.FlagsFor(root, u)...)
	}
	if libType == project.Shared {
		args = append(args, "-shared", "-fPIC")
	}
	args = append(args, "-o", out)
	for _, u := range units {
		args = append(args, filepath.Join(root, u))
	}
	if b, err := exec.CommandContext(ctx, driver, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", driver, strings.Join(args, " "), err, b)
	}
	if greeting == "" {
		return
	}
	b, err := exec.CommandContext(ctx, out).Output()
	if err != nil || strings.TrimSpace(string(b)) != greeting {
		t.Errorf("program printed %q, %v; want %q", b, err, greeting)
	}
}

func TestCreateStructureRefusesExistingConfig(t *testing.T) {
	root := t.TempDir()
	cfg := filepath.Join(root, project.FileName)
	if err := os.WriteFile(cfg, []byte("# mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New(Options{}).CreateStructure(root, "c")
	if err == nil || !strings.Contains(err.Error(), cfg) {
		t.Fatalf("err = %v, want one naming %s", err, cfg)
	}
	if b, _ := os.ReadFile(cfg); string(b) != "# mine\n" {
		t.Errorf("jmake.toml changed: %q", b)
	}
	if _, err := os.Stat(filepath.Join(root, "src")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("src/ created although the call failed: %v", err)
	}
}

func TestCreateStructureKeepsExistingFiles(t *testing.T) {
	root := filepath.Join(t.TempDir(), "keep")
	if err := os.MkdirAll(filepath.Join(root, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	mine := "out/\n"
	if err := os.WriteFile(filepath.Join(root, ".gitignore"), []byte(mine), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := New(Options{}).CreateStructure(root, "c_project")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Skipped, []string{".gitignore"}) || !reflect.DeepEqual(got.Dirs, []string{"include", "include/keep", "app", "tests"}) {
		t.Errorf("Created = %+v", got)
	}
	if b, _ := os.ReadFile(filepath.Join(root, ".gitignore")); string(b) != mine {
		t.Errorf("existing file overwritten: %q", b)
	}
}

// A tree that has sources gets no template sources beside them.
func TestCreateStructureRefusesTreeWithSources(t *testing.T) {
	root := filepath.Join(t.TempDir(), "old")
	if err := os.MkdirAll(filepath.Join(root, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "lib", "old.c"), []byte("int old;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New(Options{}).CreateStructure(root, "c_project")
	if err == nil || !strings.Contains(err.Error(), "already has sources (lib/old.c)") {
		t.Fatalf("err = %v, want a refusal naming lib/old.c", err)
	}
	for _, p := range []string{"src", "include", "jmake.toml"} {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			t.Errorf("%s written into a tree with sources", p)
		}
	}
}

func TestCreateStructureErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, typ, want string
	}{
		{"unknown type", t.TempDir(), "rust_project", `unknown project type "rust_project"`},
		{"empty path", "", "c", "empty path"},
		{"path is a file", file, "c", "is not a directory"},
		{"root", "/", "c", "cannot name a project"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Options{}).CreateStructure(tt.path, tt.typ)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestIdentifiers(t *testing.T) {
	tests := []struct{ name, file, ident string }{
		{"hello", "hello", "hello"},
		{"My-Lib", "My-Lib", "my_lib"},
		{"2fast", "2fast", "_2fast"},
		{"a b/c", "a_b_c", "a_b_c"},
		{"né", "n_", "n_"},
		{"libfoo++", "libfoo++", "libfoo__"},
	}
	for _, tt := range tests {
		if got := fileName(tt.name); got != tt.file {
			t.Errorf("fileName(%q) = %q, want %q", tt.name, got, tt.file)
		}
		if got := identifier(tt.name); got != tt.ident {
			t.Errorf("identifier(%q) = %q, want %q", tt.name, got, tt.ident)
		}
	}
}

// --type binary makes a C++ program too: src/main.cpp beside the library,
// built with the C++ standard, as an executable.
func TestCreateStructureCXXBinary(t *testing.T) {
	root := filepath.Join(t.TempDir(), "tool")
	c, err := New(Options{}).CreateStructure(root, "cpp-binary")
	if err != nil {
		t.Fatal(err)
	}
	if c.Type != CXXBinaryProject || !slices.Contains(c.Files, "src/main.cpp") || !slices.Contains(c.Files, "src/tool.cpp") {
		t.Fatalf("created %+v", c)
	}
	cfg, err := os.ReadFile(filepath.Join(root, "jmake.toml"))
	if err != nil || !strings.Contains(string(cfg), `cxx_std = "c++17"`) || !strings.Contains(string(cfg), `library_type = "executable"`) {
		t.Fatalf("jmake.toml: %v\n%s", err, cfg)
	}
}
