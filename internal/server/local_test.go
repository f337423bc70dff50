package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/lifecycle"
	"github.com/jmake/jmake/internal/orchestrator"
	"github.com/jmake/jmake/internal/settings"
	"github.com/jmake/jmake/internal/testenv"
)

func localPipeline(t *testing.T) *orchestrator.Pipeline {
	t.Helper()
	p, closeFn, err := LocalPipeline(lifecycle.Env{StateDir: t.TempDir(), Settings: settings.Default()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeFn)
	return p
}

// The pipeline in-process: a full build, a no-op, an edit, a rename, and
// the setup stage rejecting a broken jmake.toml with its position.
func TestLocalPipeline(t *testing.T) {
	dir := testenv.GenProject(t, 10)
	p := localPipeline(t)
	ctx := context.Background()
	build := func() *orchestrator.BuildResult {
		t.Helper()
		res, err := p.Build(ctx, orchestrator.BuildRequest{Path: dir}, nil)
		if err != nil {
			t.Fatalf("build: %v", err)
		}
		return res
	}
	if res := build(); res.Units != 12 || res.Compiled != 12 {
		t.Fatalf("first build: %+v", res)
	}
	if res := build(); res.Compiled != 0 || res.Cached != 0 || res.Linked {
		t.Fatalf("no-op build: %+v", res)
	}
	// From now on a no-op is answered by the compiler's watch, asked
	// alongside discovery (the compilation stage says cached).
	if res := build(); res.Compiled != 0 || res.Units != 12 || !res.Stages[2].Cached {
		t.Fatalf("speculative no-op build: %+v", res)
	}
	// A new source is picked up; a renamed one too.
	os.WriteFile(filepath.Join(dir, "src", "extra.c"), []byte("int extra(void) { return 7; }\n"), 0o644)
	if res := build(); res.Units != 13 || res.Compiled != 1 {
		t.Fatalf("after adding a source: %+v", res)
	}
	os.Rename(filepath.Join(dir, "src", "extra.c"), filepath.Join(dir, "src", "extra2.c"))
	if res := build(); res.Units != 13 || res.Compiled+res.Cached != 1 {
		t.Fatalf("after renaming a source: %+v", res)
	}
	os.Remove(filepath.Join(dir, "src", "extra2.c"))
	if res := build(); res.Units != 12 || !res.Linked {
		t.Fatalf("after removing a source: %+v", res)
	}

	cfg := filepath.Join(dir, "jmake.toml")
	good, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(good, []byte("\n[binary]\nlibrary_type = \"plugin\"\n")...), 0o644)
	_, err := p.Build(ctx, orchestrator.BuildRequest{Path: dir}, nil)
	if err == nil || !strings.Contains(err.Error(), "jmake.toml:") {
		t.Fatalf("broken jmake.toml: %v", err)
	}
}

// watch_and_build rebuilds after a change, and stops with its context.
func TestWatchRebuildsOnChange(t *testing.T) {
	dir := testenv.GenProject(t, 3)
	p := localPipeline(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var msgs []string
	done := make(chan int, 1)
	go func() {
		n, _ := orchestrator.Watch(ctx, p, orchestrator.BuildRequest{Path: dir}, func(ev orchestrator.Event) {
			if ev.Event == "rebuild" {
				mu.Lock()
				msgs = append(msgs, ev.Msg)
				mu.Unlock()
			}
		})
		done <- n
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(msgs) }
	waitFor(t, 60*time.Second, "the first build", func() bool { return count() >= 1 })
	src := filepath.Join(dir, "src", "support.c")
	b, _ := os.ReadFile(src)
	os.WriteFile(src, append(b, []byte("\nint watched(void) { return 1; }\n")...), 0o644)
	waitFor(t, 30*time.Second, "a rebuild after the edit", func() bool { return count() >= 2 })
	mu.Lock()
	last := msgs[len(msgs)-1]
	mu.Unlock()
	if !strings.Contains(last, "1 compiled") || !strings.Contains(last, "support.c changed") {
		t.Fatalf("rebuild message: %q", last)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not stop with its context")
	}
}

// The --watch loop leaves alone the build directory jmake.toml names: the
// builds' own writes there start no build, a source edit does.
func TestWatchHonoursBuildDir(t *testing.T) {
	dir := testenv.GenProject(t, 3)
	cfg := filepath.Join(dir, "jmake.toml")
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(text), `build = "build"`, `build = "out"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := localPipeline(t)
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var msgs []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		orchestrator.Watch(ctx, p, orchestrator.BuildRequest{Path: dir}, func(ev orchestrator.Event) {
			if ev.Event == "rebuild" {
				mu.Lock()
				msgs = append(msgs, ev.Msg)
				mu.Unlock()
			}
		})
	}()
	defer func() { cancel(); <-done }()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(msgs) }
	waitFor(t, 60*time.Second, "the first build", func() bool { return count() >= 1 })
	if _, err := os.Stat(filepath.Join(dir, "out")); err != nil {
		t.Fatalf("the build did not write to [paths] build: %v", err)
	}
	// A write in the build dir after the build, as a second tool would.
	if err := os.WriteFile(filepath.Join(dir, "out", "stray.o"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Proving that no build starts needs a wait: several debounce periods.
	time.Sleep(8 * debounceForTest)
	if n := count(); n != 1 {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("writes under out/ started builds: %q", msgs)
	}
	src := filepath.Join(dir, "src", "support.c")
	b, _ := os.ReadFile(src)
	os.WriteFile(src, append(b, []byte("\nint watched(void) { return 1; }\n")...), 0o644)
	waitFor(t, 30*time.Second, "a rebuild after the edit", func() bool { return count() >= 2 })
	mu.Lock()
	defer mu.Unlock()
	if last := msgs[len(msgs)-1]; len(msgs) != 2 || !strings.Contains(last, "support.c changed") {
		t.Fatalf("rebuilds: %q, want one for support.c", msgs)
	}
}

// debounceForTest is the watch loop's debounce (orchestrator.debounce).
const debounceForTest = 150 * time.Millisecond

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// An in-process build reports a cache it had to set aside, as a daemon
// logs it, instead of dropping the warning.
func TestLocalPipelineLogsCacheWarnings(t *testing.T) {
	state := t.TempDir()
	bad := filepath.Join(state, "cache", settings.Setup, "validated.log")
	if err := os.MkdirAll(filepath.Dir(bad), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("not a cache log\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	_, closeFn, err := LocalPipeline(lifecycle.Env{StateDir: state, Settings: settings.Default()}, log)
	if err != nil {
		t.Fatal(err)
	}
	closeFn()
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(buf.String(), "cache=validated") {
		t.Fatalf("no warning about the damaged cache; log:\n%s", buf.String())
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
