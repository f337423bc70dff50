package project

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An unknown key is a warning that names the key it was probably meant to
// be; under [project] strict = true it is an error.
func TestUnknownKeySuggestion(t *testing.T) {
	for _, tc := range []struct {
		name, toml, want, severity string
	}{
		{"typo", "[compile]\nflgas = [\"-g\"]\n", "unknown key compile.flgas (did you mean flags?)", SeverityWarning},
		{"other section", "[compile]\nlibrary_type = \"static\"\n", "unknown key compile.library_type (did you mean library_type in [binary]?)", SeverityWarning},
		{"table", "[compil]\nflags = []\n", "unknown table [compil] (did you mean compile?)", SeverityWarning},
		{"far", "[compile]\nzzzzzz = 1\n", "unknown key compile.zzzzzz", SeverityWarning},
		{"strict", "[project]\nstrict = true\n[compile]\nflgas = []\n", "unknown key compile.flgas (did you mean flags?)", SeverityError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "src"), 0o755)
			os.WriteFile(filepath.Join(dir, "src", "a.c"), []byte("int a;\n"), 0o644)
			os.WriteFile(filepath.Join(dir, FileName), []byte(tc.toml), 0o644)
			diags, err := Validate(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range diags {
				if d.Msg == tc.want {
					if d.Severity != tc.severity || !d.UnknownKey {
						t.Fatalf("%s: severity %s, unknown %v; want %s", d.Msg, d.Severity, d.UnknownKey, tc.severity)
					}
					return
				}
				if strings.HasPrefix(d.Msg, "unknown") {
					t.Fatalf("got %q, want %q", d.Msg, tc.want)
				}
			}
			t.Fatalf("no %q in %v", tc.want, diags)
		})
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"flgas", "flags", 1}, {"flags", "flags", 0}, {"", "abc", 3}, {"cflag", "cflags", 1}, {"abc", "xyz", 3},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
