package depfile

import (
	"slices"
	"strings"
	"testing"
)

func TestMerge(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		targets []string
		prereqs []string
	}{
		{"simple", "x.o: src/x.c include/a.h\n", []string{"x.o"}, []string{"src/x.c", "include/a.h"}},
		{"no final newline", "x.o: src/x.c", []string{"x.o"}, []string{"src/x.c"}},
		{"continuations", "x.o: src/x.c \\\n include/a.h \\\n  /usr/include/stdio.h\n",
			[]string{"x.o"}, []string{"src/x.c", "include/a.h", "/usr/include/stdio.h"}},
		{"crlf", "x.o: src/x.c \\\r\n include/a.h\r\n", []string{"x.o"}, []string{"src/x.c", "include/a.h"}},
		{"escaped space", `x.o: src/my\ file.c inc/a\ b\ c.h` + "\n",
			[]string{"x.o"}, []string{"src/my file.c", "inc/a b c.h"}},
		{"two backslashes end the name", `x.o: a\\ b` + "\n", []string{"x.o"}, []string{`a\`, "b"}},
		{"three backslashes keep the space", `x.o: a\\\ b` + "\n", []string{"x.o"}, []string{`a\ b`}},
		{"dollar", "x.o: src/$$x.c a$b.h\n", []string{"x.o"}, []string{"src/$x.c", "a$b.h"}},
		{"hash", `x.o: src/\#x.c` + "\n", []string{"x.o"}, []string{"src/#x.c"}},
		{"comment", "# a comment\nx.o: a.c # trailing\n", []string{"x.o"}, []string{"a.c"}},
		{"several targets", "x.o x.d: a.c b.h\n", []string{"x.o", "x.d"}, []string{"a.c", "b.h"}},
		{"-MP phony targets", "x.o: a.c inc/b.h inc/c.h\n\ninc/b.h:\n\ninc/c.h:\n",
			[]string{"x.o"}, []string{"a.c", "inc/b.h", "inc/c.h"}},
		{"several rules merged", "x.o: a.c b.h\ny.o: b.h c.h\n", []string{"x.o", "y.o"}, []string{"a.c", "b.h", "c.h"}},
		{"windows drive", `x.o: c:\src\x.c` + "\n", []string{"x.o"}, []string{`c:\src\x.c`}},
		{"colon right after target", "x.o:a.c\n", nil, nil}, // "x.o:a.c" is one name: no rule
		{"empty", "", nil, nil},
		{"blank lines", "\n\n  \n", nil, nil},
		{"tab separated", "x.o:\ta.c\tb.h\n", []string{"x.o"}, []string{"a.c", "b.h"}},
		{"continuation before colon", "x.o \\\n y.o: a.c\n", []string{"x.o", "y.o"}, []string{"a.c"}},
		{"literal backslash", `x.o: dir\file.c` + "\n", []string{"x.o"}, []string{`dir\file.c`}},
		{"escaped colon", `x.o: a\:b.c` + "\n", []string{"x.o"}, []string{"a:b.c"}},
		{"duplicates", "x.o: a.c b.h b.h a.c\n", []string{"x.o"}, []string{"a.c", "b.h"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := ParseDepfile("x.d", []byte(tt.in))
			df := Merge(rules)
			if tt.name == "colon right after target" {
				if err == nil {
					t.Fatalf("want an error for a line without a separating ':', got %+v", df)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(df.Targets, tt.targets) {
				t.Errorf("targets = %q, want %q", df.Targets, tt.targets)
			}
			if !slices.Equal(df.Prereqs, tt.prereqs) {
				t.Errorf("prereqs = %q, want %q", df.Prereqs, tt.prereqs)
			}
		})
	}
}

func TestParseDepfileErrorsNameTheLine(t *testing.T) {
	for _, in := range []string{
		"just words\n",
		": a.c\n",
		"x.o: a.c: b.c\n",
		"x.o: a.c\nstray\n",
	} {
		if df, err := ParseDepfile("x.d", []byte(in)); err == nil {
			t.Errorf("ParseDepfile(%q) = %+v, want an error", in, df)
		} else if !strings.HasPrefix(err.Error(), "x.d:") {
			t.Errorf("ParseDepfile(%q) error %q does not name the line", in, err)
		}
	}
}

func FuzzMerge(f *testing.F) {
	for _, s := range []string{
		"x.o: src/x.c include/a.h\n",
		"x.o: a\\ b.c \\\n c.h\r\n\nc.h:\n",
		`x.o: a\\\ b $$c \#d c:\e` + "\n",
		"# c\n\\\\\\\n:",
		"a:\\\n",
		"a: b\\",
		"\\",
		"$",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := ParseDepfile("fuzz.d", data)
		if err != nil {
			return
		}
		df := Merge(rules)
		for _, p := range df.Prereqs {
			if p == "" {
				t.Fatalf("empty prerequisite from %q", data)
			}
		}
		for _, p := range df.Targets {
			if p == "" {
				t.Fatalf("empty target from %q", data)
			}
		}
	})
}
