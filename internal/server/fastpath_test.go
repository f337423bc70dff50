package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/change"
	"github.com/jmake/jmake/internal/orchestrator"
	"github.com/jmake/jmake/internal/testenv"
)

// fastPipeline is the in-process pipeline with the orchestrator's watch,
// as the orchestrator daemon runs it.
func fastPipeline(t *testing.T) *orchestrator.Pipeline {
	t.Helper()
	p := localPipeline(t)
	wt, err := change.New(t.TempDir())
	if err != nil {
		t.Skip("no inotify:", err)
	}
	t.Cleanup(wt.Close)
	p.Watch = wt
	return p
}

// The orchestrator answers a no-op from its own watch, without calling the
// stages, and never hides a change one of them would have seen: each change
// below is made right before the build (no pause: the watch's cookie orders
// it) and must take the full way, with the stages' answer.
func TestOrchestratorFastPath(t *testing.T) {
	dir := testenv.GenProject(t, 6)
	p := fastPipeline(t)
	ctx := context.Background()
	reused := false // the last build skipped discovery and setup
	build := func() (*orchestrator.BuildResult, bool, error) {
		t.Helper()
		before, scopes := p.WatchedNoops(), p.WatchedScopes()
		res, err := p.Build(ctx, orchestrator.BuildRequest{Path: dir}, nil)
		reused = p.WatchedScopes() > scopes
		return res, p.WatchedNoops() > before, err
	}
	mustBuild := func(what string) (*orchestrator.BuildResult, bool) {
		t.Helper()
		res, fast, err := build()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return res, fast
	}
	// rearm builds until a no-op is answered fast (the first build of a
	// project adds the watches, so it takes two), within a few builds.
	rearm := func(what string) *orchestrator.BuildResult {
		t.Helper()
		for range 3 {
			if res, fast := mustBuild(what); fast {
				if res.Compiled+res.Cached != 0 || res.UpToDate != res.Units || res.Linked {
					t.Fatalf("%s: fast no-op answered %+v", what, res)
				}
				return res
			}
		}
		t.Fatalf("%s: no build was answered by the orchestrator's watch", what)
		return nil
	}
	first := rearm("first builds")
	if first.Units != 8 {
		t.Fatalf("units: %+v", first)
	}
	src := filepath.Join(dir, "src", "mod_0002.c")
	cfg := filepath.Join(dir, "jmake.toml")
	goodCfg, _ := os.ReadFile(cfg)
	edit := func(file, old, new string) func() {
		return func() {
			b, err := os.ReadFile(file)
			if err != nil || !strings.Contains(string(b), old) {
				t.Fatalf("%s: no %q to edit (%v)", file, old, err)
			}
			if err := os.WriteFile(file, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write := func(file, content string) func() {
		return func() {
			if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// saveByRename is an editor's save: a temp file beside it, renamed
	// over it.
	saveByRename := func(file, old, new string) func() {
		return func() {
			b, err := os.ReadFile(file)
			if err != nil || !strings.Contains(string(b), old) {
				t.Fatalf("%s: no %q to edit (%v)", file, old, err)
			}
			tmp := filepath.Join(filepath.Dir(file), ".#save")
			if err := os.WriteFile(tmp, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, file); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Each change says whether discovery and setup may be skipped: only
	// when no file they list or read was added, removed or changed.
	for _, step := range []struct {
		name   string
		change func()
		reuse  bool
		check  func(r *orchestrator.BuildResult) bool
	}{
		{"edit a source", edit(src, "= 0u; /* jm-edit */", "= 7u; /* jm-edit */"), true,
			func(r *orchestrator.BuildResult) bool { return r.Compiled == 1 && r.Linked }},
		{"save a source by rename", saveByRename(src, "= 7u; /* jm-edit */", "= 8u; /* jm-edit */"), true,
			func(r *orchestrator.BuildResult) bool { return r.Compiled == 1 && r.Linked }},
		{"touch a header", func() {
			now := time.Now()
			os.Chtimes(filepath.Join(dir, "include", "demo", "util.h"), now, now)
		}, true, func(r *orchestrator.BuildResult) bool { return r.Compiled == 0 && !r.Linked }},
		{"write a file that is no source", write(filepath.Join(dir, "src", "notes.txt"), "todo\n"), true,
			func(r *orchestrator.BuildResult) bool { return r.Compiled == 0 && !r.Linked }},
		{"add a source", write(filepath.Join(dir, "src", "added.c"), "int added(void) { return 6; }\n"), false,
			func(r *orchestrator.BuildResult) bool { return r.Units == 9 && r.Compiled == 1 }},
		{"delete that source", func() { os.Remove(filepath.Join(dir, "src", "added.c")) }, false,
			func(r *orchestrator.BuildResult) bool { return r.Units == 8 && r.Linked }},
		{"add a header", write(filepath.Join(dir, "include", "demo", "added.h"), "#define ADDED 1\n"), false,
			func(r *orchestrator.BuildResult) bool { return r.Compiled == 0 }},
		{"add a source in a new directory", func() {
			os.MkdirAll(filepath.Join(dir, "src", "extra"), 0o755)
			os.WriteFile(filepath.Join(dir, "src", "extra", "extra.c"), []byte("int extra(void) { return 7; }\n"), 0o644)
		}, false, func(r *orchestrator.BuildResult) bool { return r.Units == 9 && r.Compiled == 1 }},
		{"add a source in that directory", func() {
			os.WriteFile(filepath.Join(dir, "src", "extra", "extra2.c"), []byte("int extra2(void) { return 8; }\n"), 0o644)
		}, false, func(r *orchestrator.BuildResult) bool { return r.Units == 10 && r.Compiled == 1 }},
		{"remove the directory", func() { os.RemoveAll(filepath.Join(dir, "src", "extra")) }, false,
			func(r *orchestrator.BuildResult) bool { return r.Units == 8 && r.Linked }},
		{"delete an object", func() { os.Remove(filepath.Join(dir, "build", "obj", "src", "mod_0003.c.o")) }, true,
			func(r *orchestrator.BuildResult) bool { return r.Cached == 1 }},
		{"delete the output", func() { os.Remove(first.Output) }, true,
			func(r *orchestrator.BuildResult) bool { return r.Linked }},
		{"add a define to jmake.toml", edit(cfg, "include_dirs", "defines = { JM_FAST = \"1\" }\ninclude_dirs"), false,
			func(r *orchestrator.BuildResult) bool { return r.Compiled+r.Cached == r.Units }},
		{"add an unknown key to jmake.toml", edit(cfg, "[compile]", "[compile]\nspeed = \"max\""), false,
			func(r *orchestrator.BuildResult) bool { return len(r.Warnings) == 1 }},
		{"edit a source, with the warning", edit(src, "= 8u; /* jm-edit */", "= 9u; /* jm-edit */"), true,
			func(r *orchestrator.BuildResult) bool {
				return r.Compiled == 1 && len(r.Warnings) == 1 && strings.Contains(r.Warnings[0], "speed")
			}},
	} {
		rearm(step.name + ": before")
		step.change()
		res, fast := mustBuild(step.name)
		if fast || !step.check(res) || reused != step.reuse {
			t.Fatalf("%s: fast %v, discovery and setup skipped %v (want %v), result %+v", step.name, fast, reused, step.reuse, res)
		}
	}
	// The fast path repeats the warnings the stages gave.
	if res := rearm("with a warning"); len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "speed") {
		t.Fatalf("warnings of a fast no-op: %q", res.Warnings)
	}

	// A failed build is never answered as a success: not while it stays
	// broken, and after the fix only the broken unit is compiled.
	for _, broken := range []struct {
		name, stage string
		change      func()
		fix         func()
	}{
		{"a compile error", "compilation", edit(src, "/* jm-edit */", "/* jm-edit */ int broken = ;"),
			edit(src, "/* jm-edit */ int broken = ;", "/* jm-edit */")},
		{"an invalid jmake.toml", "setup", func() { os.WriteFile(cfg, append(goodCfg, "\n[binary]\nlibrary_type = \"plugin\"\n"...), 0o644) },
			func() { os.WriteFile(cfg, goodCfg, 0o644) }},
	} {
		rearm(broken.name + ": before")
		broken.change()
		for i := range 3 {
			_, fast, err := build()
			var be *orchestrator.BuildError
			if fast || err == nil || !errors.As(err, &be) || be.Stage != broken.stage {
				t.Fatalf("%s, build %d: fast %v, err %v", broken.name, i, fast, err)
			}
		}
		broken.fix()
		if _, fast := mustBuild(broken.name + ": fixed"); fast {
			t.Fatalf("%s: the fixed build was answered fast", broken.name)
		}
	}
	rearm("at the end")
}

// fastCalls keeps at most maxFastCalls arguments; one already known is
// remembered again without forgetting the others.
func TestFastCallsBound(t *testing.T) {
	var f fastCalls
	args := func(i int) []byte { return []byte(`{"path":"/p` + strconv.Itoa(i) + `"}`) }
	for i := range maxFastCalls {
		f.remember(args(i), orchestrator.BuildRequest{Path: strconv.Itoa(i)})
	}
	f.remember(args(0), orchestrator.BuildRequest{Path: "again"})
	if br, ok := f.lookup(args(maxFastCalls - 1)); !ok || br.Path != strconv.Itoa(maxFastCalls-1) {
		t.Fatalf("remembering a known call again forgot another: %v %v", br, ok)
	}
	if br, _ := f.lookup(args(0)); br.Path != "again" {
		t.Fatalf("the known call: %v", br)
	}
	f.remember(args(maxFastCalls), orchestrator.BuildRequest{Path: "new"})
	if len(f.reqs) != 1 {
		t.Fatalf("past the bound: %d calls kept, want only the new one", len(f.reqs))
	}
	if _, ok := f.lookup(args(1)); ok {
		t.Fatal("an old call survived the bound")
	}
}
