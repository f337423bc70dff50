package project

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmake/jmake/internal/testenv"
)

// Build and output directories and source globs that climb out of the
// project root are errors at their file:line, unless allow_outside_root.
func TestPathsStayInsideTheRoot(t *testing.T) {
	lib := map[string]string{"src/a.c": "int a;", "../secret/s.c": "int s;"}
	tests := []struct {
		name string
		toml string
		want []want // Validate's errors; Load fails with the first
	}{
		{name: "build climbs out", toml: "[paths]\nbuild = \"../../outside\"\n",
			want: []want{{"error", 2, 1, `paths.build "../../outside" is outside the project root`}}},
		{name: "absolute output elsewhere", toml: "[paths]\nbuild = \"out\"\noutput = \"/tmp/elsewhere\"\n",
			want: []want{{"error", 3, 1, `paths.output "/tmp/elsewhere" is outside the project root`}}},
		{name: "allowed", toml: "[paths]\nbuild = \"../../outside\"\nallow_outside_root = true\n"},
		{name: "inside after cleaning", toml: "[paths]\nbuild = \"x/../out\"\n"},
		{name: "source glob climbs out", toml: "[compile]\nsources = [\"src/*.c\", \"../secret/*.c\"]\n",
			want: []want{{"error", 2, 23, `sources glob "../secret/*.c" is outside the project root`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "p")
			testenv.WriteFiles(t, dir, lib)
			testenv.WriteFiles(t, dir, map[string]string{FileName: tc.toml})
			diags, err := Validate(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			var errs []Diagnostic
			for _, d := range diags {
				if d.Severity == SeverityError {
					errs = append(errs, d)
				}
			}
			if len(errs) != len(tc.want) {
				t.Fatalf("errors %v, want %v", errs, tc.want)
			}
			for i, w := range tc.want {
				d := errs[i]
				if d.Line != w.line || d.Column != w.col || !strings.Contains(d.Msg, w.msg) {
					t.Errorf("error %d = %v, want %d:%d %q", i, d, w.line, w.col, w.msg)
				}
			}
			_, err = Load(dir)
			var pe *PositionError
			switch {
			case len(tc.want) == 0 || strings.HasPrefix(tc.want[0].msg, "sources"):
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
			case !errors.As(err, &pe) || pe.Line != tc.want[0].line || !strings.Contains(pe.Msg, tc.want[0].msg):
				t.Fatalf("Load: %v, want %s:%d: %s", err, FileName, tc.want[0].line, tc.want[0].msg)
			}
		})
	}
}

// A jmake.toml over MaxFileSize is refused without being read, with an
// error naming the file and the limit.
func TestOversizedFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, FileName)
	big := "[project]\nname = \"x\"\n" + strings.Repeat("# padding padding padding padding\n", MaxFileSize/30)
	if err := os.WriteFile(file, []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func() error{
		"Load":     func() error { _, err := Load(dir); return err },
		"Validate": func() error { _, err := Validate(dir, nil); return err },
	} {
		err := f()
		if !IsTooLarge(err) || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "over the limit of 1048576 bytes") {
			t.Errorf("%s: %v, want the file named and the limit", name, err)
		}
	}
	if err := os.WriteFile(file, []byte(big[:MaxFileSize]), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(file); err != nil {
		t.Errorf("a file of exactly the limit: %v", err)
	}
}
