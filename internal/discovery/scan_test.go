package discovery

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/change"
	"github.com/jmake/jmake/internal/testenv"
)

func TestScanFilesClassifies(t *testing.T) {
	root := testenv.Tree(t, map[string]string{
		"main.c":                   "",
		"src/b.c":                  "",
		"src/a.cpp":                "",
		"src/x.cc":                 "",
		"src/y.C":                  "",
		"src/z.cxx":                "",
		"include/p/a.h":            "",
		"include/p/b.hpp":          "",
		"src/impl.ipp":             "",
		"src/impl.inl":             "",
		"README.md":                "",
		"Makefile":                 "",
		".clang-format":            "",
		"build/obj/a.o":            "",
		"build/gen.c":              "",
		".git/HEAD":                "",
		".cache/x.c":               "",
		"third_party/lib/t.c":      "",
		"src/legacy/old.c":         "",
		"src/gen/out.gen.c":        "",
		"src/deep/er/still.c":      "",
		"src/deep/er/skip.gen.c":   "",
		"tests/fixtures/broken.cc": "",
	})
	scan, cached, err := New(Options{}).ScanFiles(root, false, []string{"third_party", "src/legacy/**", "**/*.gen.c", "tests/fixtures/"}, "build")
	if err != nil || cached {
		t.Fatalf("ScanFiles: cached=%v err=%v", cached, err)
	}
	want := Scan{
		Root:       root,
		CSources:   []string{"main.c", "src/b.c", "src/deep/er/still.c"},
		CPPSources: []string{"src/a.cpp", "src/x.cc", "src/y.C", "src/z.cxx"},
		Headers:    []string{"include/p/a.h", "include/p/b.hpp", "src/impl.ipp"},
		Other:      4, // README.md, Makefile, .clang-format, src/impl.inl
		Dirs:       8,
		Walked:     []string{".", "include", "include/p", "src", "src/deep", "src/deep/er", "src/gen", "tests"},
	}
	if fmt.Sprint(scan) != fmt.Sprint(want) {
		t.Errorf("ScanFiles =\n %+v\nwant\n %+v", scan, want)
	}
}

func TestScanFilesBuildDir(t *testing.T) {
	root := testenv.Tree(t, map[string]string{"a.c": "", "out/b.c": "", "build/c.c": ""})
	d := New(Options{})
	for _, tc := range []struct {
		buildDir string
		want     []string
	}{
		{"", []string{"a.c", "out/b.c"}},
		{"build", []string{"a.c", "out/b.c"}},
		{"out", []string{"a.c", "build/c.c"}},
		{filepath.Join(root, "out"), []string{"a.c", "build/c.c"}},
		{"/elsewhere", []string{"a.c", "build/c.c", "out/b.c"}},
	} {
		scan, _, err := d.ScanFiles(root, false, nil, tc.buildDir)
		if err != nil || !slices.Equal(scan.CSources, tc.want) {
			t.Errorf("buildDir %q: sources %q, %v; want %q", tc.buildDir, scan.CSources, err, tc.want)
		}
	}
}

func TestScanFilesNoticesChanges(t *testing.T) {
	root := testenv.Tree(t, map[string]string{
		"src/a.c":          "",
		"src/sub/b.c":      "",
		"src/sub/deep/c.h": "",
		"README":           "",
	})
	d := New(Options{Logger: testLogger(t)})
	scan := func() (Scan, bool) {
		t.Helper()
		s, cached, err := d.ScanFiles(root, false, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		return s, cached
	}
	if _, cached := scan(); cached {
		t.Fatal("first scan cached")
	}
	if _, cached := scan(); !cached {
		t.Fatal("unchanged scan not cached")
	}
	steps := []struct {
		name   string
		change func() error
		check  func(Scan) bool
	}{
		{"add in subdirectory", func() error {
			return os.WriteFile(filepath.Join(root, "src/sub/deep/new.c"), nil, 0o644)
		}, func(s Scan) bool { return slices.Contains(s.CSources, "src/sub/deep/new.c") }},
		{"remove in subdirectory", func() error {
			return os.Remove(filepath.Join(root, "src/sub/b.c"))
		}, func(s Scan) bool { return !slices.Contains(s.CSources, "src/sub/b.c") }},
		{"rename in subdirectory", func() error {
			return os.Rename(filepath.Join(root, "src/sub/deep/c.h"), filepath.Join(root, "src/sub/deep/c.hpp"))
		}, func(s Scan) bool {
			return slices.Equal(s.Headers, []string{"src/sub/deep/c.hpp"})
		}},
		{"rename across directories", func() error {
			return os.Rename(filepath.Join(root, "src/a.c"), filepath.Join(root, "src/sub/a.cpp"))
		}, func(s Scan) bool {
			return !slices.Contains(s.CSources, "src/a.c") && slices.Equal(s.CPPSources, []string{"src/sub/a.cpp"})
		}},
		{"new directory", func() error {
			return os.MkdirAll(filepath.Join(root, "lib/x"), 0o755)
		}, func(s Scan) bool { return s.Dirs == 6 }},
		{"file in new directory", func() error {
			return os.WriteFile(filepath.Join(root, "lib/x/y.h"), nil, 0o644)
		}, func(s Scan) bool { return slices.Contains(s.Headers, "lib/x/y.h") }},
		{"file replaced by directory", func() error {
			if err := os.Remove(filepath.Join(root, "README")); err != nil {
				return err
			}
			return os.MkdirAll(filepath.Join(root, "README"), 0o755)
		}, func(s Scan) bool { return s.Other == 0 && s.Dirs == 7 }},
		{"remove directory", func() error {
			return os.RemoveAll(filepath.Join(root, "lib"))
		}, func(s Scan) bool { return !slices.Contains(s.Headers, "lib/x/y.h") && s.Dirs == 5 }},
	}
	for _, st := range steps {
		if err := st.change(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		s, cached := scan()
		if cached || !st.check(s) {
			t.Fatalf("%s: cached=%v scan=%+v", st.name, cached, s)
		}
		if _, cached := scan(); !cached {
			t.Fatalf("%s: scan after no further change not cached", st.name)
		}
	}

	// Editing a file's content changes no directory: still cached.
	if err := os.WriteFile(filepath.Join(root, "src/sub/a.cpp"), []byte("int x;"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, cached := scan(); !cached {
		t.Error("content edit invalidated the scan")
	}
	// force re-walks.
	if _, cached, err := d.ScanFiles(root, true, nil, ""); err != nil || cached {
		t.Errorf("forced scan: cached=%v err=%v", cached, err)
	}
}

// TestScanFilesEditorSave: a file saved by rename (a temp file written
// beside it and renamed over it, as sed -i and most editors do) moves its
// directory's stat but not its listing: the scan stays cached, and is
// renewed (in the store once settled) so that later checks trust the stat. A file created the same
// way, or the directory replaced by one listing the same, is a change.
func TestScanFilesEditorSave(t *testing.T) {
	root := testenv.Tree(t, map[string]string{"src/a.c": "", "src/b.c": "", "include/a.h": ""})
	hourAgo := time.Now().Add(-time.Hour)
	for _, dir := range []string{root, filepath.Join(root, "src"), filepath.Join(root, "include")} {
		if err := os.Chtimes(dir, hourAgo, hourAgo); err != nil {
			t.Fatal(err)
		}
	}
	d := New(Options{Logger: testLogger(t)})
	scan := func(step string) (Scan, bool) {
		t.Helper()
		s, cached, err := d.ScanFiles(root, false, nil, "")
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return s, cached
	}
	scan("first")
	key := scanKey(root, "build", nil)
	src := filepath.Join(root, "src")
	before, err := os.Lstat(src)
	if err != nil {
		t.Fatal(err)
	}

	testenv.SaveByRename(t, filepath.Join(root, "src/a.c"), "int a;")
	after, err := os.Lstat(src)
	if err != nil {
		t.Fatal(err)
	}
	if change.IDOf(after) == change.IDOf(before) {
		t.Fatal("the save did not move src/'s identity: the test proves nothing")
	}
	hits := d.CacheStats()["scans"].Hits
	if s, cached := scan("after saving src/a.c"); !cached || !slices.Equal(s.CSources, []string{"src/a.c", "src/b.c"}) {
		t.Fatalf("after saving src/a.c: cached=%v sources=%q, want the cached scan", cached, s.CSources)
	}
	if got := d.CacheStats()["scans"].Hits; got != hits+1 {
		t.Fatalf("scans hits %d, want %d", got, hits+1)
	}
	srcID := func(rec *scanRecord) change.ID {
		for _, dr := range rec.Dirs {
			if dr.Rel == "src" {
				return dr.ID
			}
		}
		t.Fatal("src/ not in the scan record")
		return change.ID{}
	}
	if got := srcID(d.loadScan(key)); got != change.IDOf(after) {
		t.Fatalf("remembered src/ identity %+v, want the renewed %+v", got, change.IDOf(after))
	}
	// Once src/ is out of the racy window, the renewal is stored too.
	if err := os.Chtimes(src, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}
	if _, cached := scan("after src/ aged"); !cached {
		t.Fatal("src/ aged: the scan was not cached")
	}
	aged, err := os.Lstat(src)
	if err != nil {
		t.Fatal(err)
	}
	var stored scanRecord
	if !getJSON(d.scans, key, &stored) || srcID(&stored) != change.IDOf(aged) {
		t.Fatalf("stored src/ identity %+v, want the settled %+v", srcID(&stored), change.IDOf(aged))
	}

	testenv.SaveByRename(t, filepath.Join(root, "src/c.c"), "int c;")
	if s, cached := scan("after creating src/c.c"); cached || !slices.Contains(s.CSources, "src/c.c") {
		t.Fatalf("after creating src/c.c by rename: cached=%v sources=%q", cached, s.CSources)
	}

	// include/ replaced by a directory with the same entries: another
	// directory, rescanned.
	inc := filepath.Join(root, "include")
	if err := os.Rename(inc, inc+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(inc, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(inc+".old", "a.h"), filepath.Join(inc, "a.h")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(inc + ".old"); err != nil {
		t.Fatal(err)
	}
	if _, cached := scan("after replacing include/"); cached {
		t.Fatal("include/ replaced: the scan stayed cached")
	}
}

// TestScanRacyDirectories checks the guard against a change made within the
// same timestamp tick as the scan: the directory's stat then looks
// unchanged, and only re-reading its entries tells.
func TestScanRacyDirectories(t *testing.T) {
	root := testenv.Tree(t, map[string]string{"src/a.c": ""})
	d := New(Options{})
	if _, _, err := d.ScanFiles(root, false, nil, ""); err != nil {
		t.Fatal(err)
	}
	rec := d.loadScan(scanKey(root, "build", nil))
	if err := os.WriteFile(filepath.Join(root, "src/b.c"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Pretend the stat did not change: the record's identities are the
	// directories' current ones, the entry hashes the old ones.
	forged := *rec
	forged.Dirs = slices.Clone(rec.Dirs)
	for i, dr := range forged.Dirs {
		fi, err := os.Lstat(filepath.Join(root, dr.Rel))
		if err != nil {
			t.Fatal(err)
		}
		forged.Dirs[i].ID = change.IDOf(fi)
	}
	if ok, _ := d.scanCurrent(root, &forged); ok {
		t.Error("racily clean directory with a new entry taken as unchanged")
	}
	// Observed long after the mtimes, the stat alone is trusted (which is
	// why the window must cover a timestamp tick).
	forged.ObservedNS = time.Now().Add(time.Hour).UnixNano()
	if ok, _ := d.scanCurrent(root, &forged); !ok {
		t.Error("settled record not trusted by stat")
	}

	// A racy record found current, once its directories are old enough,
	// is settled: recorded as observed now, and trusted by stat next time.
	root2 := testenv.Tree(t, map[string]string{"src/a.c": ""})
	hourAgo := time.Now().Add(-time.Hour)
	for _, dir := range []string{root2, filepath.Join(root2, "src")} {
		if err := os.Chtimes(dir, hourAgo, hourAgo); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := d.ScanFiles(root2, false, nil, ""); err != nil {
		t.Fatal(err)
	}
	key := scanKey(root2, "build", nil)
	d.loadScan(key).ObservedNS = hourAgo.UnixNano() // as if scanned an hour ago
	if _, cached, err := d.ScanFiles(root2, false, nil, ""); err != nil || !cached {
		t.Fatalf("racy but unchanged: cached=%v err=%v", cached, err)
	}
	var stored scanRecord
	if !getJSON(d.scans, key, &stored) || stored.ObservedNS <= hourAgo.UnixNano() || d.loadScan(key).ObservedNS != stored.ObservedNS {
		t.Errorf("record not settled: stored %d, memory %d, scanned at %d", stored.ObservedNS, d.loadScan(key).ObservedNS, hourAgo.UnixNano())
	}
}

func TestScanFilesErrors(t *testing.T) {
	root := testenv.Tree(t, map[string]string{"f.c": ""})
	d := New(Options{})
	for _, tc := range []struct {
		name, root string
		excludes   []string
		want       string
	}{
		{"missing root", filepath.Join(root, "nope"), nil, filepath.Join(root, "nope")},
		{"root is a file", filepath.Join(root, "f.c"), nil, filepath.Join(root, "f.c")},
		{"bad glob", root, []string{"src/[x"}, "src/[x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := d.ScanFiles(tc.root, false, tc.excludes, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
}

// TestExcludes checks the exclude patterns as ScanFiles applies them:
// project.MatchGlob's meaning (tested with it), and whole directories.
func TestExcludes(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		want          bool
	}{
		{"**/*.gen.c", "src/deep/a.gen.c", true},
		{"*.gen.c", "src/deep/a.gen.c", false},
		{"src/**", "src", true},
		{"./vendor/", "vendor", true},
		{"src/[!a]*.c", "src/b.c", true},
	} {
		gs, err := compileGlobs([]string{tc.pattern})
		if err != nil {
			t.Fatal(err)
		}
		if got := gs.match(tc.path); got != tc.want {
			t.Errorf("match(%q, %q) = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
}

// makeTree writes n empty sources spread over about 30 directories, the
// shape of a 1000-unit project.
func makeTree(t testing.TB, root string, n int) {
	files := make(map[string]string, n)
	for i := range n {
		files[fmt.Sprintf("src/m%02d/s%02d/f%04d.c", i%6, i%5, i)] = ""
	}
	testenv.WriteFiles(t, root, files)
}

func TestScanUnchangedIsFast(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, 1000)
	d := New(Options{})
	if _, _, err := d.ScanFiles(root, false, nil, ""); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	const rounds = 20
	for range rounds {
		if s, cached, err := d.ScanFiles(root, false, nil, ""); err != nil || !cached || len(s.CSources) != 1000 {
			t.Fatalf("cached=%v err=%v", cached, err)
		}
	}
	// A stat per directory (and, this soon after writing, a re-read of
	// each racy one): well under the ~3 ms it takes to stat every file.
	t.Logf("unchanged scan of 1000 files in 32 directories: %v", time.Since(start)/rounds)
}

func BenchmarkScanUnchanged(b *testing.B) {
	root := b.TempDir()
	makeTree(b, root, 1000)
	d := New(Options{})
	if _, _, err := d.ScanFiles(root, false, nil, ""); err != nil {
		b.Fatal(err)
	}
	// Settle the record, as it is a couple of seconds after the last edit.
	rec := d.loadScan(scanKey(root, "build", nil))
	rec.ObservedNS = time.Now().Add(time.Hour).UnixNano()
	b.ResetTimer()
	for b.Loop() {
		if _, cached, err := d.ScanFiles(root, false, nil, ""); err != nil || !cached {
			b.Fatalf("cached=%v err=%v", cached, err)
		}
	}
}

func BenchmarkScanCold(b *testing.B) {
	root := b.TempDir()
	makeTree(b, root, 1000)
	d := New(Options{})
	for b.Loop() {
		if _, _, err := d.ScanFiles(root, true, nil, ""); err != nil {
			b.Fatal(err)
		}
	}
}

func TestScanFilesRootSymlink(t *testing.T) {
	real := testenv.Tree(t, map[string]string{"a.c": ""})
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	d := New(Options{})
	for i, want := range []bool{false, true} {
		if s, cached, err := d.ScanFiles(link, false, nil, ""); err != nil || cached != want || len(s.CSources) != 1 {
			t.Errorf("scan %d through a link: %+v cached=%v err=%v", i, s, cached, err)
		}
	}
}

func TestScanEmptyProjectJSON(t *testing.T) {
	d, root := New(Options{}), t.TempDir()
	for range 2 { // fresh, then from the cache
		s, _, err := d.ScanFiles(root, false, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"c_sources":[],"cpp_sources":[],"headers":[]`) {
			t.Errorf("empty scan as JSON: %s", b)
		}
	}
}

// A symbolic link to a directory is walked (a vendored source tree kept
// elsewhere); a link back to an ancestor is not, so the walk ends; a file
// added behind the link is seen by the next scan.
func TestScanFilesFollowsDirectoryLinks(t *testing.T) {
	root, elsewhere := t.TempDir(), t.TempDir()
	testenv.WriteFiles(t, root, map[string]string{"src/a.c": ""})
	testenv.WriteFiles(t, elsewhere, map[string]string{"v.c": "", "sub/w.h": ""})
	for link, target := range map[string]string{"src/vendor": elsewhere, "src/loop": root, "src/up": filepath.Join(root, "src")} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	d := New(Options{})
	s, cached, err := d.ScanFiles(root, false, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.CSources, []string{"src/a.c", "src/vendor/v.c"}) || !reflect.DeepEqual(s.Headers, []string{"src/vendor/sub/w.h"}) || cached {
		t.Fatalf("scan: %+v cached=%v", s, cached)
	}
	if _, cached, _ := d.ScanFiles(root, false, nil, ""); !cached {
		t.Error("an unchanged tree with a linked directory was scanned again")
	}
	testenv.WriteFiles(t, elsewhere, map[string]string{"x.c": ""})
	if s, _, _ := d.ScanFiles(root, false, nil, ""); !slices.Contains(s.CSources, "src/vendor/x.c") {
		t.Errorf("a file added behind the link was missed: %q", s.CSources)
	}
}
