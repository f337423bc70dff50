package project

import (
	"math"
	"strings"
	"testing"
)

const editDoc = `# jmake.toml for demo
[project]
name = "demo" # the name

# compile settings
[compile]
flags = ["-Wall"]   # keep warnings on
jobs = 2
defines.A = "1"
defines.B = "2"

# trailing comment of compile

[target]
opt_level = "2"
`

func TestEditSection(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		section string
		set     map[string]any
		want    string
		wantErr string
	}{
		{
			name:    "replace one key, keep comments",
			doc:     editDoc,
			section: "compile",
			set:     map[string]any{"jobs": float64(8)},
			want:    strings.Replace(editDoc, "jobs = 2", "jobs = 8", 1),
		},
		{
			name:    "replace keeps the trailing comment",
			doc:     editDoc,
			section: "compile",
			set:     map[string]any{"flags": []any{"-O2", "-g"}},
			want:    strings.Replace(editDoc, `flags = ["-Wall"]   # keep`, `flags = ["-O2", "-g"]   # keep`, 1),
		},
		{
			name:    "new keys go after the last key",
			doc:     editDoc,
			section: "compile",
			set:     map[string]any{"cxx_std": "c++17", "c_std": "c11"},
			want:    strings.Replace(editDoc, "defines.B = \"2\"\n", "defines.B = \"2\"\nc_std = \"c11\"\ncxx_std = \"c++17\"\n", 1),
		},
		{
			name:    "dotted keys replaced by one",
			doc:     editDoc,
			section: "compile",
			set:     map[string]any{"defines": map[string]any{"X": "y z", "A": ""}},
			want:    strings.Replace(editDoc, "defines.A = \"1\"\ndefines.B = \"2\"\n", "defines = { A = \"\", X = \"y z\" }\n", 1),
		},
		{
			name:    "nil removes a key",
			doc:     editDoc,
			section: "compile",
			set:     map[string]any{"jobs": nil},
			want:    strings.Replace(editDoc, "jobs = 2\n", "", 1),
		},
		{
			name:    "missing section appended",
			doc:     editDoc,
			section: "binary",
			set:     map[string]any{"library_type": "static"},
			want:    editDoc + "\n[binary]\nlibrary_type = \"static\"\n",
		},
		{
			name:    "appended to a file without final newline",
			doc:     "[project]\nname = \"x\"",
			section: "cache",
			set:     map[string]any{"enabled": false},
			want:    "[project]\nname = \"x\"\n\n[cache]\nenabled = false\n",
		},
		{
			name:    "added to a last section without final newline",
			doc:     "[project]\nname = \"x\"",
			section: "project",
			set:     map[string]any{"version": "1.0"},
			want:    "[project]\nname = \"x\"\nversion = \"1.0\"\n",
		},
		{
			name:    "empty section gets keys after its header",
			doc:     "[paths] # where\n\n[target]\nlto = true\n",
			section: "paths",
			set:     map[string]any{"source": "lib"},
			want:    "[paths] # where\nsource = \"lib\"\n\n[target]\nlto = true\n",
		},
		{
			name:    "empty file",
			doc:     "",
			section: "project",
			set:     map[string]any{"name": "x"},
			want:    "[project]\nname = \"x\"\n",
		},
		{
			name:    "multi-line array replaced whole",
			doc:     "[compile]\nsources = [\n  \"a.c\", # first\n  \"b.c\",\n]\njobs = 1\n",
			section: "compile",
			set:     map[string]any{"sources": []string{"src/**/*.c"}},
			want:    "[compile]\nsources = [\"src/**/*.c\"]\njobs = 1\n",
		},
		{
			name:    "sub-table untouched by an unrelated edit",
			doc:     "[compile]\njobs = 1\n[compile.defines]\nA = \"1\"\n",
			section: "compile",
			set:     map[string]any{"jobs": 3},
			want:    "[compile]\njobs = 3\n[compile.defines]\nA = \"1\"\n",
		},
		{name: "unknown section", doc: editDoc, section: "linker", set: map[string]any{"x": 1}, wantErr: "unknown section [linker]"},
		{name: "unknown key", doc: editDoc, section: "compile", set: map[string]any{"job": 1}, wantErr: `unknown key "job" in [compile]`},
		{name: "wrong type", doc: editDoc, section: "compile", set: map[string]any{"jobs": "many"}, wantErr: "compile.jobs: expected an integer"},
		{name: "not representable", doc: editDoc, section: "compile", set: map[string]any{"jobs": struct{}{}}, wantErr: "cannot write a struct {}"},
		{name: "syntax error in file", doc: "[compile\n", section: "compile", set: map[string]any{"jobs": 1}, wantErr: "cannot update [compile]: f.toml:1:9"},
		{name: "type error elsewhere", doc: "[project]\nname = 1\n", section: "compile", set: map[string]any{"jobs": 1}, wantErr: "cannot update [compile]: f.toml:2:8: project.name"},
		{name: "inline table", doc: "compile = { jobs = 1 }\n", section: "compile", set: map[string]any{"jobs": 2}, wantErr: "f.toml:1:1: [compile] is written as dotted keys or an inline table"},
		{name: "top-level dotted", doc: "compile.jobs = 1\n", section: "compile", set: map[string]any{"jobs": 2}, wantErr: "f.toml:1:1:"},
		{name: "sub-table set", doc: "[compile.defines]\nA = \"1\"\n", section: "compile", set: map[string]any{"defines": map[string]string{"B": "2"}}, wantErr: "f.toml:1:2: [compile] defines is written as a table of its own"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EditSection("f.toml", []byte(tt.doc), tt.section, tt.set)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("text returned with an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			if _, err := Parse("f.toml", got); err != nil {
				t.Errorf("result does not parse: %v", err)
			}
		})
	}
}

func TestFormatValue(t *testing.T) {
	tests := []struct {
		in      any
		want    string
		wantErr bool
	}{
		{"plain", `"plain"`, false},
		{"quote \" back \\ tab\t nl\n bell\x07 del\x7f é", `"quote \" back \\ tab\t nl\n bell\u0007 del\u007F é"`, false},
		{true, "true", false},
		{42, "42", false},
		{int64(-7), "-7", false},
		{uint8(3), "3", false},
		{uint64(math.MaxUint64), "", true},
		{float64(8), "8", false},
		{1.5, "1.5", false},
		{1e300, "1e+300", false},
		{math.Inf(-1), "-inf", false},
		{math.NaN(), "nan", false},
		{[]string{"a", "b"}, `["a", "b"]`, false},
		{[]any{"a", float64(1), true}, `["a", 1, true]`, false},
		{[]any{}, `[]`, false},
		{map[string]string{"b": "2", "a": "1", "x y": ""}, `{ a = "1", b = "2", "x y" = "" }`, false},
		{map[string]any{}, `{}`, false},
		{map[int]string{1: "x"}, "", true},
		{nil, "", true},
		{[]any{nil}, "", true},
		{"bad \xff utf8", "", true},
		{struct{}{}, "", true},
	}
	for _, tt := range tests {
		got, err := FormatValue(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("FormatValue(%#v) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("FormatValue(%#v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestFormatStringRoundTrip(t *testing.T) {
	for _, s := range []string{"", "a", "\"\\\b\f\r\n\t", "\x00\x1f", "日本語", "-DNAME=\"v\""} {
		q, err := FormatString(s)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Parse("f", []byte("[project]\nname = "+q+"\n"))
		if err != nil {
			t.Fatalf("%q -> %s: %v", s, q, err)
		}
		if c.Project.Name != s {
			t.Errorf("round trip of %q gave %q", s, c.Project.Name)
		}
	}
}

// The targets' tables are not edited as one section.
func TestEditSectionRefusesTargets(t *testing.T) {
	_, err := EditSection("jmake.toml", []byte("[[library]]\nname = \"a\"\n"), "library", map[string]any{"name": "b"})
	if err == nil || !strings.Contains(err.Error(), "[[library]] is a list of tables") {
		t.Fatalf("err = %v", err)
	}
}
