package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

// genScript finds gen_project.py: $JMAKE_GEN_PROJECT, the repository's
// bench/ copy, or the shared one beside the repository.
func genScript(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("JMAKE_GEN_PROJECT"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	for _, c := range []string{
		filepath.Join(filepath.Dir(file), "..", "..", "bench", "gen_project.py"),
		filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "bench", "gen_project.py"),
	} {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	tb.Fatal("gen_project.py not found in bench/ (set JMAKE_GEN_PROJECT)")
	return ""
}

// GenProjectIn writes gen_project.py's C project of n units into dir,
// replacing what is there, with extra options of the script (such as
// --seed 3). Without python3 or gcc the test is skipped.
func GenProjectIn(tb testing.TB, dir string, n int, extra ...string) {
	tb.Helper()
	for _, tool := range []string{"python3", "gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Skipf("%s not found: %v", tool, err)
		}
	}
	args := append([]string{genScript(tb), dir, "-n", strconv.Itoa(n), "--force"}, extra...)
	if out, err := exec.Command("python3", args...).CombinedOutput(); err != nil {
		tb.Fatalf("gen_project.py: %v\n%s", err, out)
	}
}

// GenProject writes gen_project.py's C project of n units, as
// GenProjectIn does, into a new temp dir and returns its path.
func GenProject(tb testing.TB, n int, extra ...string) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "proj")
	GenProjectIn(tb, dir, n, extra...)
	return dir
}
