package compile

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/depfile"
	"github.com/jmake/jmake/internal/project"
	"github.com/jmake/jmake/internal/store"
	"github.com/jmake/jmake/internal/testenv"
)

// requireTools skips the test when the real tools it needs are missing.
func requireTools(tb testing.TB, tools ...string) {
	tb.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Skipf("%s not found: %v", tool, err)
		}
	}
}

// genProject writes a generated C project of n units into dir.
func genProject(tb testing.TB, dir string, n int) {
	tb.Helper()
	testenv.GenProjectIn(tb, dir, n)
}

// backdate sets every file under dir an hour into the past, so that no
// content hash taken now is racy (see change.RacyWindow).
func backdate(tb testing.TB, dir string) {
	tb.Helper()
	old := time.Now().Add(-time.Hour)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			return os.Chtimes(p, old, old)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// testEnv is an engine with its caches in a temp dir.
type testEnv struct {
	e        *Engine
	cacheDir string
	objects  *store.Objects
	maps     []*store.Map
}

func newEnv(tb testing.TB, maxBytes int64) *testEnv {
	tb.Helper()
	return openEnv(tb, tb.TempDir(), maxBytes)
}

// openEnv opens an engine on the caches in dir, persisted there.
func openEnv(tb testing.TB, dir string, maxBytes int64) *testEnv {
	tb.Helper()
	return openEnvWith(tb, dir, maxBytes, nil)
}

// openEnvWith is openEnv with the engine's options changed by opt.
func openEnvWith(tb testing.TB, dir string, maxBytes int64, opt func(*Options)) *testEnv {
	tb.Helper()
	objs, err := store.OpenObjects(filepath.Join(dir, "objects"), maxBytes)
	if err != nil {
		tb.Fatal(err)
	}
	te := &testEnv{cacheDir: dir, objects: objs}
	open := func(name string) *store.Map {
		m, rep := store.OpenMap(name, filepath.Join(dir, name+".log"))
		if rep.Warning != nil {
			tb.Fatal(rep.Warning)
		}
		te.maps = append(te.maps, m)
		return m
	}
	opts := Options{
		Objects:   objs,
		Manifests: open("manifests"),
		Files:     open("files"),
		Builds:    open("builds"),
		Workers:   2,
	}
	if opt != nil {
		opt(&opts)
	}
	te.e = New(opts)
	tb.Cleanup(te.close)
	return te
}

func (te *testEnv) close() {
	te.e.Close()
	for _, m := range te.maps {
		m.Close()
	}
	te.maps = nil
}

// outcome is what one build did, as its progress events told.
type outcome struct {
	res      *Result
	err      error
	compiled []string
	cached   []string
	linked   bool
}

// build loads root's jmake.toml (after mutate, if given, changes the
// config), selects its sources and builds them.
func (te *testEnv) build(tb testing.TB, root string, opt func(*Request)) outcome {
	tb.Helper()
	cfg, err := project.Load(root)
	if err != nil {
		tb.Fatal(err)
	}
	req := Request{Root: root, Config: cfg, Sources: sources(tb, root, cfg), Explain: true}
	if opt != nil {
		opt(&req)
	}
	return te.run(context.Background(), req)
}

func (te *testEnv) run(ctx context.Context, req Request) outcome {
	var o outcome
	var mu sync.Mutex
	o.res, o.err = te.e.Build(ctx, req, func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		switch ev.Kind {
		case "compile":
			o.compiled = append(o.compiled, ev.Unit)
		case "cache":
			o.cached = append(o.cached, ev.Unit)
		case "link":
			o.linked = true
		}
	})
	sort.Strings(o.compiled)
	sort.Strings(o.cached)
	return o
}

// mustBuild is build that fails the test on an error.
func (te *testEnv) mustBuild(tb testing.TB, root string, opt func(*Request)) outcome {
	tb.Helper()
	o := te.build(tb, root, opt)
	if o.err != nil {
		tb.Fatalf("build %s: %v", root, o.err)
	}
	if o.res.Linked != o.linked {
		tb.Fatalf("Result.Linked = %v but link event = %v", o.res.Linked, o.linked)
	}
	if o.res.Compiled != len(o.compiled) || o.res.Cached != len(o.cached) {
		tb.Fatalf("Result counts %d compiled/%d cached, events %d/%d", o.res.Compiled, o.res.Cached, len(o.compiled), len(o.cached))
	}
	return o
}

// sources lists root's translation units as jmake.toml selects them.
func sources(tb testing.TB, root string, cfg *project.Config) []string {
	tb.Helper()
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "build" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return cfg.SelectSources(root, files)
}

// editFile appends a line to a file, changing its content.
func editFile(tb testing.TB, path, line string) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// replaceInFile replaces old with new in path, which must contain it.
func replaceInFile(tb testing.TB, path, old, new string) {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if !bytes.Contains(data, []byte(old)) {
		tb.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(data, []byte(old), []byte(new), 1), 0o644); err != nil {
		tb.Fatal(err)
	}
}

func writeFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// copyTree copies a project, leaving out its build directory.
func copyTree(tb testing.TB, src, dst string) {
	tb.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if d.Name() == "build" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// unitsIncluding asks gcc (independently of the engine) which units read
// header, directly or through other headers.
func unitsIncluding(tb testing.TB, root string, units []string, header string) []string {
	tb.Helper()
	var out []string
	for _, u := range units {
		cmd := exec.Command("gcc", "-Iinclude", "-MM", u)
		cmd.Dir = root
		deps, err := cmd.Output()
		if err != nil {
			tb.Fatalf("gcc -MM %s: %v", u, err)
		}
		rules, err := depfile.ParseDepfile(u+".d", deps)
		if err != nil {
			tb.Fatal(err)
		}
		df := depfile.Merge(rules)
		if slices.Contains(df.Prereqs, header) {
			out = append(out, u)
		}
	}
	return out
}

// nmDynamic is `nm -D` of a shared library.
func nmDynamic(tb testing.TB, lib string) string {
	tb.Helper()
	out, err := exec.Command("nm", "-D", "--defined-only", lib).Output()
	if err != nil {
		tb.Fatalf("nm -D %s: %v", lib, err)
	}
	return string(out)
}

// objectFiles reads every object under dir, by path relative to it.
func objectFiles(tb testing.TB, dir string) map[string][]byte {
	tb.Helper()
	m := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".o") {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			m[rel] = data
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		tb.Fatal(err)
	}
	return m
}

// builtProject generates a project of n units in a temp dir, backdated
// (its files an hour old, so no stat of theirs is racy) when asked, and
// builds it once in a fresh engine with no cache limit.
func builtProject(t *testing.T, n int, backdated bool) (string, *testEnv, outcome) {
	t.Helper()
	root := t.TempDir()
	genProject(t, root, n)
	if backdated {
		backdate(t, root)
	}
	te := newEnv(t, 0)
	return root, te, te.mustBuild(t, root, nil)
}

// builtFiles writes files (path -> content) under a new temp root and
// builds it once in a fresh engine with no cache limit.
func builtFiles(t *testing.T, files map[string]string) (string, *testEnv, outcome) {
	t.Helper()
	root := writeProject(t, files)
	te := newEnv(t, 0)
	return root, te, te.mustBuild(t, root, nil)
}
