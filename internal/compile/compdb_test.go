package compile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestCompileCommands checks compile_commands.json: one entry per unit with
// relative paths, not rewritten by a no-op build, rewritten when the units
// change, and restored when deleted.
func TestCompileCommands(t *testing.T) {
	root, te, o := builtProject(t, 3, false)
	path := o.res.CompileCommands
	if path != filepath.Join(root, "build", "compile_commands.json") {
		t.Fatalf("CompileCommands = %s", path)
	}
	read := func() []ccEntry { t.Helper(); return readCompileCommands(t, path) }
	es := read()
	units := sources(t, root, mustLoad(t, root))
	if len(es) != len(units) {
		t.Fatalf("%d entries for %d units", len(es), len(units))
	}
	for i, e := range es {
		if e.File != units[i] || e.Directory != root || e.Output != "build/obj/"+units[i]+".o" {
			t.Errorf("entry %d: %+v", i, e)
		}
		n := len(e.Arguments)
		if n < 5 || !slices.Equal(e.Arguments[n-4:], []string{"-c", units[i], "-o", e.Output}) || !slices.Contains(e.Arguments, "-Iinclude") {
			t.Errorf("entry %d arguments %q", i, e.Arguments)
		}
	}
	before, _ := os.Stat(path)
	te.mustBuild(t, root, nil)
	after, _ := os.Stat(path)
	if !before.ModTime().Equal(after.ModTime()) || !os.SameFile(before, after) {
		t.Error("no-op build rewrote compile_commands.json")
	}

	writeFile(t, filepath.Join(root, "src/zz.c"), "int zz(void) { return 0; }\n")
	te.mustBuild(t, root, nil)
	if es := read(); len(es) != len(units)+1 || es[len(es)-1].File != "src/zz.c" {
		t.Errorf("after adding a unit: %d entries", len(es))
	}
	os.Remove(path)
	te.mustBuild(t, root, nil)
	if es := read(); len(es) != len(units)+1 {
		t.Errorf("after deleting it: %d entries", len(es))
	}
}

// readCompileCommands reads the compile_commands.json at path.
func readCompileCommands(t *testing.T, path string) []ccEntry {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var es []ccEntry
	if err := json.Unmarshal(data, &es); err != nil {
		t.Fatal(err)
	}
	return es
}
