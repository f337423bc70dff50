package change

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestInputs: recorded inputs report a file written, a directory whose
// listing changed, one removed, and anything racy when recorded.
func TestInputs(t *testing.T) {
	dir := t.TempDir()
	file, sub := filepath.Join(dir, "f"), filepath.Join(dir, "sub")
	if err := os.WriteFile(file, []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	settle := func() {
		t.Helper()
		for _, p := range []string{file, sub, dir} {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	settle()
	missing := filepath.Join(dir, "missing")
	in := Record(file, sub, missing)
	if p, changed := in.Changed(); changed {
		t.Fatalf("nothing touched, yet %s changed", p)
	}
	if _, changed := (Inputs{}).Changed(); !changed {
		t.Error("inputs never recorded count as unchanged")
	}

	if err := os.WriteFile(filepath.Join(sub, "new"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if p, changed := in.Changed(); !changed || p != sub {
		t.Errorf("entry added to sub: changed=%v at %q, want sub", changed, p)
	}

	settle()
	in = Record(file, sub, missing)
	if err := os.WriteFile(missing, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if p, changed := in.Changed(); !changed || p != missing {
		t.Errorf("missing file created: changed=%v at %q", changed, p)
	}

	// Racy: written now, recorded now; its stat proves nothing.
	if err := os.WriteFile(file, []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, changed := Record(file).Changed(); !changed {
		t.Error("a file recorded within the racy window counts as unchanged")
	}
}
