package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmake/jmake/internal/testenv"
)

// Every daemon function answers over the wire with the documented shape.
func TestDaemonFunctionsOverTheWire(t *testing.T) {
	e := testenv.New(t)
	e.MustRun("start")
	t.Cleanup(func() { e.Run("stop") })
	lib := geomLib(t)
	fresh := filepath.Join(t.TempDir(), "fresh")
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }

	for _, tc := range []struct {
		daemon, function, args string
		want                   []string // substrings of the reply
	}{
		{"discovery", "get_tool", `{"name":"gcc"}`, []string{`"path":"/usr/bin/gcc"`, `"version":`}},
		{"discovery", "tools", `{}`, []string{`"tools":`}},
		{"discovery", "scan_files", `{"path":` + q(lib) + `}`, []string{`"c_sources":["src/polygon.c","src/vec.c","src/version.c"]`, `"include/geom/shape.h"`}},
		{"discovery", "walk_dependencies", `{"path":` + q(lib) + `,"include_dirs":["include"]}`, []string{`include/geom/vec.h`}},
		{"discovery", "discover_project", `{"path":` + q(lib) + `}`, []string{`"include_dirs":["include"]`}},
		{"setup", "create_structure", `{"path":` + q(fresh) + `,"type":"c_project"}`, []string{`jmake.toml`}},
		{"setup", "validate_config", `{"path":` + q(lib) + `}`, []string{`"valid":true`}},
		{"setup", "get_config_section", `{"path":` + q(lib) + `,"section":"binary"}`, []string{`"library_name":"libgeom.so"`}},
		{"setup", "update_config", `{"path":` + q(lib) + `,"section":"compile","data":{"jobs":2}}`, []string{`"updated":"compile"`}},
		{"orchestrator", "build_project", `{"path":` + q(lib) + `}`, []string{`"units":3`, `"compiled":3`}},
		{"orchestrator", "quick_compile", `{"path":` + q(lib) + `}`, []string{`"compiled":0`}},
		{"orchestrator", "clean_build", `{"path":` + q(lib) + `}`, []string{`"cached":3`, `"compiled":0`}},
		{"orchestrator", "incremental_build", `{"path":` + q(lib) + `}`, []string{`"compiled":0`, `"cached":0`}},
		{"discovery", "detect_binaries", `{"path":` + q(lib) + `}`, []string{`"build/libgeom.so"`, `"shared_library"`}},
		{"orchestrator", "check_daemons", `{}`, []string{`"all_healthy":true`}},
		{"orchestrator", "get_stats", `{}`, []string{`"compilation":`, `"builds":`}},
		{"compilation", "cache_stats", `{}`, []string{`"objects":`}},
	} {
		t.Run(tc.daemon+"/"+tc.function, func(t *testing.T) {
			r := e.Run("call", tc.daemon, tc.function, tc.args)
			if r.Code != 0 || !strings.Contains(r.Stdout, `"success":true`) {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Stdout, w) {
					t.Errorf("reply lacks %s:\n%s", w, r.Stdout)
				}
			}
		})
	}
	// update_config kept the rest of the file as it was.
	b, _ := os.ReadFile(filepath.Join(lib, "jmake.toml"))
	if !strings.Contains(string(b), "# A small C library") || !strings.Contains(string(b), "jobs = 2") {
		t.Errorf("jmake.toml after update_config:\n%s", b)
	}
	// A function that works on a project refuses a call without its path,
	// and names itself in the error of a call on a path that cannot be
	// (below a regular file).
	notDir := filepath.Join(lib, "jmake.toml", "sub")
	for _, f := range []struct{ daemon, function string }{
		{"discovery", "scan_files"}, {"discovery", "walk_dependencies"}, {"discovery", "detect_binaries"},
		{"discovery", "discover_project"}, {"setup", "create_structure"}, {"setup", "generate_config"},
		{"setup", "validate_config"}, {"setup", "get_config_section"}, {"setup", "update_config"},
	} {
		r := e.Run("call", f.daemon, f.function, `{}`)
		if r.Code == 0 || !strings.Contains(r.Stdout+r.Stderr, f.function+`: missing argument`) {
			t.Errorf("%s without a path: exit %d\nstdout: %s\nstderr: %s", f.function, r.Code, r.Stdout, r.Stderr)
		}
		r = e.Run("call", f.daemon, f.function, `{"path":`+q(notDir)+`,"section":"binary","data":{}}`)
		if r.Code == 0 || !strings.Contains(r.Stdout+r.Stderr, f.function+": ") {
			t.Errorf("%s below a file: exit %d\nstdout: %s\nstderr: %s", f.function, r.Code, r.Stdout, r.Stderr)
		}
	}
	// A broken jmake.toml is reported with file:line:col.
	os.WriteFile(filepath.Join(fresh, "jmake.toml"), []byte("[project]\nname = \"x\"\n[binary]\nlibrary_type = \"dll\"\nbogus = 1\n"), 0o644)
	r := e.Run("call", "setup", "validate_config", `{"path":`+q(fresh)+`}`)
	if !strings.Contains(r.Stdout, `"valid":false`) || !strings.Contains(r.Stdout, "jmake.toml:4:") || !strings.Contains(r.Stdout, "jmake.toml:5:") {
		t.Errorf("validate_config of a broken file:\n%s", r.Stdout)
	}
}
