package compile

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/change"
	"github.com/jmake/jmake/internal/testenv"
)

// partialReady builds root until the watch vouches for its last build, so
// that the next build with a change may take the partial path.
func partialReady(t *testing.T, te *testEnv, root string) {
	t.Helper()
	for range 2 {
		te.mustBuild(t, root, nil)
	}
	if _, ok := te.e.fast.Quiet(root); !ok {
		t.Fatal("the watch does not vouch for the last build")
	}
}

// After a change the file watch lists, a build stats only the listed files
// and objects, and does exactly what a build that stats everything does;
// whatever the watch cannot list exactly takes the full path.
func TestPartialBuild(t *testing.T) {
	root, te, _ := builtProject(t, 6, true)
	src := func(n int) string { return filepath.Join(root, "src", "mod_000"+strconv.Itoa(n)+".c") }
	hdr := filepath.Join(root, "include", "demo", "mod", "mod_0004.h")
	extra := filepath.Join(root, "include", "demo", "extra.h")
	touch := func(p string) func() {
		return func() {
			now := time.Now()
			if err := os.Chtimes(p, now, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	all := sources(t, root, mustLoad(t, root))
	withHdr := unitsIncluding(t, root, all, "include/demo/mod/mod_0004.h")
	if len(withHdr) == 0 {
		t.Fatal("no unit includes mod_0004.h")
	}
	yes, no := true, false
	for _, step := range []struct {
		name    string
		change  func()
		opt     func(*Request)
		compile []string
		cached  []string
		link    *bool // nil: either
		partial bool
	}{
		{"touch a source", touch(src(1)), nil, nil, nil, &no, true},
		{"save a source by rename", func() {
			data, err := os.ReadFile(src(2))
			if err != nil {
				t.Fatal(err)
			}
			testenv.SaveByRename(t, src(2), strings.Replace(string(data), "_salt = 0u;", "_salt = 3u;", 1))
		}, nil, []string{"src/mod_0002.c"}, nil, &yes, true},
		{"delete an object", func() {
			if err := os.Remove(filepath.Join(root, "build", "obj", "src", "mod_0003.c.o")); err != nil {
				t.Fatal(err)
			}
		}, nil, nil, []string{"src/mod_0003.c"}, &no, true},
		{"touch a header", touch(hdr), nil, nil, nil, &no, true},
		{"edit a header", func() { editFile(t, hdr, "/* edited */") }, nil, withHdr, nil, nil, true},
		{"add a header and include it", func() {
			writeFile(t, extra, "#define EXTRA 1\n")
			replaceInFile(t, src(0), "/* generated */\n", "/* generated */\n#include \"demo/extra.h\"\n")
		}, nil, []string{"src/mod_0000.c"}, nil, nil, true},
		{"edit the added header", func() { editFile(t, extra, "#define EXTRA2 2") }, nil, []string{"src/mod_0000.c"}, nil, nil, true},
		{"remove a header no longer included", func() {
			replaceInFile(t, src(0), "#include \"demo/extra.h\"\n", "")
			if err := os.Remove(extra); err != nil {
				t.Fatal(err)
			}
		}, nil, nil, []string{"src/mod_0000.c"}, nil, true}, // the object of the first content, from the cache
		{"a different request", touch(src(1)), func(r *Request) {
			r.Sources = slices.DeleteFunc(slices.Clone(r.Sources), func(u string) bool { return u == "src/mod_0005.c" })
		}, nil, nil, &yes, false},
		{"an event on a watched directory itself", func() {
			if err := os.Chmod(filepath.Join(root, "src"), 0o750); err != nil {
				t.Fatal(err)
			}
		}, nil, nil, nil, &no, false},
		{"more changed paths than the list holds", func() {
			for i := range 4100 {
				writeFile(t, filepath.Join(root, "build", "junk-"+strconv.Itoa(i)), "")
			}
			touch(src(4))()
		}, nil, nil, nil, &no, false},
	} {
		partialReady(t, te, root)
		before := te.e.CacheStats().WatchedPartial
		step.change()
		o := te.mustBuild(t, root, step.opt)
		if strings.Join(o.compiled, ",") != strings.Join(step.compile, ",") ||
			strings.Join(o.cached, ",") != strings.Join(step.cached, ",") || step.link != nil && o.linked != *step.link {
			t.Fatalf("%s: compiled %v cached %v linked %v, want %v %v %v\n%s", step.name, o.compiled, o.cached, o.linked,
				step.compile, step.cached, step.link, strings.Join(o.res.Explain, "\n"))
		}
		if got := te.e.CacheStats().WatchedPartial - before; got != map[bool]int64{true: 1}[step.partial] {
			t.Fatalf("%s: %d partial builds, want partial %v\n%s", step.name, got, step.partial, strings.Join(o.res.Explain, "\n"))
		}
		if want := map[bool]string{true: "those the file watch saw change", false: "stat: all "}[step.partial]; !slices.ContainsFunc(o.res.Explain,
			func(s string) bool { return strings.Contains(s, want) }) {
			t.Fatalf("%s: --explain does not say %q:\n%s", step.name, want, strings.Join(o.res.Explain, "\n"))
		}
	}

	// A removed header that a unit still includes fails the build, naming
	// it; put back as it was, the next build (full: the last one failed)
	// finds every object up to date.
	partialReady(t, te, root)
	data, err := os.ReadFile(hdr)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(hdr); err != nil {
		t.Fatal(err)
	}
	if o := te.build(t, root, nil); o.err == nil || !strings.Contains(o.res.Diagnostics, "mod_0004.h") {
		t.Fatalf("build without an included header: err %v\n%s", o.err, o.res.Diagnostics)
	}
	writeFile(t, hdr, string(data))
	before := te.e.CacheStats().WatchedPartial
	if o := te.mustBuild(t, root, nil); len(o.compiled)+len(o.cached) != 0 || te.e.CacheStats().WatchedPartial != before {
		t.Fatalf("header put back: compiled %v cached %v, partial builds %d -> %d", o.compiled, o.cached, before, te.e.CacheStats().WatchedPartial)
	}
}

// An edit made while a build runs (after its files were stat'ed) is never
// lost: the build after it compiles the file, taking the full path, and
// the one after that is partial again.
func TestPartialBuildEditDuringBuild(t *testing.T) {
	root, te, _ := builtProject(t, 6, true)
	partialReady(t, te, root)
	src1 := filepath.Join(root, "src", "mod_0001.c")
	src4 := filepath.Join(root, "src", "mod_0004.c")
	before := te.e.CacheStats().WatchedPartial
	editFile(t, src1, "/* first */")
	o := te.mustBuild(t, root, func(r *Request) {
		r.BeforeLink = func() error {
			editFile(t, src4, "/* during the build */")
			return nil
		}
	})
	if strings.Join(o.compiled, ",") != "src/mod_0001.c" || te.e.CacheStats().WatchedPartial != before+1 {
		t.Fatalf("build with an edit during it: compiled %v, partial builds %d -> %d", o.compiled, before, te.e.CacheStats().WatchedPartial)
	}
	o = te.mustBuild(t, root, nil)
	if strings.Join(o.compiled, ",") != "src/mod_0004.c" || te.e.CacheStats().WatchedPartial != before+1 {
		t.Fatalf("build after an edit during the last: compiled %v, partial builds %d -> %d", o.compiled, before, te.e.CacheStats().WatchedPartial)
	}
	editFile(t, src1, "/* second */")
	if o := te.mustBuild(t, root, nil); strings.Join(o.compiled, ",") != "src/mod_0001.c" || te.e.CacheStats().WatchedPartial != before+2 {
		t.Fatalf("then an edit: compiled %v, partial builds %d -> %d", o.compiled, before, te.e.CacheStats().WatchedPartial)
	}
}

// When the kernel's event queue overflows (events arrive faster than the
// watch reads them), no list is complete: the build stats everything and
// compiles the edit whose event the kernel dropped.
func TestPartialBuildAfterOverflow(t *testing.T) {
	root := t.TempDir()
	genProject(t, root, 3)
	backdate(t, root)
	var hold atomic.Bool
	release := make(chan struct{})
	te := openEnvWith(t, t.TempDir(), 0, func(o *Options) {
		o.WatchHooks = change.Hooks{BeforeEvent: func() {
			if hold.Load() {
				<-release
			}
		}}
	})
	te.mustBuild(t, root, nil)
	partialReady(t, te, root)
	limit := 16384
	if b, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			limit = n
		}
	}
	if limit > 1<<17 {
		t.Skipf("max_queued_events is %d: too many events to overflow quickly", limit)
	}
	hold.Store(true)
	// Two files in turn: the kernel merges an event identical to the one
	// queued last. Twice the queue's length: the watch's reader takes
	// a buffer of events off the queue before it blocks.
	a, b := filepath.Join(root, "src", "mod_0000.c"), filepath.Join(root, "src", "mod_0002.c")
	for i := range 2 * limit {
		p := a
		if i%2 == 1 {
			p = b
		}
		now := time.Now()
		if err := os.Chtimes(p, now, now); err != nil {
			t.Fatal(err)
		}
	}
	// Its event is dropped: the queue is full.
	editFile(t, filepath.Join(root, "src", "mod_0001.c"), "/* after the flood */")
	hold.Store(false)
	close(release)
	before := te.e.CacheStats().WatchedPartial
	o := te.mustBuild(t, root, nil)
	if strings.Join(o.compiled, ",") != "src/mod_0001.c" || te.e.CacheStats().WatchedPartial != before {
		t.Fatalf("after an overflow: compiled %v, partial builds %d -> %d", o.compiled, before, te.e.CacheStats().WatchedPartial)
	}
}

// A file of the table that no unit read in the last build may be in a
// directory the watch no longer covers: a partial build stats it rather
// than trust its recorded hash, which here would restore from the object
// cache an object built from the header's old content.
func TestPartialBuildStatsFilesNoUnitRead(t *testing.T) {
	withHdr := "#include \"../hdr/h.h\"\nint v(void) { return V; }\n"
	root, te, _ := builtFiles(t, map[string]string{
		"jmake.toml": "[project]\nname = \"dead\"\n",
		"src/v.c":    withHdr,
		"src/w.c":    "int w(void) { return 0; }\n",
		"hdr/h.h":    "#define V 1\n",
	})
	v := filepath.Join(root, "src", "v.c")
	partialReady(t, te, root)
	writeFile(t, v, "int v(void) { return 0; }\n")
	te.mustBuild(t, root, nil)
	// The header's directory goes (the watch drops it, and no unit reads
	// it any more, so no build watches it again) and comes back with
	// another content, unseen.
	if err := os.RemoveAll(filepath.Join(root, "hdr")); err != nil {
		t.Fatal(err)
	}
	partialReady(t, te, root)
	writeFile(t, filepath.Join(root, "hdr", "h.h"), "#define V 2\n")
	writeFile(t, v, withHdr)
	before := te.e.CacheStats().WatchedPartial
	o := te.mustBuild(t, root, nil)
	if strings.Join(o.compiled, ",") != "src/v.c" || len(o.cached) != 0 || te.e.CacheStats().WatchedPartial != before+1 {
		t.Fatalf("a unit including again a header changed unseen: compiled %v cached %v, partial builds %d -> %d\n%s",
			o.compiled, o.cached, before, te.e.CacheStats().WatchedPartial, strings.Join(o.res.Explain, "\n"))
	}
}
