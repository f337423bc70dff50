package compile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jmake/jmake/internal/project"
	"github.com/jmake/jmake/internal/testenv"
)

// targetRequests resolves root's targets as the compilation daemon does.
func targetRequests(t *testing.T, root string, jobs int) []TargetRequest {
	t.Helper()
	cfg, err := project.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := cfg.Targets(root, project.Profile{})
	if err != nil {
		t.Fatal(err)
	}
	files := testenv.Files(t, root)
	var reqs []TargetRequest
	for _, tg := range ts {
		var inputs []string
		for _, f := range tg.LinkInputs {
			inputs = append(inputs, filepath.Join(root, f))
		}
		reqs = append(reqs, TargetRequest{Name: tg.Name, Needs: tg.Links, Symlinks: tg.Symlinks, Request: Request{
			Root: root, Config: tg.Config, Sources: tg.Config.SelectSources(root, files),
			Target: tg.StateKey, LinkInputs: inputs, Jobs: jobs,
		}})
	}
	return reqs
}

// The compiles of all targets share one pool of jobs compilers: a
// compiler that notes how many compilers run beside it never sees more.
func TestBuildTargetsSharesOnePool(t *testing.T) {
	requireTools(t, "gcc", "sh", "sleep")
	running := t.TempDir()
	files := map[string]string{
		"jmake.toml": "[project]\nname = \"pool\"\n[compile]\ncompiler = \"./cc-wrapper\"\n" +
			"[[library]]\nname = \"a\"\nsources = [\"a/*.c\"]\n" +
			"[[library]]\nname = \"b\"\nsources = [\"b/*.c\"]\n" +
			"[[program]]\nname = \"p\"\nsources = [\"p/*.c\"]\nlinks = [\"a\", \"b\"]\n",
		"cc-wrapper": "#!/bin/sh\ncase \" $* \" in *\" -c \"*) m=" + running + "/$$; : > $m; ls " + running +
			" | grep -v log | wc -l >> " + running + "/log; sleep 0.2; rm -f $m;; esac\nexec gcc \"$@\"\n",
	}
	for _, d := range []string{"a", "b"} {
		for i := range 3 {
			files[d+"/"+d+strconv.Itoa(i)+".c"] = "int " + d + strconv.Itoa(i) + "(void) { return " + strconv.Itoa(i) + "; }\n"
		}
	}
	files["p/main.c"] = "int a1(void); int b2(void);\nint main(void) { return a1() + b2() - 3; }\n"
	files["p/more.c"] = "int more(void) { return 0; }\n"
	root := writeProject(t, files)
	if err := os.Chmod(filepath.Join(root, "cc-wrapper"), 0o755); err != nil {
		t.Fatal(err)
	}
	te := newEnv(t, 0)
	res, err := te.e.BuildTargets(context.Background(), targetRequests(t, root, 2), 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || res[2].Result == nil || !res[2].Result.Linked {
		t.Fatalf("results: %+v", res)
	}
	log, _ := os.ReadFile(filepath.Join(running, "log"))
	counts := strings.Fields(string(log))
	if len(counts) != 8 {
		t.Fatalf("%d compiles noted, want 8: %q", len(counts), counts)
	}
	for _, c := range counts {
		if n, _ := strconv.Atoi(c); n > 2 {
			t.Fatalf("%d compilers ran at once with -j2: %q", n, counts)
		}
	}
	if out, err := os.ReadFile(filepath.Join(root, "build", "p")); err != nil || len(out) == 0 {
		t.Fatalf("program: %v", err)
	}

	// Nothing changed: every target is a no-op, nothing is linked.
	res, err = te.e.BuildTargets(context.Background(), targetRequests(t, root, 2), 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Result.Linked || r.Result.Compiled != 0 {
			t.Errorf("no-op: %s compiled %d, linked %v", r.Name, r.Result.Compiled, r.Result.Linked)
		}
	}
}

// TestTargetCount checks the one [n/N] count of several targets' builds:
// nothing is shown until every target has planned, a target with nothing
// to compile counts as planned at its link or end, and the count runs
// over all targets' units.
func TestTargetCount(t *testing.T) {
	var got []string
	c := newTargetCount(3, func(ev Event) {
		got = append(got, fmt.Sprintf("%s %s %d/%d", ev.Kind, ev.Unit, ev.Done, ev.Total))
	})
	c.event(0, Event{Kind: "plan", Total: 2})
	c.event(0, Event{Kind: "compile", Unit: "a.c", Done: 1, Total: 2})
	c.event(1, Event{Kind: "plan", Total: 1})
	if len(got) != 0 {
		t.Fatalf("shown before target 2 planned: %q", got)
	}
	c.event(2, Event{Kind: "link", Unit: "app", Done: 1, Total: 1}) // nothing to compile
	c.event(1, Event{Kind: "cache", Unit: "b.c", Done: 1, Total: 1})
	c.event(0, Event{Kind: "compile", Unit: "c.c", Done: 2, Total: 2})
	c.event(0, Event{Kind: "link", Unit: "lib", Done: 2, Total: 2})
	c.event(0, Event{Kind: "done", Done: 2, Total: 2})
	c.settle(0)
	want := []string{"compile a.c 1/3", "link app 1/3", "cache b.c 2/3", "compile c.c 3/3", "link lib 3/3"}
	if !slices.Equal(got, want) {
		t.Errorf("events:\n%q\nwant\n%q", got, want)
	}

	// A target whose build ends before it planned (it failed) lets the
	// others' events through.
	got = nil
	c = newTargetCount(2, func(ev Event) { got = append(got, fmt.Sprintf("%s %d/%d", ev.Unit, ev.Done, ev.Total)) })
	c.event(0, Event{Kind: "plan", Total: 1})
	c.event(0, Event{Kind: "compile", Unit: "a.c"})
	c.settle(1)
	if !slices.Equal(got, []string{"a.c 1/1"}) {
		t.Errorf("after a target ended unplanned: %q", got)
	}
}

// A target that links none rebuilt in the same build stats only what the
// watch saw change, as a single output does, and does the same work as a
// full stat would; one that links a library rebuilt now stats everything.
func TestTargetsStatWhatChanged(t *testing.T) {
	requireTools(t, "gcc")
	root := writeProject(t, map[string]string{
		"jmake.toml": "[project]\nname = \"partial\"\n" +
			"[[library]]\nname = \"a\"\nsources = [\"a/*.c\"]\n" +
			"[[program]]\nname = \"p\"\nsources = [\"p/*.c\"]\nlinks = [\"a\"]\n" +
			"[[program]]\nname = \"q\"\nsources = [\"q/*.c\"]\n",
		"a/a.h":    "#define A 1\n",
		"a/a0.c":   "#include \"a.h\"\nint a0(void) { return A; }\n",
		"a/a1.c":   "#include \"a.h\"\nint a1(void) { return A + 1; }\n",
		"p/main.c": "int a1(void);\nint main(void) { return a1() - 2; }\n",
		"q/main.c": "int main(void) { return 0; }\n",
	})
	te := newEnv(t, 0)
	build := func(what string) map[string]*Result {
		t.Helper()
		reqs := targetRequests(t, root, 2)
		for i := range reqs {
			reqs[i].Request.Explain = true
		}
		res, err := te.e.BuildTargets(context.Background(), reqs, 2, nil)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		out := map[string]*Result{}
		for _, r := range res {
			out[r.Name] = r.Result
		}
		return out
	}
	// The cold build made the directories it wrote to; the watch vouches
	// for the build after it.
	for range 2 {
		build("build")
	}
	says := func(r *Result, what string) bool {
		return slices.ContainsFunc(r.Explain, func(s string) bool { return strings.Contains(s, what) })
	}
	for _, step := range []struct {
		what, file, add string
		compiled        map[string]int
		partial, full   []string // the targets that stat what changed, everything
	}{
		{"edit q", "q/main.c", "int q;\n", map[string]int{"q": 1}, []string{"q"}, nil},
		{"edit a unit of a", "a/a1.c", "int a1b;\n", map[string]int{"a": 1}, []string{"a"}, []string{"p"}},
		{"edit a's header", "a/a.h", "#define B 2\n", map[string]int{"a": 2}, []string{"a"}, []string{"p"}},
	} {
		editFile(t, filepath.Join(root, step.file), step.add)
		res := build(step.what)
		for _, n := range []string{"a", "p", "q"} {
			if res[n].Compiled != step.compiled[n] {
				t.Errorf("%s: %s compiled %d, want %d\n%s", step.what, n, res[n].Compiled, step.compiled[n], strings.Join(res[n].Explain, "\n"))
			}
		}
		for _, n := range step.partial {
			if !says(res[n], "those the file watch saw change") {
				t.Errorf("%s: %s did not stat only what changed:\n%s", step.what, n, strings.Join(res[n].Explain, "\n"))
			}
		}
		for _, n := range step.full {
			if !says(res[n], "stat: all ") || !res[n].Linked {
				t.Errorf("%s: %s did not stat everything and link again:\n%s", step.what, n, strings.Join(res[n].Explain, "\n"))
			}
		}
	}
}
