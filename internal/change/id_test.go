package change

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/testenv"
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

// TestInputsListing: a directory whose identity moved but which lists the
// same entries (an editor's save: a temp file written and renamed over a
// file) is unchanged, and the renewed inputs prove it by a stat alone; an
// entry created, removed, retyped or relinked, the directory's permissions
// changed, or the directory replaced, is a change; a file saved the same way is a change, whatever its
// directory says.
func TestInputsListing(t *testing.T) {
	old := time.Now().Add(-time.Hour)
	setup := func(t *testing.T) (dir, file string) {
		dir = testenv.Tree(t, map[string]string{"a.c": "a", "b.h": "b"})
		file = filepath.Join(dir, "a.c")
		if err := os.Symlink("b.h", filepath.Join(dir, "link.h")); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{file, dir} {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
		return dir, file
	}

	t.Run("save keeps the directory", func(t *testing.T) {
		dir, file := setup(t)
		in := Record(dir)
		if _, ok := in.Lists[dir]; !ok {
			t.Fatal("a directory was recorded without its listing")
		}
		testenv.SaveByRename(t, file, "edited")
		if id, _, _ := Stat(dir); id == in.IDs[dir] {
			t.Skip("the save did not move the directory's identity on this file system")
		}
		renewed, p, changed := in.Verify()
		if changed {
			t.Fatalf("an editor's save changed %s, though the directory lists the same entries", p)
		}
		if renewed == nil {
			t.Fatal("the directory's identity moved, yet no renewed inputs")
		}
		if id, _, _ := Stat(dir); renewed.IDs[dir] != id {
			t.Fatalf("renewed identity %+v, want the directory's %+v", renewed.IDs[dir], id)
		}
		// Once the directory's mtime is old, its stat alone proves it.
		if err := os.Chtimes(dir, old, old); err != nil {
			t.Fatal(err)
		}
		again, _, changed := renewed.Verify()
		if changed {
			t.Fatal("renewed inputs changed")
		}
		if again == nil {
			t.Fatal("the directory's mtime moved back, yet no renewal")
		}
		if r, _, changed := again.Verify(); changed || r != nil {
			t.Fatalf("settled inputs: changed=%v renewed=%v, want a stat to prove them", changed, r != nil)
		}
	})

	t.Run("save changes the file", func(t *testing.T) {
		dir, file := setup(t)
		in := Record(dir, file)
		testenv.SaveByRename(t, file, "edited")
		if p, changed := in.Changed(); !changed || p != file {
			t.Fatalf("file saved by rename: changed=%v at %q, want %s", changed, p, file)
		}
	})

	for name, edit := range map[string]func(dir string) error{
		"created": func(dir string) error { return os.WriteFile(filepath.Join(dir, "new.c"), nil, 0o644) },
		"removed": func(dir string) error { return os.Remove(filepath.Join(dir, "b.h")) },
		"renamed": func(dir string) error { return os.Rename(filepath.Join(dir, "b.h"), filepath.Join(dir, "c.h")) },
		"retyped": func(dir string) error {
			if err := os.Remove(filepath.Join(dir, "b.h")); err != nil {
				return err
			}
			return os.Mkdir(filepath.Join(dir, "b.h"), 0o755)
		},
		"relinked": func(dir string) error {
			if err := os.Remove(filepath.Join(dir, "link.h")); err != nil {
				return err
			}
			return os.Symlink("a.c", filepath.Join(dir, "link.h"))
		},
		"chmod": func(dir string) error {
			fi, err := os.Stat(dir)
			if err != nil {
				return err
			}
			return os.Chmod(dir, fi.Mode().Perm()^0o055)
		},
		"replaced": func(dir string) error {
			ents, err := os.ReadDir(dir)
			if err != nil {
				return err
			}
			aside := dir + ".old"
			if err := os.Rename(dir, aside); err != nil {
				return err
			}
			defer os.RemoveAll(aside)
			if err := os.Mkdir(dir, 0o755); err != nil {
				return err
			}
			for _, e := range ents {
				if err := os.Rename(filepath.Join(aside, e.Name()), filepath.Join(dir, e.Name())); err != nil {
					return err
				}
			}
			return nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir, _ := setup(t)
			in := Record(dir)
			if err := edit(dir); err != nil {
				t.Fatal(err)
			}
			if renewed, p, changed := in.Verify(); !changed || p != dir || renewed != nil {
				t.Fatalf("entry %s: changed=%v at %q renewed=%v, want %s changed", name, changed, p, renewed != nil, dir)
			}
		})
	}
}
