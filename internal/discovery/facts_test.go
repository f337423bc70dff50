package discovery

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/change"
	"github.com/jmake/jmake/internal/testenv"
)

func TestFactsFastPathAndRacyFiles(t *testing.T) {
	root := testenv.Tree(t, map[string]string{"a.c": "#include \"a.h\"\n"})
	p := filepath.Join(root, "a.c")
	d := New(Options{})
	f, parsed, err := d.facts(p)
	if err != nil || !parsed || len(f.Includes) != 1 || f.Includes[0].Name != "a.h" {
		t.Fatalf("facts = %+v parsed=%v err=%v", f, parsed, err)
	}

	// Forge what the memo says about the file, with its current identity:
	// trusted only when the file is older than the racy window was then.
	id, _, err := change.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	forged := fileFacts{Includes: []includeLine{{Name: "forged.h", Line: 1}}}
	for _, tc := range []struct {
		name     string
		observed int64
		want     string
	}{
		{"racy: re-read", id.MtimeNS, "a.h"},
		{"settled: trusted", id.MtimeNS + 10*int64(change.RacyWindow), "forged.h"},
	} {
		d.memoFacts(p, id, tc.observed, forged)
		f, _, err := d.facts(p)
		if err != nil || f.Includes[0].Name != tc.want {
			t.Errorf("%s: facts = %+v, %v; want %s", tc.name, f, err, tc.want)
		}
	}

	// Same size, mtime set back: ctime still tells.
	fi, _ := os.Stat(p)
	testenv.WriteFiles(t, root, map[string]string{"a.c": "#include \"b.h\"\n"})
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	d.memoFacts(p, id, id.MtimeNS+10*int64(change.RacyWindow), forged)
	if f, parsed, err := d.facts(p); err != nil || !parsed || f.Includes[0].Name != "b.h" {
		t.Errorf("rewritten with mtime set back: facts = %+v parsed=%v err=%v", f, parsed, err)
	}

	// After a restart the stat record in the deps cache is the fast path.
	if err := os.Chtimes(p, time.Now().Add(-time.Hour), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.facts(p); err != nil { // records the settled identity
		t.Fatal(err)
	}
	d2 := New(Options{Deps: d.deps})
	f, parsed, err = d2.facts(p)
	if err != nil || parsed || f.Includes[0].Name != "b.h" {
		t.Errorf("after restart: facts = %+v parsed=%v err=%v; want b.h from the cache", f, parsed, err)
	}
	if st := d2.CacheStats()["deps"]; st.Hits != 1 || st.Misses != 0 {
		t.Errorf("after restart: deps stats %+v", st)
	}
}
