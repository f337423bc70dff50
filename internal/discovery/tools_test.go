package discovery

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTool writes an executable shell script called name into dir that
// appends a line to dir/name.runs each time it runs and answers the
// version arguments in answers (argument -> first line printed); other
// arguments exit 1. It returns a function counting the runs so far.
//
// The script is written to a temporary name and renamed into place, and
// the tests that write tools do not run in parallel: exec of a file that
// another goroutine's fork still holds open for writing fails with
// ETXTBSY (golang/go#22315).
func fakeTool(t *testing.T, dir, name string, answers map[string]string) (runs func() int) {
	t.Helper()
	log := filepath.Join(dir, name+".runs")
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/sh\necho \"$@\" >> '%s'\ncase \"$1\" in\n", log)
	for arg, line := range answers {
		fmt.Fprintf(&b, "%s) printf '\\n%s\\nsecond line\\n'; exit 0;;\n", arg, line)
	}
	b.WriteString("esac\nexit 1\n")
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(b.String()), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
	return func() int {
		data, _ := os.ReadFile(log)
		return strings.Count(string(data), "\n")
	}
}

func TestGetToolVersionAndRevalidation(t *testing.T) {
	dir := t.TempDir()
	runs := fakeTool(t, dir, "cc", map[string]string{"--version": "fakecc 1.0"})
	d := New(Options{SearchPath: dir, ExtraToolDirs: []string{}, Logger: testLogger(t)})

	tool, cached, err := d.GetTool("cc")
	if err != nil || cached {
		t.Fatalf("first GetTool: %+v cached=%v err=%v", tool, cached, err)
	}
	want := Tool{Name: "cc", Path: filepath.Join(dir, "cc"), RealPath: filepath.Join(dir, "cc"), Version: "fakecc 1.0"}
	if tool.Name != want.Name || tool.Path != want.Path || tool.RealPath != want.RealPath || tool.Version != want.Version || tool.Size == 0 || tool.ModTime.IsZero() {
		t.Errorf("GetTool = %+v, want %+v with size and mtime", tool, want)
	}

	for range 3 {
		if tool2, cached, err := d.GetTool("cc"); err != nil || !cached || !sameTool(tool2, tool) {
			t.Fatalf("unchanged GetTool: %+v cached=%v err=%v", tool2, cached, err)
		}
	}
	if n := runs(); n != 1 {
		t.Errorf("version command ran %d times for an unchanged tool, want 1", n)
	}

	// Same content, new mtime: the version command runs again.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "cc"), later, later); err != nil {
		t.Fatal(err)
	}
	if _, cached, err := d.GetTool("cc"); err != nil || cached {
		t.Fatalf("GetTool after touch: cached=%v err=%v", cached, err)
	}
	if n := runs(); n != 2 {
		t.Errorf("version command ran %d times after a touch, want 2", n)
	}

	// New content (a new file, as package managers install): new version.
	fakeTool(t, dir, "cc", map[string]string{"--version": "fakecc 2.0"})
	if tool, cached, err := d.GetTool("cc"); err != nil || cached || tool.Version != "fakecc 2.0" {
		t.Fatalf("GetTool after upgrade: %+v cached=%v err=%v", tool, cached, err)
	}
}

func sameTool(a, b Tool) bool {
	am, bm := a.ModTime, b.ModTime
	a.ModTime, b.ModTime = time.Time{}, time.Time{}
	return a == b && am.Equal(bm)
}

func TestGetToolVersionFallbacks(t *testing.T) {
	dir := t.TempDir()
	fakeTool(t, dir, "nm", map[string]string{"-V": "oldnm 0.9"})
	fakeTool(t, dir, "ar", map[string]string{"version": "arch-ar 3"})
	fakeTool(t, dir, "ld", nil)
	makeRuns := fakeTool(t, dir, "make", nil)
	d := New(Options{SearchPath: dir, ExtraToolDirs: []string{}})
	for _, tc := range []struct{ name, version string }{
		{"nm", "oldnm 0.9"},
		{"ar", "arch-ar 3"},
		{"ld", ""}, // a tool that prints no version is still found
		{"make", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tool, _, err := d.GetTool(tc.name)
			if err != nil || tool.Version != tc.version {
				t.Errorf("GetTool(%q) = %+v, %v; want version %q", tc.name, tool, err, tc.version)
			}
		})
	}
	// make is only ever asked --version: any other word is a target.
	if n := makeRuns(); n != 1 {
		t.Errorf("make ran %d times, want once (--version only)", n)
	}
}

func TestGetToolErrors(t *testing.T) {
	dir, extra := t.TempDir(), t.TempDir()
	fakeTool(t, extra, "opt", map[string]string{"--version": "LLVM 99"})
	if err := os.WriteFile(filepath.Join(dir, "gcc"), []byte("not executable"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := New(Options{SearchPath: dir + string(os.PathListSeparator) + "relative/dir", ExtraToolDirs: []string{extra}})

	t.Run("found in extra dir", func(t *testing.T) {
		tool, _, err := d.GetTool("opt")
		if err != nil || tool.Path != filepath.Join(extra, "opt") {
			t.Errorf("GetTool(opt) = %+v, %v", tool, err)
		}
	})
	for _, name := range []string{"gcc", "clang-14", "x86_64-linux-gnu-gcc"} {
		t.Run("missing "+name, func(t *testing.T) {
			_, _, err := d.GetTool(name)
			var nf *ToolNotFoundError
			if !errors.As(err, &nf) {
				t.Fatalf("GetTool(%q) error = %v, want ToolNotFoundError", name, err)
			}
			if !slices.Equal(nf.Searched, []string{dir, extra}) {
				t.Errorf("searched %q, want %q (relative PATH entries ignored)", nf.Searched, []string{dir, extra})
			}
			if msg := err.Error(); !strings.Contains(msg, name) || !strings.Contains(msg, dir) || !strings.Contains(msg, extra) {
				t.Errorf("error %q does not name the tool and the directories", msg)
			}
		})
	}
	for _, name := range []string{"rm", "sh", "../cc", "cc/x", "relative/gcc", "/bin/sh", ""} {
		t.Run("unknown "+name, func(t *testing.T) {
			if _, _, err := d.GetTool(name); !errors.Is(err, ErrUnknownTool) {
				t.Errorf("GetTool(%q) error = %v, want ErrUnknownTool", name, err)
			}
		})
	}
	t.Run("absolute path", func(t *testing.T) {
		tool, _, err := d.GetTool(filepath.Join(extra, "opt"))
		if err != nil || tool.Version != "LLVM 99" {
			t.Errorf("GetTool(abs opt) = %+v, %v", tool, err)
		}
	})
}

func TestGetToolConcurrentProbesOnce(t *testing.T) {
	dir := t.TempDir()
	runs := fakeTool(t, dir, "clang-14", map[string]string{"--version": "clang version 14"})
	d := New(Options{SearchPath: dir, ExtraToolDirs: []string{}})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if tool, _, err := d.GetTool("clang-14"); err != nil || tool.Version != "clang version 14" {
				t.Errorf("GetTool = %+v, %v", tool, err)
			}
		})
	}
	wg.Wait()
	if n := runs(); n != 1 {
		t.Errorf("version command ran %d times for 16 concurrent callers, want 1", n)
	}
}

func TestToolsListsVersionedNames(t *testing.T) {
	dir := t.TempDir()
	fakeTool(t, dir, "cc", map[string]string{"--version": "cc 1"})
	fakeTool(t, dir, "llvm-link-14", map[string]string{"--version": "LLVM 14"})
	fakeTool(t, dir, "llvm-link-15.0", map[string]string{"--version": "LLVM 15"})
	fakeTool(t, dir, "unrelated-14", map[string]string{"--version": "no"})
	d := New(Options{SearchPath: dir, ExtraToolDirs: []string{}})
	var names []string
	for _, tool := range d.Tools() {
		names = append(names, tool.Name)
	}
	if want := []string{"cc", "llvm-link-14", "llvm-link-15.0"}; !slices.Equal(names, want) {
		t.Errorf("Tools() names = %q, want %q", names, want)
	}
}

// TestToolsListsLinkers: the linkers the compilation daemon chooses among
// are listed when present.
func TestToolsListsLinkers(t *testing.T) {
	dir := t.TempDir()
	for _, l := range []string{"ld.bfd", "ld.gold", "ld.mold"} {
		fakeTool(t, dir, l, map[string]string{"--version": "GNU-compatible " + l})
	}
	d := New(Options{SearchPath: dir, ExtraToolDirs: []string{}})
	var names []string
	for _, tool := range d.Tools() {
		names = append(names, tool.Name+": "+tool.Version)
	}
	if want := []string{"ld.bfd: GNU-compatible ld.bfd", "ld.gold: GNU-compatible ld.gold", "ld.mold: GNU-compatible ld.mold"}; !slices.Equal(names, want) {
		t.Errorf("Tools() = %q, want %q", names, want)
	}
}

// TestRealTools checks the tools installed here: gcc on PATH, and LLVM's
// unsuffixed tools found in /usr/lib/llvm-*/bin by the default extra dirs
// even with nothing on the search path.
func TestRealTools(t *testing.T) {
	needTool(t, "gcc")
	d := New(Options{Logger: testLogger(t)})
	gcc, _, err := d.GetTool("gcc")
	if err != nil || !strings.Contains(gcc.Version, "gcc") {
		t.Errorf("GetTool(gcc) = %+v, %v", gcc, err)
	}
	ar, _, err := d.GetTool("ar")
	if err != nil || ar.Version == "" {
		t.Errorf("GetTool(ar) = %+v, %v", ar, err)
	}

	dirs := DefaultToolDirs()
	if len(dirs) == 0 {
		t.Skip("no /usr/lib/llvm-*/bin here")
	}
	d = New(Options{SearchPath: t.TempDir()})
	opt, _, err := d.GetTool("opt")
	if err != nil || filepath.Dir(opt.Path) != dirs[0] || !strings.Contains(opt.Version, "LLVM") {
		t.Errorf("GetTool(opt) with an empty PATH = %+v, %v; want it from %s", opt, err, dirs[0])
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		sign int
	}{
		{"9", "14", -1}, {"14", "14", 0}, {"14", "14.1", -1}, {"19", "14", 1},
	} {
		got := compareVersions(tc.a, tc.b)
		if got < 0 && tc.sign >= 0 || got > 0 && tc.sign <= 0 || got == 0 && tc.sign != 0 {
			t.Errorf("compareVersions(%q, %q) = %d, want sign %d", tc.a, tc.b, got, tc.sign)
		}
	}
}
