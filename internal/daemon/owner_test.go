package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Owner.Check, step by step: what is merely missing comes back, what is
// replaced or removed means the state dir is lost.
func TestOwnerCheck(t *testing.T) {
	newState := func(t *testing.T) (dir, token string, o *Owner) {
		dir = filepath.Join(t.TempDir(), "state")
		if err := os.MkdirAll(filepath.Join(dir, "cache", "setup"), 0o700); err != nil {
			t.Fatal(err)
		}
		token, err := LoadOrCreateToken(dir)
		if err != nil {
			t.Fatal(err)
		}
		if o, err = NewOwner(dir, token); err != nil {
			t.Fatal(err)
		}
		o.Keep(filepath.Join(dir, "cache", "setup"))
		return dir, token, o
	}
	for _, tc := range []struct {
		name     string
		change   func(t *testing.T, dir string)
		lost     string // a piece of the reason; "" when still ours
		restored bool
	}{
		{"untouched", func(*testing.T, string) {}, "", false},
		{"token removed", func(t *testing.T, dir string) { os.Remove(TokenPath(dir)) }, "", true},
		{"token replaced", func(t *testing.T, dir string) {
			os.WriteFile(TokenPath(dir), []byte(strings.Repeat("0", 64)+"\n"), 0o600)
		}, "was replaced", false},
		{"cache dir removed", func(t *testing.T, dir string) { os.RemoveAll(filepath.Join(dir, "cache")) }, "cache/setup was removed", false},
		{"state dir removed", func(t *testing.T, dir string) { os.RemoveAll(dir) }, "was removed", false},
		{"state dir made again", func(t *testing.T, dir string) {
			os.Rename(dir, dir+".old")
			os.MkdirAll(filepath.Join(dir, "cache", "setup"), 0o700)
		}, "replaced by another directory", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, token, o := newState(t)
			tc.change(t, dir)
			lost, restored := o.Check()
			if tc.lost == "" && lost != "" || tc.lost != "" && !strings.Contains(lost, tc.lost) {
				t.Fatalf("lost = %q, want %q", lost, tc.lost)
			}
			if (restored != "") != tc.restored {
				t.Fatalf("restored = %q, want restored: %v", restored, tc.restored)
			}
			if tc.restored {
				if got, _ := ReadToken(dir); got != token {
					t.Fatalf("token after restore = %q, want the old one", got)
				}
			}
		})
	}
}

// A StateID does not reveal the token and differs between tokens.
func TestStateID(t *testing.T) {
	a, b := StateID("one"), StateID("two")
	if a == b || len(a) != 16 || strings.Contains(a, "one") {
		t.Fatalf("StateID: %q, %q", a, b)
	}
}
