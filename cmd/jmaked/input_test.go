package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/settings"
	"github.com/jmake/jmake/internal/testenv"
)

// rssBytes is process pid's resident set size.
func rssBytes(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if kb, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(kb), " kB"), 10, 64)
			return n << 10
		}
	}
	t.Fatalf("no VmRSS for pid %d", pid)
	return 0
}

// A huge jmake.toml is refused at once, naming the file and the limit, and
// the daemons do not grow for it.
func TestHugeConfigIsRefused(t *testing.T) {
	e := testenv.New(t)
	dir := geomLib(t)
	e.MustRun("build", dir)
	file := filepath.Join(dir, "jmake.toml")
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	// 16 MiB of flags: what a generator gone wrong writes.
	w := bufio.NewWriter(f)
	w.WriteString("\n[target.extra]\nflags = [\n")
	for i := 0; i < (16<<20)/24; i++ {
		fmt.Fprintf(w, "  \"-DPADDING_%09d\",\n", i)
	}
	w.WriteString("]\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	begin := time.Now()
	r := e.Run("build", dir)
	took := time.Since(begin)
	if r.Code == 0 || !strings.Contains(r.Stderr, file) || !strings.Contains(r.Stderr, "over the limit of 1048576 bytes") {
		t.Fatalf("build of a 16 MiB jmake.toml: exit %d, want an error naming %s and the limit\nstdout:\n%s\nstderr:\n%s", r.Code, file, r.Stdout, r.Stderr)
	}
	if took > 10*time.Second {
		t.Errorf("refusing the file took %s", took)
	}
	// A request body far over max_body (4 MiB) is cut off at the limit.
	req, _ := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d/v1/call/validate_config", e.Port(settings.Setup)),
		io.LimitReader(spaces{}, 64<<20))
	req.Header.Set("Authorization", "Bearer "+e.Token())
	if resp, err := http.DefaultClient.Do(req); err == nil {
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("64 MiB body: status %d, want 413", resp.StatusCode)
		}
		resp.Body.Close()
	}
	// A daemon idles at 15-30 MB; parsing the file took over a gigabyte.
	for _, n := range []string{settings.Setup, settings.Compilation, settings.Discovery, settings.Orchestrator} {
		if rss := rssBytes(t, e.PID(n)); rss > 100<<20 {
			t.Errorf("%s holds %d MB after the refused file", n, rss>>20)
		}
	}
}

// spaces reads as an endless run of spaces.
type spaces struct{}

func (spaces) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// A build directory outside the project is refused, naming the key and its
// file:line, and nothing is created there.
func TestBuildDirOutsideProjectIsRefused(t *testing.T) {
	e := testenv.New(t)
	base := t.TempDir()
	dir := filepath.Join(base, "a", "b")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", geomLib(t)+"/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("copy: %v\n%s", err, out)
	}
	file := filepath.Join(dir, "jmake.toml")
	data, _ := os.ReadFile(file)
	text := strings.Replace(string(data), `build = "build"`, `build = "../../outside"`, 1)
	line := 1 + strings.Count(text[:strings.Index(text, "../../outside")], "\n")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.Run("build", dir)
	want := fmt.Sprintf("%s:%d:", file, line)
	if r.Code == 0 || !strings.Contains(r.Stderr, want) || !strings.Contains(r.Stderr, "paths.build") || !strings.Contains(r.Stderr, "outside the project root") {
		t.Fatalf("build: exit %d, want an error at %s about paths.build\nstdout:\n%s\nstderr:\n%s", r.Code, want, r.Stdout, r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(base, "outside")); !os.IsNotExist(err) {
		t.Fatalf("the outside directory was created (stat: %v)", err)
	}
	// Said explicitly, it is allowed.
	text = strings.Replace(text, "[paths]\n", "[paths]\nallow_outside_root = true\n", 1)
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	e.MustRun("build", dir)
	if _, err := os.Stat(filepath.Join(base, "outside", "libgeom.so")); err != nil {
		t.Fatalf("with allow_outside_root: %v", err)
	}
}
