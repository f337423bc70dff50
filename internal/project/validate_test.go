package project

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmake/jmake/internal/testenv"
)

// want is one expected diagnostic: its severity, position and a piece of its
// message.
type want struct {
	sev       string
	line, col int
	msg       string
}

func TestValidate(t *testing.T) {
	lib := map[string]string{"src/a.c": "int a;", "include/": ""}
	look := func(name string) (string, bool) { return "/usr/bin/" + name, name == "gcc" || name == "g++" }
	tests := []struct {
		name  string
		files map[string]string
		toml  string
		look  func(string) (string, bool)
		want  []want
	}{
		{name: "valid", files: lib, toml: "[project]\nname = \"x\"\n[compile]\ninclude_dirs = [\"include\"]\ncompiler = \"gcc\"\n", look: look},
		{name: "empty file with sources is valid", files: lib, toml: ""},
		{name: "syntax error stops", files: lib, toml: "[project]\nname = \"x\n[binary]\nlibrary_type = \"dll\"\n",
			want: []want{{"error", 2, 10, "basic strings cannot have new lines"}}},
		{name: "every type error and unknown key", files: lib,
			toml: "[project]\nname = 5\nnmae = \"x\"\n[compile]\njobs = \"x\"\nflags = \"-Wall\"\n[extra]\nk = 1\n",
			want: []want{
				{"error", 2, 8, "project.name: expected a string"},
				{"warning", 3, 1, "unknown key project.nmae"},
				{"error", 5, 8, "compile.jobs: expected an integer"},
				{"error", 6, 9, "compile.flags: expected an array of strings"},
				{"warning", 7, 2, "unknown table [extra]"},
			}},
		{name: "type error in a table header", files: lib, toml: "[[compile]]\njobs = 1\n[binary]\nlibrary_type = \"dll\"\n",
			want: []want{
				{"error", 1, 3, "compile: cannot store an array table"},
				{"error", 4, 1, `library_type "dll" is not one of shared, static, executable`},
			}},
		{name: "repeated array tables each reported once", files: lib, toml: "[[compile]]\n[[compile]]\n",
			want: []want{
				{"error", 1, 3, "compile: cannot store an array table"},
				{"error", 2, 3, "compile: cannot store an array table"},
			}},
		{name: "bad sources type does not cascade", files: lib, toml: "[compile]\nsources = [1]\n",
			want: []want{{"error", 2, 12, "compile.sources: expected a string"}}},
		{name: "default source dir missing", files: map[string]string{"lib/a.c": ""}, toml: "[project]\nname = \"x\"\n",
			want: []want{{"error", 0, 0, `source directory "src" does not exist`}}},
		{name: "named source dir missing", files: lib, toml: "[paths]\nsource = \"lib\"\n",
			want: []want{{"error", 2, 1, `source directory "lib" does not exist`}}},
		{name: "globs need no source dir", files: map[string]string{"lib/a.c": ""}, toml: "[compile]\nsources = [\"lib/*.c\"]\n"},
		{name: "glob matching nothing", files: lib, toml: "[compile]\nsources = [\n  \"src/*.c\",\n  \"gen/**/*.cpp\",\n  \"src/[\",\n]\n",
			want: []want{
				{"error", 4, 3, `sources glob "gen/**/*.cpp" matches no C or C++ source`},
				{"error", 5, 3, `sources glob "src/[" is malformed`},
			}},
		{name: "every glob matches nothing", files: lib, toml: "[compile]\nsources = [\"src/*.cpp\"]\n",
			want: []want{{"error", 2, 12, `sources glob "src/*.cpp" matches no C or C++ source`}}},
		{name: "include dir missing", files: lib, toml: "[compile]\ninclude_dirs = [\"include\", \"/nonexistent/jmake\", \"third_party\"]\n",
			want: []want{
				{"error", 2, 28, `include directory "/nonexistent/jmake" does not exist`},
				{"error", 2, 50, `include directory "third_party" does not exist`},
			}},
		{name: "compilers not found", files: lib, look: look, toml: "[compile]\ncompiler = \"tcc\"\ncxx_compiler = \"g++\"\n",
			want: []want{{"error", 2, 1, `compiler "tcc" not found`}}},
		{name: "cxx compiler not found", files: lib, look: look, toml: "[compile]\ncxx_compiler = \"clang++-99\"\n",
			want: []want{{"error", 2, 1, `cxx_compiler "clang++-99" not found`}}},
		{name: "nil lookTool skips tool checks", files: lib, toml: "[compile]\ncompiler = \"tcc\"\n"},
		{name: "library type and opt level", files: lib, toml: "[binary]\nlibrary_type = \"dll\"\n[target]\nopt_level = \"4\"\n",
			want: []want{
				{"error", 2, 1, `library_type "dll"`},
				{"error", 4, 1, `opt_level "4" is not one of 0, 1, 2, 3, s, z, g, fast`},
			}},
		{name: "unknown linker", files: lib, toml: "[compile]\nlinker = \"ld64\"\n",
			want: []want{{"error", 2, 1, `linker "ld64" is not one of auto, default, bfd, gold, lld, mold`}}},
		{name: "known linker", files: lib, toml: "[compile]\nlinker = \"mold\"\n"},
		{name: "opt level fast and executable", files: lib, toml: "[binary]\nlibrary_type = \"executable\"\n[target]\nopt_level = \"fast\"\n"},
		{name: "cache directory and size are not applied", files: lib, toml: "[cache]\nenabled = true\ndirectory = \"/var/cache/x\"\nmax_size = \"1GiB\"\n",
			want: []want{
				{"warning", 3, 1, "cache.directory is not applied"},
				{"warning", 4, 1, "cache.max_size is not applied"},
			}},
		{name: "negative jobs", files: lib, toml: "[compile]\njobs = -1\n",
			want: []want{{"error", 2, 1, "jobs -1 is negative"}}},
		{name: "no sources", files: map[string]string{"src/a.h": ""}, toml: "",
			want: []want{{"error", 0, 0, "no C or C++ sources to build under"}}},
		{name: "no sources at named dir", files: map[string]string{"lib/a.h": ""}, toml: "[paths]\nsource = \"lib\"\n",
			want: []want{{"error", 2, 1, "no C or C++ sources to build under"}}},
		{name: "all excluded", files: lib, toml: "[compile]\nexclude = [\"src/**\"]\n",
			want: []want{{"error", 2, 1, "every source under"}}},
		{name: "all globbed excluded", files: lib, toml: "[compile]\nsources = [\"src/*.c\"]\nexclude = [\"**/a.c\"]\n",
			want: []want{{"error", 2, 1, "every file the sources globs match is excluded"}}},
		{name: "exclude matching nothing warns", files: lib, toml: "[compile]\nexclude = [\"tests/**\"]\n",
			want: []want{{"warning", 2, 12, `exclude glob "tests/**" matches no C or C++ source`}}},
		{name: "root missing", files: lib, toml: "[project]\nroot = \"nowhere\"\n",
			want: []want{{"error", 2, 1, "project root"}}},
		{name: "root elsewhere", files: map[string]string{"code/src/a.c": ""}, toml: "[project]\nroot = \"code\"\n"},
		{name: "build and hidden dirs are not sources", files: map[string]string{"src/.hidden/a.c": "", "src/build/b.c": ""},
			toml: "[paths]\nsource = \"src\"\nbuild = \"src/build\"\n",
			want: []want{{"error", 2, 1, "no C or C++ sources"}}},
		{name: "crlf", files: lib, toml: "[binary]\r\nlibrary_type = \"x\"\r\n",
			want: []want{{"error", 2, 1, `library_type "x"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := testenv.Tree(t, tt.files)
			testenv.WriteFiles(t, dir, map[string]string{FileName: tt.toml})
			got, err := Validate(dir, tt.look)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, FileName)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d diagnostics, want %d:\n%s", len(got), len(tt.want), render(got))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Severity != w.sev || g.Line != w.line || g.Column != w.col || !strings.Contains(g.Msg, w.msg) || g.File != file {
					t.Errorf("diagnostic %d = %s\nwant %s %d:%d containing %q", i, g, w.sev, w.line, w.col, w.msg)
				}
			}
		})
	}
}

func render(ds []Diagnostic) string {
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "  %s\n", d)
	}
	return b.String()
}

func TestValidateMissingFile(t *testing.T) {
	dir := t.TempDir()
	_, err := Validate(dir, nil)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, FileName)) {
		t.Errorf("err = %v, want one naming the file", err)
	}
}

func TestDiagnosticString(t *testing.T) {
	tests := []struct {
		d    Diagnostic
		want string
	}{
		{Diagnostic{SeverityError, "p/jmake.toml", 3, 7, "bad", false}, "p/jmake.toml:3:7: error: bad"},
		{Diagnostic{SeverityWarning, "p/jmake.toml", 1, 1, "odd", false}, "p/jmake.toml:1:1: warning: odd"},
		{Diagnostic{SeverityError, "p/jmake.toml", 0, 0, "no sources", false}, "p/jmake.toml: error: no sources"},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

// FuzzValidateData checks that validation never panics, whatever the text:
// it blanks out expressions with type errors and looks positions up, both of
// which index into the text.
func FuzzValidateData(f *testing.F) {
	for _, s := range []string{
		"[compile]\njobs = \"x\"\nflags = 1\n",
		"[[compile]]\n[[compile]]\n",
		"compile = { jobs = \"x\", flags = 2 }\n",
		"[compile.defines]\nA = 1\n[binary]\nlibrary_type = 3\n",
		"project.name = 1\nproject.root = []\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	testenv.WriteFiles(f, dir, map[string]string{"src/a.c": ""})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range ValidateData(dir, "fuzz.toml", data, nil) {
			if d.Severity != SeverityError && d.Severity != SeverityWarning {
				t.Fatalf("severity %q", d.Severity)
			}
		}
	})
}
