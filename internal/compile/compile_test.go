package compile

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHeaderChangedDuringCompile uses a compiler wrapper that edits a
// header right after gcc has read it. The engine must not record (or cache)
// the new header content for the object built from the old one: it compiles
// again, and the object it keeps has the header's final content.
func TestHeaderChangedDuringCompile(t *testing.T) {
	requireTools(t, "gcc", "nm", "sh")
	root := writeProject(t, map[string]string{
		"jmake.toml":  "[project]\nname = \"race\"\n[compile]\ncompiler = \"./cc-wrapper\"\ninclude_dirs = [\"include\"]\n",
		"include/h.h": "int from_header(void);\n",
		"src/a.c":     "#include \"h.h\"\nint a(void) { return from_header(); }\n",
	})
	mark := filepath.Join(t.TempDir(), "edited")
	wrapper := filepath.Join(root, "cc-wrapper")
	script := "#!/bin/sh\ngcc \"$@\"; st=$?\n" +
		"case \" $* \" in *\" -c \"*) if [ ! -e " + mark + " ]; then : > " + mark +
		"; echo 'static inline int edited_during_compile(void) { return 1; } int use_edit(void) { return edited_during_compile(); }' >> include/h.h; fi;; esac\nexit $st\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	te := newEnv(t, 0)
	o := te.mustBuild(t, root, nil)
	if o.res.Compiled != 1 {
		t.Fatalf("compiled %d", o.res.Compiled)
	}
	if _, err := os.Stat(mark); err != nil {
		t.Fatal("the wrapper did not edit the header")
	}
	nm, err := exec.Command("nm", filepath.Join(root, "build/obj/src/a.c.o")).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(nm), "use_edit") {
		t.Fatalf("the object was built from the header before the edit:\n%s", nm)
	}
	if st := te.e.CacheStats(); st.Compiles != 2 || st.Entries != 1 {
		t.Errorf("%d compiler runs and %d cached objects, want 2 and 1", st.Compiles, st.Entries)
	}
	o = te.mustBuild(t, root, nil)
	if o.res.Compiled+o.res.Cached != 0 || o.linked {
		t.Fatalf("second build compiled %d cached %d linked %v (%q)", o.res.Compiled, o.res.Cached, o.linked, o.res.Explain)
	}
}
