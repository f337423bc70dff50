package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmake/jmake/internal/testenv"
)

// jmake init in trees of several shapes writes only a jmake.toml, which
// builds each: the library from the sources without main, a program per
// source with main, the tests under tests/, the include directories the
// sources' #includes need. generate_config without discovery's findings
// does the same through the setup daemon.
func TestInitExistingTrees(t *testing.T) {
	e := testenv.New(t)
	e.MustRun("start")
	t.Cleanup(func() { e.Run("stop") })
	for _, tc := range []struct {
		name  string
		files map[string]string
		run   string // a program to run
		tests int
	}{
		{"top level", map[string]string{
			"mini.c":        "#include \"mini.h\"\nint mini_one(void) { return 1; }\n",
			"mini.h":        "int mini_one(void);\n",
			"main.c":        "#include <stdio.h>\n#include \"mini.h\"\nint main(void) { printf(\"%d\\n\", mini_one()); return 0; }\n",
			"tests/t_one.c": "#include \"mini.h\"\nint main(void) { return mini_one() == 1 ? 0 : 1; }\n",
		}, "main", 1},
		{"C++ with include/", map[string]string{
			"include/kit/binary.hpp": "#pragma once\nnamespace kit { int bits(unsigned); }\n",
			"src/binary.cpp":         "#include <kit/binary.hpp>\nnamespace kit { int bits(unsigned x) { int n = 0; for (; x; x >>= 1) n += x & 1; return n; } }\n",
			"tools/dump.cpp":         "#include <cstdio>\n#include <kit/binary.hpp>\nint main() { std::printf(\"%d\\n\", kit::bits(7)); }\n",
			"tests/bits_test.cpp":    "#include <kit/binary.hpp>\nint main() { return kit::bits(5) == 2 ? 0 : 1; }\n",
			"tests/helper.hpp":       "",
		}, "dump", 1},
		{"lib/ and examples/", map[string]string{
			"lib/z.c":         "#include \"z.h\"\nint z(void) { return 2; }\n",
			"lib/z.h":         "int z(void);\n",
			"examples/one.c":  "#include \"../lib/z.h\"\nint main(void) { return z() - 2; }\n",
			"examples/two.c":  "#include <z.h>\nint main(void) { return z() - 2; }\n",
			"README":          "not a source\n",
			"lib/z_private.h": "",
		}, "two", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := testenv.Tree(t, tc.files)
			r := e.MustRun("init", dir)
			if !strings.Contains(r.Stdout, "no template sources") {
				t.Errorf("init says: %q", r.Stdout)
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != len(topLevel(tc.files))+1 {
				t.Errorf("init wrote more than jmake.toml: %v", ents)
			}
			toml, _ := os.ReadFile(filepath.Join(dir, "jmake.toml"))
			if r := e.Run("run", "--no-daemon", dir, tc.run); r.Code != 0 {
				t.Fatalf("run %s: exit %d\n%s\njmake.toml:\n%s", tc.run, r.Code, r.Stderr, toml)
			}
			if tc.tests > 0 {
				if r := e.Run("test", "--no-daemon", dir); r.Code != 0 || !strings.Contains(r.Stdout, "1 passed, 0 failed") {
					t.Fatalf("test: exit %d\n%s\n%s\njmake.toml:\n%s", r.Code, r.Stdout, r.Stderr, toml)
				}
			}
			if strings.Contains(tc.name, "C++") && strings.Contains(string(toml), "c_std") {
				t.Errorf("a C++ project's config suggests c_std:\n%s", toml)
			}

			// The setup daemon's generate_config, given only the path.
			os.Remove(filepath.Join(dir, "jmake.toml"))
			q, _ := json.Marshal(map[string]string{"path": dir})
			if r := e.Run("call", "setup", "generate_config", string(q)); r.Code != 0 {
				t.Fatalf("generate_config: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
			}
			if again, _ := os.ReadFile(filepath.Join(dir, "jmake.toml")); string(again) != string(toml) {
				t.Errorf("generate_config wrote\n%s\ninit wrote\n%s", again, toml)
			}
		})
	}
}

// topLevel is the set of first path elements of files.
func topLevel(files map[string]string) map[string]bool {
	out := map[string]bool{}
	for p := range files {
		top, _, _ := strings.Cut(p, "/")
		out[top] = true
	}
	return out
}
