package depfile

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseDepfile(t *testing.T) {
	r := func(targets []string, prereqs ...string) Rule { return Rule{Targets: targets, Prereqs: prereqs} }
	one := func(s string) []string { return []string{s} }
	for _, tc := range []struct {
		name, in string
		want     []Rule
	}{
		{"simple", "a.o: a.c a.h\n", []Rule{r(one("a.o"), "a.c", "a.h")}},
		{"no final newline", "a.o: a.c", []Rule{r(one("a.o"), "a.c")}},
		{"continuations", "a.o: a.c \\\n  b.h \\\n\tc.h\n", []Rule{r(one("a.o"), "a.c", "b.h", "c.h")}},
		{"continuation without blank", "a.o: a.c\\\nb.h\n", []Rule{r(one("a.o"), "a.c", "b.h")}},
		{"CRLF", "a.o: a.c \\\r\n b.h\r\nb.h:\r\n", []Rule{r(one("a.o"), "a.c", "b.h"), r(one("b.h"))}},
		{"-MP phony rules", "a.o: a.c b.h\n\nb.h:\n", []Rule{r(one("a.o"), "a.c", "b.h"), r(one("b.h"))}},
		{"several targets", "a.o a.d: a.c\n", []Rule{r([]string{"a.o", "a.d"}, "a.c")}},
		{"blank before colon", "a.o : a.c\n", []Rule{r(one("a.o"), "a.c")}},
		{"colon at end", "a.o:\n", []Rule{r(one("a.o"))}},
		{"colon before continuation", "a.o:\\\n a.c\n", []Rule{r(one("a.o"), "a.c")}},
		{"escaped spaces", `my\ src.o: my\ src.c dir\ x/y.h`, []Rule{r(one("my src.o"), "my src.c", "dir x/y.h")}},
		{"escaped tab", "a.o: x\\\ty.h", []Rule{r(one("a.o"), "x\ty.h")}},
		{"2N+1 backslashes and space", `a.o: x\\\ y.h`, []Rule{r(one("a.o"), `x\ y.h`)}},
		{"2N backslashes and space", `a.o: x\\ y.h`, []Rule{r(one("a.o"), `x\`, "y.h")}},
		{"dollars", "a.o: $$x.h a$$$$b.h $y.h", []Rule{r(one("a.o"), "$x.h", "a$$b.h", "$y.h")}},
		{"escaped hash", `a.o: \#x.h a\#b.h`, []Rule{r(one("a.o"), "#x.h", "a#b.h")}},
		{"comment", "# generated\na.o: a.c # trailing\n", []Rule{r(one("a.o"), "a.c")}},
		{"escaped colon", `a\:b.o: a\:b.c`, []Rule{r(one("a:b.o"), "a:b.c")}},
		{"drive letters", `a.o: C:/x/y.h c:\include\z.h`, []Rule{r(one("a.o"), "C:/x/y.h", `c:\include\z.h`)}},
		{"other backslashes literal", `a.o: dir\sub\x.h`, []Rule{r(one("a.o"), `dir\sub\x.h`)}},
		{"gcc with odd names", "my\\ src.o: my\\ src.c /usr/include/stdc-predef.h \\\n we\\ ird$$dir\\#x/h\\ a\\#sh$$.h\n",
			[]Rule{r(one("my src.o"), "my src.c", "/usr/include/stdc-predef.h", "we ird$dir#x/h a#sh$.h")}},
		{"empty", "", nil},
		{"blank lines and comments", "\n\n# nothing\n  \n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDepfile("x.d", []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseDepfile(%q) =\n %q\nwant\n %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseDepfileErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"no colon", "a.o: a.c\na.o a.c\n", "x.d:2: expected ':'"},
		{"two colons", "a: b: c\n", "x.d:1: more than one ':'"},
		{"no target", "a.o: a.c\\\n x.h\n: b\n", "x.d:3: rule without a target"},
		{"NUL", "a.o: a\x00.c\n", "x.d:1: NUL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDepfile("x.d", []byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestParseDepfileFromGCC parses what the real compiler writes for file
// names with blanks, '$' and '#' in them.
func TestParseDepfileFromGCC(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	header := "we ird$dir#x/h a#sh$.h"
	for name, text := range map[string]string{
		"my src.c": "#include \"" + header + "\"\n#include <stddef.h>\nint x;\n",
		header:     "",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, flag := range []string{"-MD", "-MMD"} {
		t.Run(flag, func(t *testing.T) {
			cmd := exec.Command("gcc", flag, "-MP", "-c", "my src.c", "-o", "my src.o")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("gcc: %v\n%s", err, out)
			}
			data, err := os.ReadFile(filepath.Join(dir, "my src.d"))
			if err != nil {
				t.Fatal(err)
			}
			rules, err := ParseDepfile("my src.d", data)
			if err != nil {
				t.Fatal(err)
			}
			// One rule for the object, then -MP's phony rule per header.
			if len(rules) != len(rules[0].Prereqs) || !slices.Equal(rules[0].Targets, []string{"my src.o"}) {
				t.Fatalf("rules %q from\n%s", rules, data)
			}
			pre := rules[0].Prereqs
			phony := !slices.ContainsFunc(rules[1:], func(r Rule) bool { return len(r.Prereqs) > 0 })
			if pre[0] != "my src.c" || !slices.Contains(pre, header) || !phony {
				t.Errorf("rules %q; want my src.c and %q, then phony rules", rules, header)
			}
			if hasSystem := slices.ContainsFunc(pre, func(p string) bool { return strings.HasSuffix(p, "/stddef.h") }); hasSystem != (flag == "-MD") {
				t.Errorf("%s: system header listed = %v", flag, hasSystem)
			}
		})
	}
}

func FuzzParseDepfile(f *testing.F) {
	for _, s := range []string{
		"a.o: a.c a.h\n", "a.o: a.c \\\n b.h\n\nb.h:\n", `x\ y.o: \#a$$b\\\ c`, "a\\\r\n:b", "C:/x: y\\",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := ParseDepfile("fuzz.d", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.d:") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		for _, r := range rules {
			if len(r.Targets) == 0 {
				t.Errorf("rule without a target: %q", r)
			}
			for _, w := range slices.Concat(r.Targets, r.Prereqs) {
				if w == "" || strings.ContainsAny(w, "\n\x00") {
					t.Errorf("bad word %q", w)
				}
			}
		}
	})
}

// gccEscape escapes a file name as gcc's mkdeps.cc does.
func gccEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t':
			for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
				b.WriteByte('\\')
			}
			b.WriteByte('\\')
		case '$':
			b.WriteByte('$')
		case '#':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// writableName reports whether gcc's escaping can express name: no control
// characters but tab, no ':' (gcc does not escape it) and no trailing
// backslash (it would escape the separator after it).
func writableName(name string) bool {
	if name == "" || strings.HasSuffix(name, `\`) || strings.ContainsAny(name, ":") {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// FuzzDepfileRoundTrip writes names as gcc would and parses them back.
func FuzzDepfileRoundTrip(f *testing.F) {
	f.Add("a.o", "a.c", "dir x/h#1$.h", true)
	f.Add(`x\ y.o`, `back\\slash`, `a\#b`, false)
	f.Fuzz(func(t *testing.T, target, p1, p2 string, continued bool) {
		names := []string{target, p1, p2}
		for _, n := range names {
			if !writableName(n) {
				t.Skip()
			}
		}
		sep := " "
		if continued {
			sep = " \\\n  "
		}
		text := fmt.Sprintf("%s:%s%s%s%s\n%s:\n", gccEscape(target), sep, gccEscape(p1), sep, gccEscape(p2), gccEscape(p2))
		rules, err := ParseDepfile("rt.d", []byte(text))
		if err != nil {
			t.Fatalf("ParseDepfile(%q): %v", text, err)
		}
		want := []Rule{{Targets: []string{target}, Prereqs: []string{p1, p2}}, {Targets: []string{p2}}}
		if !reflect.DeepEqual(rules, want) {
			t.Errorf("ParseDepfile(%q) =\n %q\nwant\n %q", text, rules, want)
		}
	})
}
