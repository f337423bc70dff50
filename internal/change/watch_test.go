package change

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/testenv"
)

// A daemon killed with -9 leaves its cookie directory behind; the next
// engine on the same cache directory removes those of dead processes and
// leaves live ones alone.
func TestCookieDirsOfDeadProcessesAreRemoved(t *testing.T) {
	parent := t.TempDir()
	dead := filepath.Join(parent, "999999999")
	live := filepath.Join(parent, "1") // init, always alive
	os.MkdirAll(dead, 0o700)
	os.MkdirAll(live, 0o700)
	dir, err := cookieDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Error("cookie directory of a dead process left in place")
	}
	if _, err := os.Stat(live); err != nil {
		t.Error("cookie directory of a live process removed")
	}
	if filepath.Dir(dir) != parent {
		t.Errorf("cookie dir %s not under %s", dir, parent)
	}
}

// TestCookiesAreReused: syncs touch kept cookie files rather than creating
// new ones, concurrent syncs each get their own, and all of them succeed.
func TestCookiesAreReused(t *testing.T) {
	wt, err := New(t.TempDir())
	if err != nil {
		t.Skip("no inotify:", err)
	}
	defer wt.Close()
	for i := range 20 {
		if !wt.Sync() {
			t.Fatalf("sync %d failed", i)
		}
	}
	if ents, _ := os.ReadDir(wt.cookieDir); len(ents) != 1 {
		t.Fatalf("%d cookie files after 20 syncs one after the other, want 1", len(ents))
	}
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if !wt.Sync() {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d concurrent syncs failed", failed.Load())
	}
	if ents, _ := os.ReadDir(wt.cookieDir); len(ents) > 8 {
		t.Fatalf("%d cookie files for 8 concurrent syncers", len(ents))
	}
}

// settled returns a set over in and out that Unchanged vouches for: the
// first Settle adds the watches, the second finds them all in place.
func settled(t *testing.T, wt *Watcher, in, out string) *Set {
	t.Helper()
	s := wt.NewSet()
	for i := range 2 {
		s.Arm()
		ok := s.Settle(map[string]bool{in: true}, map[string]bool{out: true})
		if want := i == 1; ok != want {
			t.Fatalf("Settle %d = %v, want %v", i, ok, want)
		}
	}
	if !s.Unchanged() {
		t.Fatal("settled set not Unchanged")
	}
	return s
}

func newWatcher(t *testing.T) *Watcher {
	t.Helper()
	wt, err := New(t.TempDir())
	if err != nil {
		t.Skip("no inotify:", err)
	}
	t.Cleanup(wt.Close)
	return wt
}

// Any change in a watched directory, made just before the check (no pause:
// the cookie orders it), ends Unchanged until the next Arm and Settle.
func TestSetSeesEveryChange(t *testing.T) {
	wt := newWatcher(t)
	for _, tc := range []struct {
		name   string
		change func(in, out string) error
	}{
		{"write an input", func(in, out string) error { return os.WriteFile(filepath.Join(in, "a.c"), []byte("x"), 0o644) }},
		{"add an input", func(in, out string) error { return os.WriteFile(filepath.Join(in, "new.h"), nil, 0o644) }},
		{"remove an input", func(in, out string) error { return os.Remove(filepath.Join(in, "a.c")) }},
		{"touch an input", func(in, out string) error {
			return os.Chtimes(filepath.Join(in, "a.c"), time.Now(), time.Now())
		}},
		{"remove an output", func(in, out string) error { return os.Remove(filepath.Join(out, "a.o")) }},
		{"remove the input directory", func(in, out string) error { return os.RemoveAll(in) }},
		{"rename the output directory", func(in, out string) error { return os.Rename(out, out+".old") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, out := t.TempDir(), t.TempDir()
			os.WriteFile(filepath.Join(in, "a.c"), nil, 0o644)
			os.WriteFile(filepath.Join(out, "a.o"), nil, 0o644)
			s := settled(t, wt, in, out)
			if err := tc.change(in, out); err != nil {
				t.Fatal(err)
			}
			if s.Unchanged() {
				t.Fatal("Unchanged after the change")
			}
		})
	}
}

// Outputs written during the work are its own and forgotten at Settle;
// an input changed during the work makes its result suspect.
func TestSettleJudgesTheWork(t *testing.T) {
	wt := newWatcher(t)
	in, out := t.TempDir(), t.TempDir()
	s := settled(t, wt, in, out)

	s.Arm()
	os.WriteFile(filepath.Join(out, "a.o"), []byte("new"), 0o644)
	if !s.Settle(map[string]bool{in: true}, map[string]bool{out: true}) || !s.Unchanged() {
		t.Fatal("the work's own output write spoiled its Settle")
	}

	s.Arm()
	os.WriteFile(filepath.Join(in, "a.c"), []byte("edited during the work"), 0o644)
	wt.Sync() // the event is read before Settle on a busy machine too
	if s.Settle(map[string]bool{in: true}, map[string]bool{out: true}) || s.Unchanged() {
		t.Fatal("an input edited during the work left the set vouching for it")
	}
	s.Arm()
	if !s.Settle(map[string]bool{in: true}, map[string]bool{out: true}) {
		t.Fatal("the next work did not settle")
	}

	// A directory new to the set was not watched while the work ran.
	extra := t.TempDir()
	s.Arm()
	if s.Settle(map[string]bool{in: true, extra: true}, map[string]bool{out: true}) {
		t.Fatal("Settle vouched for work over a directory it did not watch")
	}
}

// A directory removed and made again is watched anew, not taken for the
// old one; two sets on one directory both see its events; a closed
// watcher proves nothing.
func TestRecreatedDirsAndSharing(t *testing.T) {
	wt := newWatcher(t)
	in, out := t.TempDir(), t.TempDir()
	a := settled(t, wt, in, out)
	b := settled(t, wt, in, t.TempDir())

	os.RemoveAll(out)
	os.Mkdir(out, 0o755)
	if a.Unchanged() {
		t.Fatal("Unchanged after the output directory was replaced")
	}
	if !b.Unchanged() {
		t.Fatal("another set's output directory dirtied this one")
	}
	a.Arm()
	if a.Settle(map[string]bool{in: true}, map[string]bool{out: true}) {
		t.Fatal("the replaced directory was taken for watched")
	}
	a.Arm()
	if !a.Settle(map[string]bool{in: true}, map[string]bool{out: true}) {
		t.Fatal("the new directory is not watched after a Settle")
	}
	os.WriteFile(filepath.Join(out, "x"), nil, 0o644)
	if a.Unchanged() {
		t.Fatal("a write in the new output directory went unseen")
	}

	os.WriteFile(filepath.Join(in, "shared.h"), nil, 0o644)
	if b.Unchanged() {
		t.Fatal("a change in a shared input directory went unseen by the second set")
	}

	c := settled(t, wt, t.TempDir(), t.TempDir())
	wt.Close()
	if c.Unchanged() {
		t.Fatal("Unchanged after Close")
	}
}

// ArmChanged lists the paths changed since the work it vouches for began,
// right up to the call; a save by rename lists the file; anything it
// cannot list exactly (an event on a watched directory, too many paths,
// an input changed during the work, two paths of one directory) gives no
// list.
func TestArmChangedListsChanges(t *testing.T) {
	defer func(n int) { maxNames = n }(maxNames)
	maxNames = 16
	wt := newWatcher(t)
	in, out := t.TempDir(), t.TempDir()
	src, obj := filepath.Join(in, "a.c"), filepath.Join(out, "a.o")
	os.WriteFile(src, []byte("x"), 0o644)
	os.WriteFile(obj, nil, 0o644)
	os.WriteFile(filepath.Join(in, "b.c"), nil, 0o644)
	s := settled(t, wt, in, out)
	settle := func() {
		t.Helper()
		if !s.Settle(map[string]bool{in: true}, map[string]bool{out: true}) {
			t.Fatal("Settle refused")
		}
	}
	list := func(want ...string) {
		t.Helper()
		paths, ok := s.ArmChanged()
		if !ok {
			t.Fatalf("no list, want %v", want)
		}
		for _, p := range want {
			if !paths[p] {
				t.Fatalf("list %v lacks %s", paths, p)
			}
		}
		if len(paths) != len(want) {
			t.Fatalf("list %v, want %v", paths, want)
		}
	}
	noList := func(why string) {
		t.Helper()
		if paths, ok := s.ArmChanged(); ok {
			t.Fatalf("%s: list %v", why, paths)
		}
	}
	list()
	settle()
	os.Chtimes(src, time.Now(), time.Now())
	list(src)
	settle()

	// An editor's save: a temp file written and renamed over the source.
	testenv.SaveByRename(t, src, "y")
	list(src, filepath.Join(in, ".jmake-test-save"))
	settle()

	os.Remove(obj)
	list(obj)
	settle()

	// An edit while the work runs (after ArmChanged, before Settle).
	s.ArmChanged()
	os.WriteFile(src, []byte("z"), 0o644)
	if s.Settle(map[string]bool{in: true}, map[string]bool{out: true}) {
		t.Fatal("Settle vouched for work during which an input changed")
	}
	noList("an input changed during the work")
	settle()
	list()
	settle()

	for i := range maxNames + 1 {
		os.WriteFile(filepath.Join(out, "f"+strconv.Itoa(i)), nil, 0o644)
	}
	noList("more paths than the bound")
	settle()
	list()
	settle()

	sub := filepath.Join(in, "sub")
	os.Mkdir(sub, 0o755)
	list(sub)
	if s.Settle(map[string]bool{in: true, sub: true}, map[string]bool{out: true}) {
		t.Fatal("Settle vouched with a directory it did not watch before")
	}
	noList("the last Settle watched a new directory")
	if !s.Settle(map[string]bool{in: true, sub: true}, map[string]bool{out: true}) {
		t.Fatal("Settle refused")
	}
	list()
	s.Settle(map[string]bool{in: true, sub: true}, map[string]bool{out: true})
	os.Chmod(sub, 0o700)
	noList("an event on a watched directory")
	s.Settle(map[string]bool{in: true, sub: true}, map[string]bool{out: true})
	list()

	// One directory under two paths: inotify names its events under one.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(in, link); err != nil {
		t.Fatal(err)
	}
	s.Settle(map[string]bool{in: true, sub: true, link: true}, map[string]bool{out: true})
	noList("a directory watched under two paths")
	s.Settle(map[string]bool{in: true, sub: true, link: true}, map[string]bool{out: true})
	noList("a directory watched under two paths, later")
}
