package compile

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestScale builds a generated project of JMAKE_SCALE_N units (10,000 by
// default) when JMAKE_SCALE=1: a cold build (tens of minutes on two cores,
// so never in the default suite), a no-op, an edit of one unit (one group
// relinked), and a direct link of every object (through a response file),
// whose library must export what the one linked from groups does.
func TestScale(t *testing.T) {
	if os.Getenv("JMAKE_SCALE") != "1" {
		t.Skip("set JMAKE_SCALE=1 (and JMAKE_SCALE_N, default 10000) to build a large project")
	}
	n := 10000
	if s := os.Getenv("JMAKE_SCALE_N"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatalf("JMAKE_SCALE_N=%q: %v", s, err)
		}
	}
	root := t.TempDir()
	genProject(t, root, n)
	te := newEnv(t, 0)
	timed := func(what string, opt func(*Request)) outcome {
		t.Helper()
		start := time.Now()
		o := te.mustBuild(t, root, opt)
		t.Logf("%s: %v (compiled %d, linked %v, linker %s)", what, time.Since(start).Round(time.Millisecond), o.res.Compiled, o.linked, o.res.Linker)
		return o
	}
	timed("cold", nil)
	grouped := definedSymbols(t, filepath.Join(root, "build", "libdemo.so"))
	if o := timed("no-op", nil); o.linked || o.res.Compiled != 0 {
		t.Fatalf("no-op compiled %d, linked %v", o.res.Compiled, o.linked)
	}
	backdate(t, root)
	editFile(t, filepath.Join(root, "src", "mod_0042.c"), "int scale_edit(void) { return 42; }")
	before := te.e.Counters()
	o := timed("edit one .c", nil)
	if d := te.e.Counters().GroupLinks - before.GroupLinks; o.res.Compiled != 1 || !o.linked || d != 1 {
		t.Fatalf("edit: compiled %d, linked %v, groups relinked %d", o.res.Compiled, o.linked, d)
	}
	grouped = append(grouped, "T scale_edit")
	slices.Sort(grouped)
	// Groups or not, the output is the same: removing it makes the link.
	if err := os.Remove(filepath.Join(root, "build", "libdemo.so")); err != nil {
		t.Fatal(err)
	}
	before = te.e.Counters()
	timed("direct link (partial_link = false)", func(r *Request) { f := false; r.Config.Binary.PartialLink = &f })
	// About 40 bytes an object: past rspThreshold from a few thousand.
	if n >= 5000 && te.e.Counters().RspFiles == before.RspFiles {
		t.Error("the direct link of every object used no response file")
	}
	if got := definedSymbols(t, filepath.Join(root, "build", "libdemo.so")); !slices.Equal(got, grouped) {
		t.Errorf("direct link exports %d symbols, the link from groups %d", len(got), len(grouped))
	}
}
