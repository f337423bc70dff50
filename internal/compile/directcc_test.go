package compile

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDirectCompiles: once the first compile has proven that cc1 piped
// into as makes the driver's object, the other units skip the driver, and
// every object is byte for byte what its compile_commands.json command
// (the driver) makes; in C and in C++.
func TestDirectCompiles(t *testing.T) {
	requireTools(t, "gcc", "g++")
	root := t.TempDir()
	genProject(t, root, 40)
	writeFile(t, filepath.Join(root, "src/extra.cpp"), "#include <string>\nextern \"C\" int extra_len(void) { return std::string(\"direct\").size(); }\n")
	te := newEnv(t, 0)
	o := te.mustBuild(t, root, nil)
	// Two shapes (C and C++) prove themselves with one unit each; while
	// a proof runs, the other slot compiles through the driver.
	if n, units := te.e.Counters().DirectCompiles, o.res.Compiled; n < int64(units)/2 {
		t.Fatalf("%d of %d units compiled directly", n, units)
	}
	assertDriverObjects(t, root, o.res.CompileCommands)
	// Once proven, every compile of the shapes runs directly.
	before := te.e.Counters().DirectCompiles
	for _, u := range []string{"mod_0002", "mod_0017", "mod_0033"} {
		replaceInFile(t, filepath.Join(root, "src", u+".c"), "_salt = 0u;", "_salt = 9u;")
	}
	replaceInFile(t, filepath.Join(root, "src", "extra.cpp"), "direct", "directly")
	o = te.mustBuild(t, root, nil)
	if n := te.e.Counters().DirectCompiles - before; n != 4 || len(o.compiled) != 4 {
		t.Fatalf("%d of the edits' compiles (%v) ran directly, want all 4", n, o.compiled)
	}
	assertDriverObjects(t, root, o.res.CompileCommands)

	// A unit that no longer compiles reports the driver's messages.
	writeFile(t, filepath.Join(root, "src/broken.c"), "int broken(void) { return undeclared_name; }\n")
	before = te.e.Counters().DirectCompiles
	o = te.build(t, root, nil)
	if o.err == nil {
		t.Fatal("a unit with an error built")
	}
	diag := o.res.Diagnostics
	if !strings.Contains(diag, "src/broken.c:1:") || !strings.Contains(diag, "undeclared_name") {
		t.Fatalf("diagnostics %q", diag)
	}
	if n := te.e.Counters().DirectCompiles - before; n != 0 {
		t.Fatalf("%d direct compiles counted for a unit that failed", n)
	}
}

// assertDriverObjects runs every command of a compile_commands.json with
// the object in a temp file and compares that with the build's object.
func assertDriverObjects(t *testing.T, root, compdb string) {
	t.Helper()
	tmp := filepath.Join(t.TempDir(), "driver.o")
	for _, e := range readCompileCommands(t, compdb) {
		args := append([]string{}, e.Arguments[1:]...)
		args[len(args)-1] = tmp // -o <output>
		cmd := exec.Command(e.Arguments[0], args...)
		cmd.Dir = e.Directory
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", e.Arguments, err, out)
		}
		want, err1 := os.ReadFile(tmp)
		got, err2 := os.ReadFile(filepath.Join(root, e.Output))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s differs from what the driver makes of %s", e.Output, e.File)
		}
	}
}

// TestDirectCompileRefused: compiles run through the driver when the
// driver cannot be skipped: a wrapper in front of it (which must see every
// compile), or flags whose objects record their own file names.
func TestDirectCompileRefused(t *testing.T) {
	requireTools(t, "gcc", "sh")
	t.Run("wrapper", func(t *testing.T) {
		root := t.TempDir()
		genProject(t, root, 8)
		log := filepath.Join(t.TempDir(), "compiles")
		writeFile(t, filepath.Join(root, "cc-wrapper"), "#!/bin/sh\ncase \" $* \" in *\" -c \"*) echo \"$*\" >> "+log+";; esac\nexec gcc \"$@\"\n")
		if err := os.Chmod(filepath.Join(root, "cc-wrapper"), 0o755); err != nil {
			t.Fatal(err)
		}
		replaceInFile(t, filepath.Join(root, "jmake.toml"), "[compile]", "[compile]\ncompiler = \"./cc-wrapper\"")
		te := newEnv(t, 0)
		o := te.mustBuild(t, root, nil)
		data, _ := os.ReadFile(log)
		if n := strings.Count(string(data), "\n"); n != o.res.Compiled || strings.Contains(string(data), "-###") {
			t.Fatalf("the wrapper saw %d compiles of %d:\n%s", n, o.res.Compiled, data)
		}
		if n := te.e.Counters().DirectCompiles; n != 0 {
			t.Fatalf("%d compiles skipped the wrapper", n)
		}
	})
	t.Run("binary wrapper", func(t *testing.T) {
		// Like ccache or distcc: a program, asked for -### too, which
		// it hands to gcc, which then names gcc, not the wrapper.
		root := t.TempDir()
		genProject(t, root, 8)
		log := filepath.Join(t.TempDir(), "compiles")
		src := filepath.Join(t.TempDir(), "wrapper.c")
		writeFile(t, src, `#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
	int c = 0, probe = 0;
	for (int i = 1; i < argc; i++) { c |= !strcmp(argv[i], "-c"); probe |= !strcmp(argv[i], "-###"); }
	if (c && !probe) { FILE *f = fopen("`+log+`", "a"); fputs("compile\n", f); fclose(f); }
	argv[0] = "gcc";
	execvp("gcc", argv);
	return 127;
}
`)
		if out, err := exec.Command("gcc", "-o", filepath.Join(root, "cc-wrapper"), src).CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		replaceInFile(t, filepath.Join(root, "jmake.toml"), "[compile]", "[compile]\ncompiler = \"./cc-wrapper\"")
		te := newEnv(t, 0)
		o := te.mustBuild(t, root, nil)
		data, _ := os.ReadFile(log)
		if n := strings.Count(string(data), "\n"); n != o.res.Compiled {
			t.Fatalf("the wrapper saw %d compiles of %d", n, o.res.Compiled)
		}
		if n := te.e.Counters().DirectCompiles; n != 0 {
			t.Fatalf("%d compiles skipped the wrapper", n)
		}
	})
	t.Run("coverage", func(t *testing.T) {
		root := t.TempDir()
		genProject(t, root, 8)
		replaceInFile(t, filepath.Join(root, "jmake.toml"), "flags = [", "flags = [\"--coverage\", ")
		te := newEnv(t, 0)
		te.mustBuild(t, root, nil)
		if n := te.e.Counters().DirectCompiles; n != 0 {
			t.Fatalf("%d compiles ran directly with --coverage", n)
		}
	})
}

// The same with debug information: the objects name their sources and
// the build directory (mapped to "."), never a temp file.
func TestDirectCompilesDebug(t *testing.T) {
	requireTools(t, "gcc")
	root := t.TempDir()
	genProject(t, root, 12)
	replaceInFile(t, filepath.Join(root, "jmake.toml"), "flags = [", "flags = [\"-g\", ")
	te := newEnv(t, 0)
	te.mustBuild(t, root, nil) // proves the shape; units beside the proof use the driver
	before := te.e.Counters().DirectCompiles
	for _, u := range []string{"mod_0001", "mod_0004", "mod_0009"} {
		replaceInFile(t, filepath.Join(root, "src", u+".c"), "_salt = 0u;", "_salt = 3u;")
	}
	o := te.mustBuild(t, root, nil)
	if n := te.e.Counters().DirectCompiles - before; n != 3 || len(o.compiled) != 3 {
		t.Fatalf("%d of the edits' compiles (%v) ran directly, want all 3", n, o.compiled)
	}
	assertDriverObjects(t, root, o.res.CompileCommands)
}
