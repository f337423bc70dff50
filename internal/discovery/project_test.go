package discovery

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jmake/jmake/internal/testenv"
)

func TestDiscoverProject(t *testing.T) {
	needTool(t, "gcc")
	root := filepath.Join(t.TempDir(), "My Project!")
	testenv.WriteFiles(t, root, map[string]string{
		"include/demo/core.h":  "#include \"demo/types.h\"\n",
		"include/demo/types.h": "typedef int demo_int;\n",
		"src/a.c":              "#include <demo/core.h>\n#include \"a_internal.h\"\n#include <stdio.h>\nint a;\n",
		"src/a_internal.h":     "",
		"src/util/u.cpp":       "#include \"config.h\"\n// int main(void) in a comment\n",
		"config.h":             "",
		"app/main.c":           "#include <demo/core.h>\nint main(void) { return 0; }\n",
		"vendor/v.h":           "",
		"build/gen.c":          "",
	})
	if err := os.MkdirAll(filepath.Join(root, "build/obj"), 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, root, "gcc", "-Iinclude", "-c", "src/a.c", "-o", "build/obj/a.o")

	d := New(Options{Logger: testLogger(t)})
	p, cached, err := d.DiscoverProject(root, false)
	if err != nil || cached {
		t.Fatalf("DiscoverProject: cached=%v err=%v", cached, err)
	}
	if p.Root != root || p.Name != "My_Project" || p.HasConfig || p.BuildDir != "build" {
		t.Errorf("root %q name %q config %v build %q", p.Root, p.Name, p.HasConfig, p.BuildDir)
	}
	if want := []string{"app/main.c", "src/a.c"}; !slices.Equal(p.Scan.CSources, want) {
		t.Errorf("c sources %q, want %q", p.Scan.CSources, want)
	}
	for _, role := range []string{"cc", "c++", "ar"} {
		if tool, ok := p.Tools[role]; !ok || tool.Version == "" {
			t.Errorf("tool %s: %+v (warnings %q)", role, tool, p.Warnings)
		}
	}
	// include/ is present; "." holds config.h, included from src/util.
	// a_internal.h sits beside its includer and needs no directory.
	if want := []string{"include", "."}; !slices.Equal(p.IncludeDirs, want) {
		t.Errorf("include dirs %q, want %q", p.IncludeDirs, want)
	}
	if !p.HasMain || !slices.Equal(p.MainSources, []string{"app/main.c"}) {
		t.Errorf("has_main %v main sources %q", p.HasMain, p.MainSources)
	}
	if len(p.Binaries) != 1 || p.Binaries[0].Path != "build/obj/a.o" || p.Binaries[0].Kind != KindObject {
		t.Errorf("binaries %+v", p.Binaries)
	}
	if len(p.Warnings) != 0 {
		t.Errorf("warnings %q", p.Warnings)
	}

	if _, cached, err := d.DiscoverProject(root, false); err != nil || !cached {
		t.Errorf("unchanged project: cached=%v err=%v", cached, err)
	}
	if _, cached, err := d.DiscoverProject(root, true); err != nil || cached {
		t.Errorf("forced: cached=%v err=%v", cached, err)
	}
	// A new source with its own main: noticed, and parsed.
	testenv.WriteFiles(t, root, map[string]string{"tools/gen.cpp": "int main(int argc, char **argv) { return argc; }\n"})
	p, cached, err = d.DiscoverProject(root, false)
	if err != nil || cached || !slices.Equal(p.MainSources, []string{"app/main.c", "tools/gen.cpp"}) {
		t.Errorf("after adding a main: cached=%v err=%v mains %q", cached, err, p.MainSources)
	}
}

func TestDiscoverProjectHonoursConfig(t *testing.T) {
	needTool(t, "gcc")
	root := testenv.Tree(t, map[string]string{
		"jmake.toml": `[project]
name = "tomlproj"

[paths]
build = "out"

[compile]
compiler = "gcc"
exclude = ["src/legacy/**"]
include_dirs = ["inc"]
`,
		"src/a.c":          "#include \"x.h\"\n",
		"src/legacy/old.c": "",
		"out/gen.c":        "",
		"build/b.c":        "",
		"inc/x.h":          "",
	})
	p, _, err := New(Options{}).DiscoverProject(root, false)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "tomlproj" || !p.HasConfig || p.BuildDir != "out" {
		t.Errorf("name %q config %v build %q", p.Name, p.HasConfig, p.BuildDir)
	}
	if want := []string{"build/b.c", "src/a.c"}; !slices.Equal(p.Scan.CSources, want) {
		t.Errorf("c sources %q, want %q (out/ and src/legacy/ skipped)", p.Scan.CSources, want)
	}
	if cc := p.Tools["cc"]; cc.Name != "gcc" {
		t.Errorf("cc = %+v, want the configured gcc", cc)
	}
	if _, ok := p.Tools["c++"]; ok {
		t.Error("c++ looked up for a project without C++ sources")
	}
	if !slices.Equal(p.IncludeDirs, []string{"inc"}) {
		t.Errorf("include dirs %q, want [inc]", p.IncludeDirs)
	}
}

func TestDiscoverProjectProblems(t *testing.T) {
	t.Run("bad config", func(t *testing.T) {
		root := testenv.Tree(t, map[string]string{"jmake.toml": "[project]\nname = \n"})
		_, _, err := New(Options{}).DiscoverProject(root, false)
		if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "jmake.toml")+":2") {
			t.Errorf("error %v, want one naming jmake.toml:2", err)
		}
	})
	t.Run("missing compiler is a warning", func(t *testing.T) {
		root := testenv.Tree(t, map[string]string{
			"jmake.toml": "[compile]\ncompiler = \"clang-99\"\n",
			"a.c":        "",
		})
		p, _, err := New(Options{}).DiscoverProject(root, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := p.Tools["cc"]; ok || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "clang-99") {
			t.Errorf("tools %v warnings %q", p.Tools, p.Warnings)
		}
	})
	t.Run("missing root", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "nope")
		if _, _, err := New(Options{}).DiscoverProject(missing, false); err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("error %v does not name %s", err, missing)
		}
	})
}

func TestSuggestName(t *testing.T) {
	for in, want := range map[string]string{
		"/x/demo":        "demo",
		"/x/My Project!": "My_Project",
		"/x/lib-foo_2":   "lib-foo_2",
		"/x/...":         "project",
		"/":              "project",
	} {
		if got := suggestName(in); got != want {
			t.Errorf("suggestName(%q) = %q, want %q", in, got, want)
		}
	}
}
