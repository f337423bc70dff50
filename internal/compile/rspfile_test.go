package compile

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// argMax is execve's limit on argv and environment together here: a
// quarter of the stack limit, at least 128 KiB, at most 6 MiB (Linux's
// bprm_stack_limits).
func argMax(tb testing.TB) int {
	tb.Helper()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_STACK, &rl); err != nil {
		tb.Fatal(err)
	}
	lim := uint64(6 << 20)
	if rl.Cur != ^uint64(0) {
		lim = min(lim, rl.Cur/4)
	}
	return int(max(lim, 128<<10))
}

// TestLinkThroughResponseFile links a library whose objects' paths, with
// the environment, exceed what execve takes: the environment is padded to
// ARG_MAX less 48 KiB (less what it held), so every compile still starts, and 24 units under
// ~2,800-character directories (one with a space and quotes, which the
// response file must escape) give a link command of about 70 KiB. The
// link must go through a response file, leave none behind, and a second
// build must find the output up to date (the response file is no input).
func TestLinkThroughResponseFile(t *testing.T) {
	requireTools(t, "gcc", "nm")
	root := t.TempDir()
	var parts []string
	for i := range 13 {
		parts = append(parts, fmt.Sprintf("d%02d_%s", i, strings.Repeat("x", 200)))
	}
	parts = append(parts, `sp ace'q"uote`)
	deep := filepath.Join(parts...)
	files := map[string]string{"jmake.toml": "[project]\nname = \"rsp\"\n[binary]\npartial_link = false\n"}
	for i := range 24 {
		files[filepath.Join("src", deep, fmt.Sprintf("u%02d.c", i))] = fmt.Sprintf("int rsp_u%02d(void) { return %d; }\n", i, i)
	}
	for p, c := range files {
		writeFile(t, filepath.Join(root, p), c)
	}
	// In strings of 64 KiB: one string may not exceed 128 KiB.
	pad := argMax(t) - 48<<10 - argvSize(nil, os.Environ())
	for i := 0; pad > 0; i++ {
		n := min(pad, 64<<10)
		t.Setenv(fmt.Sprintf("JMAKE_TEST_ARG_PAD%d", i), strings.Repeat("p", n-24))
		pad -= n
	}

	te := newEnv(t, 0)
	o := te.mustBuild(t, root, nil)
	// The link, and the direct link that proves its shape (direct.go).
	if !o.linked || te.e.Counters().RspFiles != 2 {
		t.Fatalf("linked %v, response files %d", o.linked, te.e.Counters().RspFiles)
	}
	syms := definedSymbols(t, o.res.Output)
	for i := range 24 {
		if !slices.Contains(syms, fmt.Sprintf("T rsp_u%02d", i)) {
			t.Errorf("rsp_u%02d missing from %s: %q", i, o.res.Output, syms)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(root, "build", "rsp", "*")); len(left) != 0 {
		t.Errorf("response files left behind: %q", left)
	}
	if _, err := os.Stat(filepath.Join(root, "build", "rsp")); err != nil {
		t.Errorf("the response file's directory: %v", err)
	}
	if o := te.mustBuild(t, root, nil); o.linked {
		t.Errorf("second build relinked: %q", o.res.Explain)
	}
}

func TestRspContent(t *testing.T) {
	got := string(rspContent([]string{"-o", "a b", `q'"\`, ""}))
	want := "-o\na\\ b\nq\\'\\\"\\\\\n\"\"\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
