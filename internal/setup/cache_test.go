package setup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/project"
	"github.com/jmake/jmake/internal/testenv"
)

// age sets a file's mtime well in the past, so its stat memo is trusted.
func age(t *testing.T, p string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
}

func TestConfigCache(t *testing.T) {
	s := New(Options{})
	root := newProject(t, projectToml)
	file := filepath.Join(root, project.FileName)
	age(t, file)

	steps := []struct {
		name       string
		do         func()
		path       string
		wantCached bool
		want       CacheStats
	}{
		{"first parse", nil, root, false, CacheStats{Entries: 1, Misses: 1, Reads: 1}},
		{"unchanged: no read", nil, root, true, CacheStats{Entries: 1, Hits: 1, Misses: 1, Reads: 1}},
		{"by file path: same memo", nil, file, true, CacheStats{Entries: 1, Hits: 2, Misses: 1, Reads: 1}},
		{"touched, same bytes: read, no parse", func() {
			old := time.Now().Add(-30 * time.Minute)
			os.Chtimes(file, old, old)
		}, root, true, CacheStats{Entries: 1, Hits: 3, Misses: 1, Reads: 2}},
		{"changed: parse", func() {
			os.WriteFile(file, []byte(projectToml+"[target]\nlto = true\n"), 0o644)
			age(t, file)
		}, root, false, CacheStats{Entries: 2, Hits: 3, Misses: 2, Reads: 3}},
		{"cleared", func() { s.ClearCache() }, root, false, CacheStats{Entries: 1, Hits: 3, Misses: 3, Reads: 4}},
	}
	for _, st := range steps {
		if st.do != nil {
			st.do()
		}
		cfg, cached, err := s.Config(st.path)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if cached != st.wantCached {
			t.Errorf("%s: cached = %v, want %v", st.name, cached, st.wantCached)
		}
		if cfg.Project.Name != "demo" || cfg.Binary.LibraryName != "libdemo.a" {
			t.Errorf("%s: config %+v lacks defaults", st.name, cfg.Project)
		}
		if got := s.CacheStats(); got != st.want {
			t.Errorf("%s: stats = %+v, want %+v", st.name, got, st.want)
		}
	}
}

func TestConfigCacheFreshFileIsReRead(t *testing.T) {
	s := New(Options{})
	root := newProject(t, "[project]\nname = \"aaaa\"\n")
	file := filepath.Join(root, project.FileName)
	if _, _, err := s.Config(root); err != nil {
		t.Fatal(err)
	}
	// Same size, and the same mtime: only reading tells the files apart.
	fi, _ := os.Stat(file)
	if err := os.WriteFile(file, []byte("[project]\nname = \"bbbb\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(file, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	cfg, cached, err := s.Config(root)
	if err != nil {
		t.Fatal(err)
	}
	if cached || cfg.Project.Name != "bbbb" {
		t.Errorf("stale config: name %q cached %v", cfg.Project.Name, cached)
	}
}

func TestConfigCacheSharedContent(t *testing.T) {
	s := New(Options{})
	a := filepath.Join(t.TempDir(), "alpha")
	b := filepath.Join(t.TempDir(), "beta")
	for _, d := range []string{a, b} {
		testenv.WriteFiles(t, d, map[string]string{project.FileName: "[compile]\njobs = 3\n"})
	}
	ca, cachedA, errA := s.Config(a)
	cb, cachedB, errB := s.Config(b)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if cachedA || !cachedB {
		t.Errorf("cached = %v, %v; want false, true", cachedA, cachedB)
	}
	if ca.Project.Name != "alpha" || cb.Project.Name != "beta" {
		t.Errorf("defaults not per directory: %q %q", ca.Project.Name, cb.Project.Name)
	}
	ca.Compile.Jobs = 99
	if c, _, _ := s.Config(b); c.Compile.Jobs != 3 {
		t.Error("changing a returned config changed the cache")
	}
	if st := s.CacheStats(); st.Entries != 1 {
		t.Errorf("entries = %d, want 1", st.Entries)
	}
}

func TestConfigCacheEviction(t *testing.T) {
	s := New(Options{MaxConfigs: 2})
	root := t.TempDir()
	file := filepath.Join(root, project.FileName)
	for i := range 4 {
		testenv.WriteFiles(t, root, map[string]string{project.FileName: fmt.Sprintf("[compile]\njobs = %d\n", i)})
		age(t, file)
		if _, cached, err := s.Config(root); err != nil || cached {
			t.Fatalf("version %d: cached %v err %v", i, cached, err)
		}
	}
	if st := s.CacheStats(); st.Entries != 2 {
		t.Errorf("entries = %d, want 2", st.Entries)
	}
}

func TestConfigCacheErrors(t *testing.T) {
	s := New(Options{})
	if _, _, err := s.Config(t.TempDir()); err == nil {
		t.Error("no error for a missing jmake.toml")
	}
	root := newProject(t, "[compile]\njobs = \"x\"\n")
	for range 2 {
		_, _, err := s.Config(root)
		var pe *project.PositionError
		if err == nil || !errors.As(err, &pe) || pe.Line != 2 {
			t.Fatalf("err = %v, want a positioned error", err)
		}
	}
	if st := s.CacheStats(); st.Entries != 0 || st.Misses != 2 {
		t.Errorf("a failed parse was cached: %+v", st)
	}
}

func TestConfigCacheConcurrent(t *testing.T) {
	s := New(Options{MaxConfigs: 3})
	root := newProject(t, projectToml)
	file := filepath.Join(root, project.FileName)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				switch {
				case g == 0 && i%10 == 0:
					s.ClearCache()
				case g == 1 && i%5 == 0:
					if err := s.UpdateConfig(file, "compile", map[string]any{"jobs": i}); err != nil {
						t.Error(err)
					}
				}
				if cfg, _, err := s.Config(root); err != nil {
					t.Error(err)
					return
				} else if cfg.Project.Name != "demo" {
					t.Errorf("name %q", cfg.Project.Name)
				}
				_ = s.CacheStats()
			}
		}()
	}
	wg.Wait()
}
