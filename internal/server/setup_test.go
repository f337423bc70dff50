package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/testenv"
	"github.com/jmake/jmake/internal/toolenv"
)

// TestValidationMemoFollowsIncludeDirs: the setup daemon remembers that a
// jmake.toml validated, but the verdict also rests on the file system. An
// include directory removed while jmake.toml stays as it was must make the
// next validation fail, and one restored must make it pass again.
func TestValidationMemoFollowsIncludeDirs(t *testing.T) {
	root := writeAgedTree(t, map[string]string{
		"jmake.toml":    "[project]\nname = \"p\"\n\n[compile]\ninclude_dirs = [\"include\", \"extra\"]\n",
		"src/main.c":    "int main(void) { return 0; }\n",
		"include/a.h":   "",
		"extra/b.h":     "",
		"extra/sub/c.h": "",
	})
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

// writeAgedTree writes files (relative path -> content) under a new temp
// dir and returns it, every file and directory dated an hour back: older
// than the racy window, so that a memo of them is trusted by their stat.
func writeAgedTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := testenv.Tree(t, files)
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
	return root
}

// TestValidationMemoSurvivesEditorSave: a source saved by rename moves
// its directory's mtime but not its listing, so the remembered verdict
// stands (the reply Cached, and no config read), while a source
// created or removed, a directory created, or jmake.toml saved the same
// way makes the next validation run again and give the verdict the new
// tree deserves.
func TestValidationMemoSurvivesEditorSave(t *testing.T) {
	root := writeAgedTree(t, map[string]string{
		"jmake.toml": "[project]\nname = \"p\"\n\n[compile]\n" +
			"sources = [\"src/main.c\", \"src/util*.c\", \"src/sub/*.c\"]\n" +
			"exclude = [\"src/sub/gen/*.c\"]\n",
		"src/main.c":    "int main(void) { return 0; }\n",
		"src/util.c":    "int util(void) { return 0; }\n",
		"src/sub/one.c": "int one(void) { return 1; }\n",
	})
	src := filepath.Join(root, "src")
	caches := &dirCaches{dir: t.TempDir()}
	t.Cleanup(caches.close)
	s := newSetupService(caches)
	// validate returns the verdict and whether it came from the memo.
	validate := func(step string) (valid, remembered bool, errs, warns string) {
		t.Helper()
		before := s.s.CacheStats()
		v, err := s.ValidateConfig(context.Background(), root, toolenv.Env{})
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		// A verdict from the memo reads no config: the configs cache is
		// not even asked.
		after := s.s.CacheStats()
		remembered = v.Cached && after.Hits+after.Misses == before.Hits+before.Misses
		return v.Valid, remembered, strings.Join(v.Errors, "\n"), strings.Join(v.Warnings, "\n")
	}
	const excludeWarning = `exclude glob "src/sub/gen/*.c" matches no`
	if valid, _, errs, warns := validate("first"); !valid || !strings.Contains(warns, excludeWarning) {
		t.Fatalf("first validation: valid=%v errors=%q warnings=%q, want valid with the exclude warning", valid, errs, warns)
	}
	if valid, remembered, _, _ := validate("unchanged"); !valid || !remembered {
		t.Fatalf("unchanged tree: valid=%v remembered=%v, want the remembered pass", valid, remembered)
	}

	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	testenv.SaveByRename(t, filepath.Join(src, "main.c"), "int main(void) { return 1; }\n")
	if now, err := os.Stat(src); err != nil || now.ModTime().Equal(fi.ModTime()) {
		t.Fatalf("the save did not move src/'s mtime (%v), the test proves nothing", err)
	}
	for _, step := range []string{"after saving src/main.c", "once more"} {
		if valid, remembered, errs, _ := validate(step); !valid || !remembered {
			t.Fatalf("%s: valid=%v remembered=%v errors=%q, want the remembered pass", step, valid, remembered, errs)
		}
	}

	if err := os.Remove(filepath.Join(src, "util.c")); err != nil {
		t.Fatal(err)
	}
	if valid, remembered, errs, _ := validate("after removing src/util.c"); valid || remembered ||
		!strings.Contains(errs, `sources glob "src/util*.c" matches no C or C++ source`) {
		t.Fatalf("src/util.c removed: valid=%v remembered=%v errors=%q, want the glob reported", valid, remembered, errs)
	}

	testenv.SaveByRename(t, filepath.Join(src, "util2.c"), "int util2(void) { return 2; }\n")
	if valid, remembered, errs, _ := validate("after creating src/util2.c"); !valid || remembered {
		t.Fatalf("src/util2.c created: valid=%v remembered=%v errors=%q, want a fresh pass", valid, remembered, errs)
	}
	if valid, remembered, _, _ := validate("again"); !valid || !remembered {
		t.Fatalf("unchanged since: valid=%v remembered=%v, want the remembered pass", valid, remembered)
	}

	// A new directory is an input from then on: a source created in it
	// is seen.
	gen := filepath.Join(src, "sub", "gen")
	if err := os.Mkdir(gen, 0o755); err != nil {
		t.Fatal(err)
	}
	if valid, remembered, _, warns := validate("after creating src/sub/gen"); !valid || remembered || !strings.Contains(warns, excludeWarning) {
		t.Fatalf("src/sub/gen created: valid=%v remembered=%v warnings=%q, want a fresh pass still warning", valid, remembered, warns)
	}
	testenv.SaveByRename(t, filepath.Join(gen, "g.c"), "int g(void) { return 3; }\n")
	if valid, remembered, _, warns := validate("after creating src/sub/gen/g.c"); !valid || remembered || strings.Contains(warns, excludeWarning) {
		t.Fatalf("src/sub/gen/g.c created: valid=%v remembered=%v warnings=%q, want a fresh pass without the exclude warning", valid, remembered, warns)
	}

	// jmake.toml saved by rename: the root lists the same entries, but the
	// file is what the verdict is about.
	if valid, remembered, _, _ := validate("before editing jmake.toml"); !valid || !remembered {
		t.Fatalf("unchanged since: valid=%v remembered=%v, want the remembered pass", valid, remembered)
	}
	testenv.SaveByRename(t, filepath.Join(root, "jmake.toml"), "[project]\nname = \"p\"\n\n[compile]\nsources = [\"src/nothing*.c\"]\n")
	if valid, remembered, errs, _ := validate("after editing jmake.toml"); valid || remembered || !strings.Contains(errs, `sources glob "src/nothing*.c" matches no`) {
		t.Fatalf("jmake.toml saved with a glob matching nothing: valid=%v remembered=%v errors=%q", valid, remembered, errs)
	}
}
