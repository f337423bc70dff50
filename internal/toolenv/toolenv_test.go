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

// The caller's pkg-config variables replace this process's; one the
// caller has not set is not set for the tools either.
func TestEnvironPkgConfig(t *testing.T) {
	t.Setenv("PKG_CONFIG_PATH", "/daemon/lib/pkgconfig")
	t.Setenv("PKG_CONFIG_LIBDIR", "/daemon/libdir")
	env := Env{Path: "/caller/bin", PkgConfigPath: "/caller/lib/pkgconfig"}.Environ()
	has := func(kv string) bool { return slices.Contains(env, kv) }
	if !has("PATH=/caller/bin") || !has("PKG_CONFIG_PATH=/caller/lib/pkgconfig") {
		t.Errorf("the caller's PATH or PKG_CONFIG_PATH missing: %q", env)
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "PKG_CONFIG_LIBDIR=") || kv == "PKG_CONFIG_PATH=/daemon/lib/pkgconfig" {
			t.Errorf("the daemon's %s reached the tools", kv)
		}
	}
	a, b := Env{Path: "/bin", PkgConfigPath: "/a"}, Env{Path: "/bin", PkgConfigPath: "/b"}
	if a.PkgConfigKey() == b.PkgConfigKey() || a.PkgConfigKey() != (Env{Path: "/bin", PkgConfigPath: "/a", CFlags: "-O2"}).PkgConfigKey() {
		t.Error("PkgConfigKey does not tell pkg-config's environments apart, or tells more")
	}
}

// The compiler driver's variables travel as pkg-config's do, and only
// those the caller set are in the keys.
func TestToolVars(t *testing.T) {
	t.Setenv("CPATH", "/daemon/include")
	e := Env{Path: "/bin", CPlusIncludePath: "/caller/include", SourceDateEpoch: "1700000000"}
	if got, want := e.ToolVars(), []string{"CPLUS_INCLUDE_PATH=/caller/include", "SOURCE_DATE_EPOCH=1700000000"}; !slices.Equal(got, want) {
		t.Errorf("ToolVars = %q, want %q", got, want)
	}
	env := e.Environ()
	if slices.Contains(env, "CPATH=/daemon/include") || !slices.Contains(env, "CPLUS_INCLUDE_PATH=/caller/include") {
		t.Errorf("Environ = %q: the daemon's CPATH kept, or the caller's CPLUS_INCLUDE_PATH lost", env)
	}
	if (Env{Path: "/bin"}).ToolVars() != nil {
		t.Error("ToolVars of an environment without them is not empty")
	}
}
