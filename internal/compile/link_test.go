package compile

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeProject writes files (path -> content) under a new temp root.
func writeProject(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		writeFile(t, filepath.Join(root, p), c)
	}
	return root
}

// TestLinkKinds builds C++, mixed, static and executable projects with the
// real toolchain and checks the outputs.
func TestLinkKinds(t *testing.T) {
	requireTools(t, "gcc", "g++", "ar", "nm")
	shape := `#pragma once
#include <string>
namespace geo { struct Shape { virtual ~Shape() = default; virtual std::string name() const = 0; virtual double area() const = 0; }; }
`
	circle := `#include "geo/shape.hpp"
#include <cmath>
namespace geo {
struct Circle : Shape {
  double r;
  explicit Circle(double r) : r(r) {}
  std::string name() const override { return "circle"; }
  double area() const override { return M_PI * r * r; }
};
double circle_area(double r) { return Circle(r).area(); }
}
`
	tests := []struct {
		name   string
		files  map[string]string
		check  func(t *testing.T, out string)
		linker string // expected in compile_commands / link: g++ driver for C++
	}{
		{
			name: "C++ shared library",
			files: map[string]string{
				"jmake.toml":            "[project]\nname = \"geo\"\n[compile]\ncxx_std = \"c++17\"\ninclude_dirs = [\"include\"]\n",
				"include/geo/shape.hpp": shape,
				"src/circle.cpp":        circle,
				"src/util.cc":           "#include <vector>\n#include <numeric>\nnamespace geo { double sum(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); } }\n",
			},
			check: func(t *testing.T, out string) {
				nm, err := exec.Command("nm", "-DC", "--defined-only", out).Output()
				if err != nil {
					t.Fatal(err)
				}
				for _, sym := range []string{"geo::circle_area(double)", "geo::sum("} {
					if !strings.Contains(string(nm), sym) {
						t.Errorf("%s lacks %s:\n%s", out, sym, nm)
					}
				}
				soname, _ := exec.Command("objdump", "-p", out).Output()
				if len(soname) > 0 && !strings.Contains(string(soname), "SONAME               libgeo.so") {
					t.Errorf("no soname libgeo.so:\n%s", soname)
				}
			},
		},
		{
			name: "mixed C and C++ executable",
			files: map[string]string{
				"jmake.toml":            "[project]\nname = \"app\"\n[binary]\nlibrary_type = \"executable\"\n[compile]\ninclude_dirs = [\"include\"]\nlink_libraries = [\"m\"]\n",
				"include/geo/shape.hpp": shape,
				"src/circle.cpp":        circle,
				"src/calc.c":            "#include <math.h>\ndouble calc(double x) { return sqrt(x); }\n",
				"src/main.cpp": `#include <cstdio>
extern "C" double calc(double);
namespace geo { double circle_area(double); }
int main() { std::printf("%.0f %.0f\n", calc(49.0), geo::circle_area(1.0) * 100); return 0; }
`,
			},
			check: func(t *testing.T, out string) {
				got, err := exec.Command(out).CombinedOutput()
				if err != nil || string(got) != "7 314\n" {
					t.Errorf("%s printed %q (%v), want \"7 314\\n\"", out, got, err)
				}
			},
		},
		{
			name: "static library",
			files: map[string]string{
				"jmake.toml":  "[project]\nname = \"st\"\n[binary]\nlibrary_type = \"static\"\n",
				"src/a.c":     "int st_a(void) { return 1; }\n",
				"src/sub/b.c": "int st_b(void) { return 2; }\n",
			},
			check: func(t *testing.T, out string) {
				if filepath.Base(out) != "libst.a" {
					t.Errorf("output %s", out)
				}
				list, err := exec.Command("ar", "t", out).Output()
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.Fields(string(list)); !slices.Equal(got, []string{"a.c.o", "b.c.o"}) {
					t.Errorf("archive members %q", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeProject(t, tt.files)
			te := newEnv(t, 0)
			o := te.mustBuild(t, root, nil)
			if !o.linked || o.res.Compiled != o.res.Units {
				t.Fatalf("compiled %d of %d, linked %v", o.res.Compiled, o.res.Units, o.linked)
			}
			tt.check(t, o.res.Output)
			// A no-op build touches nothing.
			before, _ := os.Stat(o.res.Output)
			o = te.mustBuild(t, root, nil)
			if o.linked || o.res.Compiled+o.res.Cached != 0 {
				t.Fatalf("no-op build compiled %d cached %d linked %v", o.res.Compiled, o.res.Cached, o.linked)
			}
			after, _ := os.Stat(o.res.Output)
			if !before.ModTime().Equal(after.ModTime()) {
				t.Error("no-op build rewrote the output")
			}
			tt.check(t, o.res.Output)
		})
	}
}

// TestLinkSettingChange relinks, without compiling, when only a link
// setting changes.
func TestLinkSettingChange(t *testing.T) {
	requireTools(t, "gcc")
	root := writeProject(t, map[string]string{
		"jmake.toml": "[project]\nname = \"ls\"\n",
		"src/a.c":    "int ls_a(void) { return 1; }\n",
	})
	te := newEnv(t, 0)
	te.mustBuild(t, root, nil)
	o := te.mustBuild(t, root, func(r *Request) { r.Config.Compile.LinkFlags = []string{"-Wl,--as-needed"} })
	if !o.linked || o.res.Compiled != 0 || !slices.Contains(o.res.Explain, "link: link settings changed") {
		t.Fatalf("compiled %d linked %v explain %q", o.res.Compiled, o.linked, o.res.Explain)
	}
}

func TestLibArg(t *testing.T) {
	for in, want := range map[string]string{
		"m": "-lm", "-lpthread": "-lpthread", "lib/libfoo.a": "lib/libfoo.a",
		"/usr/lib/libz.so": "/usr/lib/libz.so", "libbar.so.1": "libbar.so.1", "-Wl,-Bstatic": "-Wl,-Bstatic",
	} {
		if got := libArg(in); got != want {
			t.Errorf("libArg(%q) = %q, want %q", in, got, want)
		}
	}
}
