package change

import (
	"os"
	"path/filepath"
	"testing"
)

// TestAnswers: an answer is given back once a second piece of work settles
// over directories already watched, and no longer after a change in one.
func TestAnswers(t *testing.T) {
	var none *Answers[int]
	none.Arm("p")
	if _, ok := none.Unchanged("p"); ok || none.Settle("p", nil, nil, 1) {
		t.Fatal("answers without a watcher proved something")
	}
	wt, err := New(t.TempDir())
	if err != nil {
		t.Skip("no inotify:", err)
	}
	defer wt.Close()
	a := NewAnswers[int](wt)
	in, out := t.TempDir(), t.TempDir()
	work := func(val int) bool {
		a.Arm("p")
		return a.Settle("p", map[string]bool{in: true}, map[string]bool{out: true}, val)
	}
	if work(1) {
		t.Fatal("the first settle vouched, though its directories were not watched while it ran")
	}
	if _, ok := a.Unchanged("p"); ok {
		t.Fatal("unchanged after a first settle")
	}
	if !work(2) {
		t.Fatal("the second settle over watched directories did not vouch")
	}
	if v, ok := a.Unchanged("p"); !ok || v != 2 {
		t.Fatalf("Unchanged = %d, %v; want 2, true", v, ok)
	}
	if _, ok := a.Unchanged("other"); ok {
		t.Fatal("a key never armed is unchanged")
	}
	if err := os.WriteFile(filepath.Join(in, "x.c"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Unchanged("p"); ok {
		t.Fatal("unchanged after a file was created in an input directory")
	}
}
