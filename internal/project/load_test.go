package project

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	text := "[compile]\nflags = [\"-Wall\"]\n[binary]\nlibrary_type = \"static\"\n"
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Project.Name != "demo" || c.Binary.LibraryName != "libdemo.a" || c.Compile.Flags[0] != "-Wall" {
		t.Errorf("Load = %+v", c)
	}

	_, err = Load(t.TempDir())
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), FileName) {
		t.Errorf("Load of an empty dir: err = %v, want a not-exist error naming %s", err, FileName)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name      string
		text      string
		line, col int
		msg       string
	}{
		{"unclosed table", "[project\nname = \"x\"\n", 1, 9, "expected ']'"},
		{"missing value", "[project]\nname =\n", 2, 7, ""},
		{"string for int", "[compile]\njobs = \"four\"\n", 2, 8, "compile.jobs: expected an integer, found a string"},
		{"int for string", "[project]\nname = 5\n", 2, 8, "project.name: expected a string, found an integer"},
		{"string for array", "[compile]\nflags = \"-Wall\"\n", 2, 9, "compile.flags: expected an array of strings, found a string"},
		{"int in defines", "[compile]\ndefines = { A = 1 }\n", 2, 17, "compile.defines: expected a string, found an integer"},
		{"bool for string", "[target]\nlto = \"yes\"\n", 2, 7, "target.lto: expected a boolean, found a string"},
		{"section as value", "project = 3\n", 1, 11, "project: expected a table, found an integer"},
		{"duplicate key", "[project]\nname = \"a\"\nname = \"b\"\n", 3, 1, "already defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x/jmake.toml", []byte(tt.text))
			var pe *PositionError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v (%T), want *PositionError", err, err)
			}
			if pe.File != "x/jmake.toml" || pe.Line != tt.line || pe.Column != tt.col {
				t.Errorf("position = %s:%d:%d, want x/jmake.toml:%d:%d (%v)", pe.File, pe.Line, pe.Column, tt.line, tt.col, pe)
			}
			if !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("msg = %q, want it to contain %q", pe.Msg, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "x/jmake.toml:") {
				t.Errorf("Error() = %q does not start with the file", err)
			}
		})
	}
}

func TestPositionErrorString(t *testing.T) {
	tests := []struct {
		err  PositionError
		want string
	}{
		{PositionError{File: "f", Line: 2, Column: 3, Msg: "bad"}, "f:2:3: bad"},
		{PositionError{File: "f", Msg: "bad"}, "f: bad"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// FuzzParse checks that Parse never panics and that every error it returns
// is a *PositionError naming the file, with a position inside the text.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"",
		"[project]\nname = \"x\"\n",
		"[compile]\nsources = [\"src/**/*.c\"]\ndefines = { A = \"1\" }\njobs = 4\n",
		"[binary]\nlibrary_type = 'static'\n[target]\nlto = true\nopt_level = \"2\"\n",
		"[compile]\njobs = \"x\"\n",
		"[[compile]]\n",
		"a = [[[[1]]]]\n",
		"[project\n",
		"compile = { flags = [1, 2] }\n",
		"\"\\u0000\" = 1\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.toml", data)
		if err == nil {
			if c == nil {
				t.Fatal("nil Config and nil error")
			}
			c.Defaults("/p")
			_ = c.FlagsFor("/p", "a.cpp")
			return
		}
		var pe *PositionError
		if !errors.As(err, &pe) {
			t.Fatalf("error %v is a %T, not a *PositionError", err, err)
		}
		if pe.File != "fuzz.toml" {
			t.Fatalf("error names %q", pe.File)
		}
		if pe.Line < 0 || pe.Column < 0 || pe.Line > strings.Count(string(data), "\n")+1 {
			t.Fatalf("position %d:%d outside the text", pe.Line, pe.Column)
		}
		// The position index must cope with whatever the parser accepts.
		_, _ = indexDoc(data)
	})
}
