package discovery

import (
	"bytes"
	"log/slog"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/jmake/jmake/internal/store"
	"github.com/jmake/jmake/internal/testenv"
)

// needTool skips the test when a real tool it drives is missing.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed", name)
	}
	return p
}

// run runs a command in dir and fails the test with its output if it fails.
func run(t testing.TB, dir string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// testLogger sends a Discovery's log to the test's log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// openStores opens the three persistent caches in dir, as the daemon does.
func openStores(t testing.TB, dir string) (tools, scans, deps *store.Map) {
	t.Helper()
	var maps []*store.Map
	for _, name := range []string{"tools", "scans", "deps"} {
		m, rep := store.OpenMap(name, filepath.Join(dir, name+".log"))
		if rep.Warning != nil {
			t.Fatal(rep.Warning)
		}
		t.Cleanup(func() { m.Close() })
		maps = append(maps, m)
	}
	return maps[0], maps[1], maps[2]
}

func TestCachesSurviveRestartAndClear(t *testing.T) {
	needTool(t, "cc")
	cacheDir := t.TempDir()
	root := testenv.Tree(t, map[string]string{
		"src/a.c":     "#include \"a.h\"\nint main(void) { return 0; }\n",
		"src/a.h":     "#pragma once\n",
		"include/x.h": "",
	})
	open := func() *Discovery {
		tools, scans, deps := openStores(t, cacheDir)
		return New(Options{Tools: tools, Scans: scans, Deps: deps, Logger: testLogger(t)})
	}
	d := open()
	if _, cached, err := d.DiscoverProject(root, false); err != nil || cached {
		t.Fatalf("first discovery: cached=%v err=%v", cached, err)
	}
	if _, cached, err := d.GetTool("cc"); err != nil || !cached {
		t.Fatalf("cc after discovery: cached=%v err=%v", cached, err)
	}
	for _, name := range []string{"tools", "scans", "deps"} {
		if st := d.CacheStats()[name]; st.Entries == 0 {
			t.Errorf("cache %s empty after discovery: %+v", name, st)
		}
	}

	// A new Discovery on the same files: a restarted daemon.
	d2 := open()
	if _, cached, err := d2.GetTool("cc"); err != nil || !cached {
		t.Errorf("cc after restart: cached=%v err=%v", cached, err)
	}
	if _, cached, err := d2.ScanFiles(root, false, nil, ""); err != nil || !cached {
		t.Errorf("scan after restart: cached=%v err=%v", cached, err)
	}
	st := d2.CacheStats()
	if st["tools"].Hits != 1 || st["scans"].Hits != 1 {
		t.Errorf("stats after restart: %+v", st)
	}

	if err := d2.ClearCaches(); err != nil {
		t.Fatal(err)
	}
	for name, st := range d2.CacheStats() {
		if st.Entries != 0 || st.Hits != 0 || st.Misses != 0 {
			t.Errorf("cache %s after clear: %+v", name, st)
		}
	}
	if _, cached, err := d2.ScanFiles(root, false, nil, ""); err != nil || cached {
		t.Errorf("scan after clear: cached=%v err=%v", cached, err)
	}
	// Cleared on disk too.
	d3 := open()
	if _, cached, err := d3.GetTool("cc"); err != nil || cached {
		t.Errorf("cc after clear and restart: cached=%v err=%v", cached, err)
	}
}
