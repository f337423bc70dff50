package discovery

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func TestScanIncludes(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      string // Written() and line of each include, space-separated
	}{
		{"quotes and angles", "#include \"a.h\"\n#include <sys/b.h>\n", `"a.h"@1 <sys/b.h>@2`},
		{"blanks", "  #  include\t<x.h>  \n\t# include \"y.h\"", `<x.h>@1 "y.h"@2`},
		{"no blank before operand", "#include<x.h>\n#include\"y.h\"\n", `<x.h>@1 "y.h"@2`},
		{"include_next and import", "#include_next <n.h>\n#import \"i.h\"\n", `<n.h>@1 "i.h"@2`},
		{"block comment", "/*\n#include \"no.h\"\n*/\n#include \"yes.h\"\n", `"yes.h"@4`},
		{"comment before hash", "/* c */ #include \"yes.h\"\n", `"yes.h"@1`},
		{"comment inside directive", "#/**/include /* x */ \"yes.h\"\n", `"yes.h"@1`},
		{"line comment", "// #include \"no.h\"\n#include \"yes.h\" // <no.h>\n", `"yes.h"@2`},
		{"line comment continued", "// note \\\n#include \"no.h\"\n#include \"yes.h\"\n", `"yes.h"@3`},
		{"string holding comment start", "const char *s = \"/*\";\n#include \"yes.h\"\n", `"yes.h"@2`},
		{"escaped quote in string", "const char *s = \"\\\"/*\";\n#include \"yes.h\"\n", `"yes.h"@2`},
		{"char literal quote", "char c = '\"';\n#include \"yes.h\"\n", `"yes.h"@2`},
		{"raw string", "auto s = R\"x(\n#include \"no.h\"\n)\" )x\";\n#include \"yes.h\"\n", `"yes.h"@4`},
		{"u8 raw string", "auto s = u8R\"(\n#include \"no.h\"\n)\";\n#include \"yes.h\"\n", `"yes.h"@4`},
		{"not a raw string", "int R = 1; const char *s = \"a\";\n#include \"yes.h\"\n", `"yes.h"@2`},
		{"define holding comment start", "#define X \"/*\"\n#include \"yes.h\"\n", `"yes.h"@2`},
		{"comment spanning lines from a directive", "#include \"a.h\" /* x\n#include \"no.h\" */\n#include \"b.h\"\n", `"a.h"@1 "b.h"@3`},
		{"macro include skipped", "#include FOO_H\n#include \"yes.h\"\n", `"yes.h"@2`},
		{"conditional kept", "#if 0\n#include \"if0.h\"\n#endif\n", `"if0.h"@2`},
		{"hash not at line start", "x = 1; #include \"no.h\"\n", ``},
		{"spliced directive", "#include \\\n  \"spliced.h\"\n#include \"next.h\"\n", `"spliced.h"@1 "next.h"@3`},
		{"unterminated", "#include \"open.h\n#include <close.h\n#include <ok.h>\n", `<ok.h>@3`},
		{"empty name", "#include \"\"\n#include <>\n", ``},
		{"digit separators", "int x = 1'000'000;\n#include \"yes.h\"\n", `"yes.h"@2`},
		{"byte order mark", "\xEF\xBB\xBF#include \"bom.h\"\n", `"bom.h"@1`},
		{"CRLF", "#include \"a.h\"\r\n#include \"b.h\"\r\n", `"a.h"@1 "b.h"@2`},
		{"other directives", "#pragma once\n#define A 1\n#include \"yes.h\"\n", `"yes.h"@3`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			incs, _ := scanIncludes([]byte(tc.src))
			var got []string
			for _, inc := range incs {
				got = append(got, fmt.Sprintf("%s@%d", inc.written(), inc.Line))
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("scanIncludes(%q) = %s, want %s", tc.src, g, tc.want)
			}
		})
	}
}

func TestScanIncludesHasMain(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want bool
	}{
		{"int main(void) { return 0; }", true},
		{"int main(int argc, char **argv)", true},
		{"static int\nmain (void)", true},
		{"int /* the */ main /* entry */ (void)", true},
		{"int main_loop(void)", false},
		{"int mymain(void)", false},
		{"unsigned main(void)", false},
		{"// int main(void)", false},
		{"/* int main( */", false},
		{`const char *s = "int main(";`, false},
		{"#define M int main(\n", false},
		{"int x; main();", false},
	} {
		if _, got := scanIncludes([]byte(tc.src)); got != tc.want {
			t.Errorf("hasMain(%q) = %v, want %v", tc.src, got, tc.want)
		}
	}
}

func FuzzScanIncludes(f *testing.F) {
	for _, s := range []string{
		"#include \"a.h\"\n", "/* x */ #include <b.h>\n", "R\"d(\n#include \"no.h\"\n)d\"", "'\\", "\"\\\n",
		"#include \\\r\n <x>", "int main(", "1'2'3", "//\\\n#include", "u8R\"0123456789abcdefg(",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		incs, _ := scanIncludes(data)
		lines := bytes.Count(data, []byte("\n")) + 1
		prev := 0
		for _, inc := range incs {
			if inc.Name == "" || strings.ContainsAny(inc.Name, "\n") {
				t.Errorf("bad name %q", inc.Name)
			}
			if inc.Line < 1 || inc.Line > lines || inc.Line < prev {
				t.Errorf("line %d of %d after %d", inc.Line, lines, prev)
			}
			prev = inc.Line
		}
		// Whatever follows, an include on the first line is found first.
		incs, _ = scanIncludes(append([]byte("#include \"first.h\"\n"), data...))
		if len(incs) == 0 || incs[0].Name != "first.h" || incs[0].Line != 1 {
			t.Errorf("leading include lost: %+v", incs)
		}
	})
}
