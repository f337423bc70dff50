package discovery

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmake/jmake/internal/change"
	"github.com/jmake/jmake/internal/testenv"
)

func TestDetectBinaries(t *testing.T) {
	needTool(t, "gcc")
	needTool(t, "ar")
	root := testenv.Tree(t, map[string]string{
		"src/a.c":        "int a(void) { return 1; }\n",
		"src/main.c":     "int main(void) { return 0; }\n",
		"notes.txt":      "hello\n",
		"fake.o":         "\x7fELF but not really an ELF file at all",
		"tiny":           "\x7f",
		"empty":          "",
		"script.sh":      "#!/bin/sh\n",
		"lib.a.txt":      "!<arch>\n", // content decides, not the name
		".hidden/skip.o": "",
	})
	out := filepath.Join(root, "build")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, root, "gcc", "-c", "-fPIC", "src/a.c", "-o", "build/a.o")
	run(t, root, "gcc", "-shared", "build/a.o", "-o", "build/liba.so")
	run(t, root, "gcc", "-pie", "-fPIE", "src/main.c", "-o", "build/app")
	run(t, root, "gcc", "-no-pie", "-fno-PIE", "src/main.c", "-o", "build/app-nopie")
	run(t, root, "ar", "rcs", "build/liba.a", "build/a.o")
	run(t, root, "ar", "rcsT", "build/thin.a", "build/a.o")
	run(t, root, "cp", "build/a.o", ".hidden/skip.o")
	want := map[string]string{
		"build/a.o":        KindObject,
		"build/liba.so":    KindSharedLibrary,
		"build/app":        KindExecutable,
		"build/app-nopie":  KindExecutable,
		"build/liba.a":     KindStaticLibrary,
		"build/thin.a":     KindStaticLibrary,
		"lib.a.txt":        KindStaticLibrary,
		"build/static-pie": KindExecutable,
	}
	// A static PIE has no interpreter: only DF_1_PIE tells it from a
	// library. It needs a static libc, which not every machine has.
	if err := exec.Command("gcc", "-static-pie", "-fPIE", filepath.Join(root, "src/main.c"), "-o", filepath.Join(out, "static-pie")).Run(); err != nil {
		t.Logf("no static PIE here: %v", err)
		delete(want, "build/static-pie")
	}

	d := New(Options{Logger: testLogger(t)})
	bins, err := d.DetectBinaries(root)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for i, b := range bins {
		got[b.Path] = b.Kind
		if i > 0 && bins[i-1].Path >= b.Path {
			t.Errorf("not sorted: %s before %s", bins[i-1].Path, b.Path)
		}
		fi, err := os.Stat(filepath.Join(root, b.Path))
		if err != nil || fi.Size() != b.Size {
			t.Errorf("%s: size %d, file %v %v", b.Path, b.Size, fi, err)
		}
		if isELF := b.Kind != KindStaticLibrary; isELF && b.Machine == "" {
			t.Errorf("%s: no machine", b.Path)
		}
	}
	if len(got) != len(want) {
		t.Errorf("found %v, want %v", got, want)
	}
	for p, k := range want {
		if got[p] != k {
			t.Errorf("%s: kind %q, want %q", p, got[p], k)
		}
	}

	// Unchanged files are not opened again; a rebuilt one is.
	before := d.CacheStats()["binaries"]
	if _, err := d.DetectBinaries(root); err != nil {
		t.Fatal(err)
	}
	// Just written: every file is within the racy window and re-read.
	// Fake their age by settling the memo.
	d.binMu.Lock()
	for p, m := range d.binMemo {
		m.ObservedNS += int64(change.RacyWindow) * 10
		d.binMemo[p] = m
	}
	d.binMu.Unlock()
	if _, err := d.DetectBinaries(root); err != nil {
		t.Fatal(err)
	}
	after := d.CacheStats()["binaries"]
	if after.Hits-before.Hits < int64(len(want)) {
		t.Errorf("memo hits %d -> %d, want at least %d more", before.Hits, after.Hits, len(want))
	}
	if err := os.Remove(filepath.Join(out, "liba.so")); err != nil {
		t.Fatal(err)
	}
	run(t, root, "cp", "build/a.o", "build/liba.so")
	bins, err = d.DetectBinaries(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bins {
		if b.Path == "build/liba.so" && b.Kind != KindObject {
			t.Errorf("rebuilt build/liba.so: kind %q, want object", b.Kind)
		}
	}
}

func TestDetectBinariesErrors(t *testing.T) {
	root := t.TempDir()
	d := New(Options{})
	missing := filepath.Join(root, "nope")
	if _, err := d.DetectBinaries(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing root: error %v does not name it", err)
	}
	if bins, err := d.DetectBinaries(root); err != nil || len(bins) != 0 {
		t.Errorf("empty root: %v, %v", bins, err)
	}
}
