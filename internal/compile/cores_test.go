package compile

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// While a compiler runs the engine runs on one P, and the build's end
// gives the default back; a build that only restores objects keeps every P.
func TestCompilesRunOnOneP(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	if explicitProcs || procs == 1 {
		t.Skip("GOMAXPROCS is fixed or 1 here")
	}
	as, err := exec.LookPath("as")
	if err != nil {
		t.Skip("no as on PATH")
	}
	root := t.TempDir()
	genProject(t, root, 3)
	// An assembler that waits for the gate, found by gcc through -B.
	bin, gate := t.TempDir(), filepath.Join(t.TempDir(), "open")
	writeFile(t, filepath.Join(bin, "as"), "#!/bin/sh\nwhile [ ! -e \""+gate+"\" ]; do sleep 0.01; done\nexec "+as+" \"$@\"\n")
	if err := os.Chmod(filepath.Join(bin, "as"), 0o755); err != nil {
		t.Fatal(err)
	}
	replaceInFile(t, filepath.Join(root, "jmake.toml"), "flags = [", "flags = [\"-B"+bin+"/\", ")
	te := newEnv(t, 0)
	done := make(chan outcome, 1)
	go func() { done <- te.build(t, root, nil) }()
	defer func() { writeFile(t, gate, ""); <-done }() // a failing test still ends its build

	deadline := time.Now().Add(30 * time.Second)
	for runtime.GOMAXPROCS(0) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("GOMAXPROCS %d while the compilers run, want 1", runtime.GOMAXPROCS(0))
		}
		time.Sleep(5 * time.Millisecond)
	}
	writeFile(t, gate, "")
	o := <-done
	done <- o // for the deferred wait
	if o.err != nil || len(o.compiled) != o.res.Units {
		t.Fatalf("build: %v, compiled %v", o.err, o.compiled)
	}
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Fatalf("GOMAXPROCS %d after the build, want %d back", got, procs)
	}

	o = te.mustBuild(t, root, func(r *Request) { r.Clean = true })
	if len(o.cached) != o.res.Units {
		t.Fatalf("clean build: cached %v", o.cached)
	}
	cores.mu.Lock()
	running := cores.running
	cores.mu.Unlock()
	yields := te.e.Counters().CoreYields
	if yields != 1 || running != 0 {
		t.Fatalf("yields %d, running %d after a compile and a restore-only build, want 1 and 0", yields, running)
	}
}

// At most -j compilers run at once, though more goroutines than that
// record results; and -j of them do run together.
func TestCompileSlots(t *testing.T) {
	as, err := exec.LookPath("as")
	if err != nil {
		t.Skip("no as on PATH")
	}
	root := t.TempDir()
	genProject(t, root, 10)
	// An assembler that notes how many of its kind run, and holds its
	// slot a while so that runs overlap.
	bin, running, log := t.TempDir(), t.TempDir(), filepath.Join(t.TempDir(), "counts")
	writeFile(t, filepath.Join(bin, "as"), "#!/bin/sh\ntouch "+running+"/$$\nls "+running+" | wc -l >> "+log+
		"\nsleep 0.2\nrm "+running+"/$$\nexec "+as+" \"$@\"\n")
	if err := os.Chmod(filepath.Join(bin, "as"), 0o755); err != nil {
		t.Fatal(err)
	}
	replaceInFile(t, filepath.Join(root, "jmake.toml"), "flags = [", "flags = [\"-B"+bin+"/\", ")
	te := newEnv(t, 0)
	o := te.mustBuild(t, root, func(r *Request) { r.Jobs = 2 })
	if len(o.compiled) != 12 {
		t.Fatalf("compiled %v", o.compiled)
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	most := 0
	for _, f := range strings.Fields(string(data)) {
		n, _ := strconv.Atoi(f)
		most = max(most, n)
	}
	if most != 2 {
		t.Fatalf("at most %d compilers ran at once with -j2, want 2 (counts %q)", most, strings.Fields(string(data)))
	}
}
