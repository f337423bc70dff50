package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/toolenv"
)

// TestValidationMemoFollowsIncludeDirs: the setup daemon remembers that a
// jmake.toml validated, but the verdict also rests on the file system. An
// include directory removed while jmake.toml stays as it was must make the
// next validation fail, and one restored must make it pass again.
func TestValidationMemoFollowsIncludeDirs(t *testing.T) {
	root := t.TempDir()
	for name, text := range map[string]string{
		"jmake.toml":    "[project]\nname = \"p\"\n\n[compile]\ninclude_dirs = [\"include\", \"extra\"]\n",
		"src/main.c":    "int main(void) { return 0; }\n",
		"include/a.h":   "",
		"extra/b.h":     "",
		"extra/sub/c.h": "",
	} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Everything older than the racy window, so that the memo is trusted.
	old := time.Now().Add(-time.Hour)
	err := filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
	caches := &dirCaches{dir: t.TempDir()}
	t.Cleanup(caches.close)
	s := newSetupService(caches)
	ctx := context.Background()
	validate := func(step string) (valid, cached bool, errs []string) {
		t.Helper()
		v, err := s.ValidateConfig(ctx, root, toolenv.Env{})
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return v.Valid, v.Cached, v.Errors
	}
	if valid, _, errs := validate("first"); !valid {
		t.Fatalf("first validation failed: %q", errs)
	}
	if valid, cached, _ := validate("again"); !valid || !cached {
		t.Fatalf("unchanged project: valid=%v cached=%v, want a remembered pass", valid, cached)
	}

	if err := os.RemoveAll(filepath.Join(root, "extra")); err != nil {
		t.Fatal(err)
	}
	valid, _, errs := validate("after removing extra/")
	if valid || !strings.Contains(strings.Join(errs, "\n"), `"extra" does not exist`) {
		t.Fatalf("include dir removed, jmake.toml unchanged: valid=%v errors=%q, want extra reported", valid, errs)
	}

	if err := os.MkdirAll(filepath.Join(root, "extra"), 0o755); err != nil {
		t.Fatal(err)
	}
	if valid, _, errs := validate("after restoring extra/"); !valid {
		t.Fatalf("include dir restored: errors %q", errs)
	}
}
