package project

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// This file maps the keys of a jmake.toml to where they are written, so that
// problems found after decoding (a missing directory, a bad library type) can
// name file:line:column like syntax errors do. It uses go-toml's unstable
// parser, which keeps the byte range of every key and value.

// expr is one top-level expression of a document: a [table] or [[array
// table]] header, or a key = value line (which may span lines).
type expr struct {
	header bool     // a [table] or [[array table]] header
	path   []string // full key path: the table's for a header, table + key for a key-value
	keyOff int      // byte offset of the first key part
	start  int      // byte offset where the expression's text starts
	end    int      // byte offset just past the value (key-values) or the closing bracket line (headers)
}

// docIndex is the position index of one document.
type docIndex struct {
	data  []byte
	exprs []expr
	// keys maps a dotted key path ("compile.sources") and each array element
	// ("compile.sources[1]") to the byte offset where it is written. The first
	// occurrence wins.
	keys map[string]int
}

// indexDoc parses data and records where every key is. On a syntax error it
// returns what it indexed before the error together with the error.
func indexDoc(data []byte) (*docIndex, error) {
	ix := &docIndex{data: data, keys: map[string]int{}}
	var p unstable.Parser
	p.Reset(data)
	var table []string
	for p.NextExpression() {
		n := p.Expression()
		switch n.Kind {
		case unstable.Table, unstable.ArrayTable:
			parts, off := keyParts(n)
			table = parts
			start := lineStart(data, off)
			end := lineEnd(data, off)
			ix.exprs = append(ix.exprs, expr{header: true, path: parts, keyOff: off, start: start, end: end})
			ix.add(parts, off)
		case unstable.KeyValue:
			parts, off := keyParts(n)
			full := append(append([]string(nil), table...), parts...)
			start := int(n.Raw.Offset)
			ix.exprs = append(ix.exprs, expr{path: full, keyOff: off, start: start, end: start + int(n.Raw.Length)})
			ix.add(full, off)
			ix.addValue(full, n.Value())
		}
	}
	return ix, p.Error()
}

// keyParts returns the parts of a header's or key-value's key and the offset
// of its first part.
func keyParts(n *unstable.Node) ([]string, int) {
	var parts []string
	off := -1
	it := n.Key()
	for it.Next() {
		k := it.Node()
		if off < 0 {
			off = int(k.Raw.Offset)
		}
		parts = append(parts, string(k.Data))
	}
	if off < 0 {
		off = 0
	}
	return parts, off
}

// add records the offset of path unless it is already known.
func (ix *docIndex) add(path []string, off int) {
	k := strings.Join(path, ".")
	if _, ok := ix.keys[k]; !ok {
		ix.keys[k] = off
	}
}

// addValue records array elements and the keys of inline tables under path.
func (ix *docIndex) addValue(path []string, v *unstable.Node) {
	if v == nil {
		return
	}
	switch v.Kind {
	case unstable.Array:
		i := 0
		it := v.Children()
		for it.Next() {
			c := it.Node()
			if c.Kind == unstable.Comment {
				continue
			}
			elem := append(append([]string(nil), path[:len(path)-1]...), path[len(path)-1]+"["+strconv.Itoa(i)+"]")
			if c.Raw.Length > 0 {
				ix.add(elem, int(c.Raw.Offset))
			}
			ix.addValue(elem, c)
			i++
		}
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			c := it.Node()
			if c.Kind != unstable.KeyValue {
				continue
			}
			parts, off := keyParts(c)
			full := append(append([]string(nil), path...), parts...)
			ix.add(full, off)
			ix.addValue(full, c.Value())
		}
	}
}

// pos returns the 1-based line and column of the dotted key path, or ok =
// false when the key is not written in the document.
func (ix *docIndex) pos(key string) (line, col int, ok bool) {
	if ix == nil {
		return 0, 0, false
	}
	off, ok := ix.keys[key]
	if !ok {
		return 0, 0, false
	}
	line, col = offsetPos(ix.data, off)
	return line, col, true
}

// find returns the index of the top-level expression that holds key: the
// key-value whose path is the longest prefix of key, or else the header of
// the table that is. Expressions for which skip returns true are passed
// over (skip may be nil). ok is false when no expression holds key.
func (ix *docIndex) find(key []string, skip func(i int) bool) (int, bool) {
	best := -1
	for i, e := range ix.exprs {
		if len(e.path) > len(key) || !hasPrefix(key, e.path) || (skip != nil && skip(i)) {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		b := ix.exprs[best]
		if len(e.path) > len(b.path) || (len(e.path) == len(b.path) && b.header && !e.header) {
			best = i
		}
	}
	return best, best >= 0
}

// span returns the byte range of expression i: a key-value's text, or a
// header with its whole body.
func (ix *docIndex) span(i int) (start, end int) {
	e := ix.exprs[i]
	if e.header {
		return e.start, ix.tableEnd(i)
	}
	return e.start, e.end
}

// tableEnd returns the offset where the body of the header expression at
// index i ends: the start of the next header, or the end of the document.
func (ix *docIndex) tableEnd(i int) int {
	for _, e := range ix.exprs[i+1:] {
		if e.header {
			return e.start
		}
	}
	return len(ix.data)
}

// hasPrefix reports whether p is a prefix of s.
func hasPrefix(s, p []string) bool {
	if len(p) > len(s) {
		return false
	}
	for i := range p {
		if s[i] != p[i] {
			return false
		}
	}
	return true
}

// offsetPos converts a byte offset to a 1-based line and byte column.
func offsetPos(data []byte, off int) (line, col int) {
	if off > len(data) {
		off = len(data)
	}
	before := data[:off]
	line = 1 + bytes.Count(before, []byte{'\n'})
	col = off - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// posOffset converts a 1-based line and column back to a byte offset, or -1
// when the document has no such place.
func posOffset(data []byte, line, col int) int {
	if line < 1 || col < 1 {
		return -1
	}
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return -1
		}
		off += i + 1
	}
	off += col - 1
	if off > len(data) {
		return -1
	}
	return off
}

// lineStart returns the offset of the first byte of the line holding off.
func lineStart(data []byte, off int) int {
	return bytes.LastIndexByte(data[:off], '\n') + 1
}

// lineEnd returns the offset just past the newline ending the line that
// holds off, or len(data) on the last line.
func lineEnd(data []byte, off int) int {
	i := bytes.IndexByte(data[off:], '\n')
	if i < 0 {
		return len(data)
	}
	return off + i + 1
}
