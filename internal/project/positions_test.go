package project

import (
	"strings"
	"testing"
)

func TestIndexDocPositions(t *testing.T) {
	doc := "# comment\n" + // line 1
		"[project]\n" + // 2
		"name = \"x\"\n" + // 3
		"\n" + // 4
		"[compile]\n" + // 5
		"sources = [\n" + // 6
		"  \"src/*.c\",\n" + // 7
		"  \"lib/*.c\",\n" + // 8
		"]\n" + // 9
		"  defines = { A = \"1\", B = \"\" }\n" + // 10
		"link.flags = 1\n" + // 11
		"[ target ]\n" + // 12
		"opt_level = '2'\n" // 13
	ix, err := indexDoc([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key       string
		line, col int
	}{
		{"project", 2, 2},
		{"project.name", 3, 1},
		{"compile", 5, 2},
		{"compile.sources", 6, 1},
		{"compile.sources[0]", 7, 3},
		{"compile.sources[1]", 8, 3},
		{"compile.defines", 10, 3},
		{"compile.defines.A", 10, 15},
		{"compile.defines.B", 10, 24},
		{"compile.link.flags", 11, 1},
		{"target", 12, 3},
		{"target.opt_level", 13, 1},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			line, col, ok := ix.pos(tt.key)
			if !ok || line != tt.line || col != tt.col {
				t.Errorf("pos(%q) = %d:%d %v, want %d:%d", tt.key, line, col, ok, tt.line, tt.col)
			}
		})
	}
	if _, _, ok := ix.pos("compile.jobs"); ok {
		t.Error("pos of an unwritten key reported ok")
	}
}

func TestIndexDocFind(t *testing.T) {
	doc := "[compile]\njobs = 1\ndefines.A = \"1\"\n[compile.x]\ny = 2\n"
	ix, err := indexDoc([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key        []string
		wantPath   string
		wantHeader bool
		wantOK     bool
	}{
		{[]string{"compile", "jobs"}, "compile.jobs", false, true},
		{[]string{"compile", "defines", "A"}, "compile.defines.A", false, true},
		{[]string{"compile", "defines"}, "compile", true, true},
		{[]string{"compile", "x", "y"}, "compile.x.y", false, true},
		{[]string{"compile", "x"}, "compile.x", true, true},
		{[]string{"paths"}, "", false, false},
	}
	for _, tt := range tests {
		i, ok := ix.find(tt.key, nil)
		if ok != tt.wantOK {
			t.Errorf("find(%v) ok = %v", tt.key, ok)
			continue
		}
		if !ok {
			continue
		}
		e := ix.exprs[i]
		if got := strings.Join(e.path, "."); got != tt.wantPath || e.header != tt.wantHeader {
			t.Errorf("find(%v) = %s header=%v, want %s header=%v", tt.key, got, e.header, tt.wantPath, tt.wantHeader)
		}
	}
}

func TestIndexDocFindSkip(t *testing.T) {
	ix, err := indexDoc([]byte("[[a]]\nx = 1\n[[a]]\nx = 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		skip   map[int]bool
		want   int
		wantOK bool
	}{
		{nil, 1, true},
		{map[int]bool{1: true}, 3, true},
		{map[int]bool{1: true, 3: true}, 0, true},
		{map[int]bool{0: true, 1: true, 2: true, 3: true}, 0, false},
	}
	for _, tt := range tests {
		i, ok := ix.find([]string{"a", "x"}, func(i int) bool { return tt.skip[i] })
		if ok != tt.wantOK || (ok && i != tt.want) {
			t.Errorf("find with skip %v = %d %v, want %d %v", tt.skip, i, ok, tt.want, tt.wantOK)
		}
	}
}

func TestOffsetPosRoundTrip(t *testing.T) {
	data := []byte("ab\ncd\n\nxyz")
	tests := []struct {
		off, line, col int
	}{
		{0, 1, 1}, {1, 1, 2}, {3, 2, 1}, {4, 2, 2}, {6, 3, 1}, {7, 4, 1}, {9, 4, 3}, {10, 4, 4},
	}
	for _, tt := range tests {
		line, col := offsetPos(data, tt.off)
		if line != tt.line || col != tt.col {
			t.Errorf("offsetPos(%d) = %d:%d, want %d:%d", tt.off, line, col, tt.line, tt.col)
		}
		if got := posOffset(data, line, col); got != tt.off {
			t.Errorf("posOffset(%d:%d) = %d, want %d", line, col, got, tt.off)
		}
	}
	if got := posOffset(data, 9, 1); got != -1 {
		t.Errorf("posOffset past the end = %d, want -1", got)
	}
}

func TestIndexDocSyntaxError(t *testing.T) {
	_, err := indexDoc([]byte("[project]\nname = \n"))
	if err == nil {
		t.Fatal("no error for a key without a value")
	}
}
