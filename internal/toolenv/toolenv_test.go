package toolenv

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFields(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  -O2   -g ", []string{"-O2", "-g"}},
		{`-DNAME="a b" -I'x y'`, []string{"-DNAME=a b", "-Ix y"}},
		{`-DQ=\"v\"`, []string{`-DQ="v"`}},
		{`"" -c`, []string{"", "-c"}},
		{"-a\t-b\n-c", []string{"-a", "-b", "-c"}},
	} {
		if got := Fields(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Fields(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// LookPath searches the caller's PATH, not this process's, and skips
// relative entries and files that are not executable.
func TestLookPath(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(a, "tool"), []byte("#!/bin/sh\n"), 0o644) // not executable
	os.WriteFile(filepath.Join(b, "tool"), []byte("#!/bin/sh\n"), 0o755)
	e := Env{Path: strings.Join([]string{"relative", a, b}, string(os.PathListSeparator))}
	got, err := e.LookPath("tool")
	if err != nil || got != filepath.Join(b, "tool") {
		t.Fatalf("LookPath = %q, %v; want %s", got, err, filepath.Join(b, "tool"))
	}
	if _, err := (Env{Path: a}).LookPath("tool"); err == nil {
		t.Fatal("found a file that is not executable")
	}
	env := e.Environ()
	if !slices.Contains(env, "PATH="+e.Path) {
		t.Fatalf("Environ has no PATH=%s", e.Path)
	}
	if (Env{}).Environ() != nil {
		t.Fatal("an empty Env must inherit the environment (nil)")
	}
}

func TestFlagsOrder(t *testing.T) {
	e := Env{CC: "gcc -m32", CPPFlags: "-DA", CFlags: "-O1", CXXFlags: "-O3", LDFlags: "-L/x"}
	if got := e.Compiler(false); !slices.Equal(got, []string{"gcc", "-m32"}) {
		t.Errorf("Compiler = %q", got)
	}
	if got := e.CompileFlags(false); !slices.Equal(got, []string{"-DA", "-O1"}) {
		t.Errorf("C flags = %q", got)
	}
	if got := e.CompileFlags(true); !slices.Equal(got, []string{"-DA", "-O3"}) {
		t.Errorf("C++ flags = %q", got)
	}
	if got := e.LinkFlags(); !slices.Equal(got, []string{"-L/x"}) {
		t.Errorf("link flags = %q", got)
	}
}
