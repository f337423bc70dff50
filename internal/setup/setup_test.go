package setup

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmake/jmake/internal/project"
)

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "other.toml")
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, in, file, dir string
		wantErr             bool
	}{
		{"directory", dir, filepath.Join(dir, project.FileName), dir, false},
		{"file", other, other, dir, false},
		{"missing toml", filepath.Join(dir, "new.toml"), filepath.Join(dir, "new.toml"), dir, false},
		{"missing dir", filepath.Join(dir, "proj"), filepath.Join(dir, "proj", project.FileName), filepath.Join(dir, "proj"), false},
		{"empty", "", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file, d, err := configFile(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if file != tt.file || d != tt.dir {
				t.Errorf("configFile(%q) = %q, %q; want %q, %q", tt.in, file, d, tt.file, tt.dir)
			}
		})
	}
}

func TestWriteAtomic(t *testing.T) {
	tests := []struct {
		name     string
		existing string // "" = no file
		replace  bool
		perm     fs.FileMode
		want     string
		wantErr  error
	}{
		{"new file", "", false, 0o600, "new", nil},
		{"new file with replace", "", true, 0o644, "new", nil},
		{"replace existing", "old", true, 0o640, "new", nil},
		{"refuse existing", "old", false, 0o644, "old", fs.ErrExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "f.toml")
			if tt.existing != "" {
				if err := os.WriteFile(file, []byte(tt.existing), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := writeAtomic(file, []byte("new"), tt.perm, tt.replace)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), file) {
					t.Fatalf("err = %v, want %v naming %s", err, tt.wantErr, file)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(file)
			if err != nil || string(got) != tt.want {
				t.Fatalf("content = %q, %v; want %q", got, err, tt.want)
			}
			if tt.wantErr == nil {
				fi, _ := os.Stat(file)
				if fi.Mode().Perm() != tt.perm {
					t.Errorf("mode = %v, want %v", fi.Mode().Perm(), tt.perm)
				}
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("temporary files left behind: %v", entries)
			}
		})
	}
}

func TestWriteExclusive(t *testing.T) {
	file := filepath.Join(t.TempDir(), "x")
	if err := writeExclusive(file, []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeExclusive(file, []byte("b"), 0o644); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second write: err = %v, want ErrExist", err)
	}
	if got, _ := os.ReadFile(file); string(got) != "a" {
		t.Errorf("content = %q", got)
	}
}

func TestNewDefaults(t *testing.T) {
	s := New(Options{})
	if s.maxConfigs != DefaultMaxConfigs || s.lookTool == nil {
		t.Fatalf("New(Options{}) = %+v", s)
	}
	if _, ok := s.lookTool("sh"); !ok {
		t.Error("default LookTool cannot find sh")
	}
	if _, ok := s.lookTool("no-such-tool-jmake"); ok {
		t.Error("default LookTool found a tool that does not exist")
	}
}
