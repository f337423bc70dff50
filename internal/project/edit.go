package project

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// EditSection returns data, the text of the jmake.toml named file, with the
// keys of one [section] set to the values in set; a nil value removes its
// key. Only the changed key-value lines are rewritten: every other byte,
// comments included, stays as it was. Keys that are new to the section go
// after its last key; a section the file lacks is appended. The result must
// parse, or EditSection returns an error and no text. Section and keys must
// be in the schema (Sections, Keys).
func EditSection(file string, data []byte, section string, set map[string]any) ([]byte, error) {
	if Keys(section) == nil {
		return nil, fmt.Errorf("%s: unknown section [%s] (sections: %s)", file, section, strings.Join(Sections(), ", "))
	}
	if IsTableArray(section) {
		return nil, fmt.Errorf("%s: [[%s]] is a list of tables, one per target: edit them in the file", file, section)
	}
	names := make([]string, 0, len(set))
	for k := range set {
		if !slices.Contains(Keys(section), k) {
			return nil, fmt.Errorf("%s: unknown key %q in [%s] (keys: %s)", file, k, section, strings.Join(Keys(section), ", "))
		}
		names = append(names, k)
	}
	sort.Strings(names)
	lines := map[string]string{}
	for _, k := range names {
		if set[k] == nil {
			continue
		}
		val, err := FormatValue(set[k])
		if err != nil {
			return nil, fmt.Errorf("%s: [%s] %s: %w", file, section, k, err)
		}
		lines[k] = FormatKey(k) + " = " + val
	}

	// A file that is already invalid is reported as it is, rather than as
	// an edit that would break it.
	if _, err := Parse(file, data); err != nil {
		return nil, fmt.Errorf("cannot update [%s]: %w", section, err)
	}
	ix, err := indexDoc(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	hdr := -1
	for i, e := range ix.exprs {
		if e.path[0] != section {
			continue
		}
		line, col := offsetPos(data, e.keyOff)
		switch {
		case e.header && len(e.path) == 1:
			hdr = i
		case e.header:
			// A sub-table such as [compile.defines] is left alone unless
			// the edit sets its key, which would define it twice.
			if slices.Contains(names, e.path[1]) {
				return nil, fmt.Errorf("%s:%d:%d: [%s] %s is written as a table of its own, [%s]; edit it by hand",
					file, line, col, section, e.path[1], strings.Join(e.path, "."))
			}
		case enclosingHeader(ix, i) < 0:
			return nil, fmt.Errorf("%s:%d:%d: [%s] is written as dotted keys or an inline table at the top level; edit it by hand",
				file, line, col, section)
		}
	}

	var out []byte
	if hdr < 0 {
		out = appendSection(data, section, names, lines)
	} else {
		out = editBody(ix, hdr, names, lines)
	}
	if _, err := Parse(file, out); err != nil {
		return nil, fmt.Errorf("update [%s] would leave an invalid file: %w", section, err)
	}
	return out, nil
}

// enclosingHeader returns the index of the header whose body holds
// expression i, or -1 for an expression at the top level.
func enclosingHeader(ix *docIndex, i int) int {
	for j := i - 1; j >= 0; j-- {
		if ix.exprs[j].header {
			return j
		}
	}
	return -1
}

// appendSection adds a new [section] with the set keys at the end of data.
func appendSection(data []byte, section string, names []string, lines map[string]string) []byte {
	var b strings.Builder
	for _, k := range names {
		if l, ok := lines[k]; ok {
			b.WriteString(l + "\n")
		}
	}
	if b.Len() == 0 {
		return slices.Clone(data)
	}
	out := slices.Clone(data)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	if len(out) > 0 {
		out = append(out, '\n')
	}
	out = append(out, "["+FormatKey(section)+"]\n"...)
	return append(out, b.String()...)
}

// edit replaces data[start:end] with text.
type edit struct {
	start, end int
	text       string
}

// editBody rewrites the keys of the section whose header is expression hdr.
func editBody(ix *docIndex, hdr int, names []string, lines map[string]string) []byte {
	data := ix.data
	var body []expr
	for _, e := range ix.exprs[hdr+1:] {
		if e.header {
			break
		}
		body = append(body, e)
	}
	insertAt := ix.exprs[hdr].end
	if len(body) > 0 {
		insertAt = lineEnd(data, body[len(body)-1].end)
	}
	var edits []edit
	var added strings.Builder
	for _, k := range names {
		l, set := lines[k]
		replaced := false
		for _, e := range body {
			if len(e.path) < 2 || e.path[1] != k {
				continue
			}
			if set && !replaced {
				edits = append(edits, edit{e.start, e.end, l})
				replaced = true
				continue
			}
			edits = append(edits, edit{lineStart(data, e.start), lineEnd(data, e.end), ""})
		}
		if set && !replaced {
			added.WriteString(l + "\n")
		}
	}
	if added.Len() > 0 {
		text := added.String()
		if insertAt == len(data) && len(data) > 0 && data[len(data)-1] != '\n' {
			text = "\n" + text
		}
		edits = append(edits, edit{insertAt, insertAt, text})
	}
	sort.Slice(edits, func(i, j int) bool { return edits[i].start > edits[j].start })
	out := slices.Clone(data)
	for _, e := range edits {
		out = slices.Replace(out, e.start, e.end, []byte(e.text)...)
	}
	return out
}

// FormatValue renders v as a TOML value: strings, booleans, integers,
// floats, slices (arrays) and maps with string keys (inline tables, keys
// sorted). A float with no fractional part is written as an integer,
// because JSON numbers arrive as float64 and no jmake.toml key is a float.
func FormatValue(v any) (string, error) {
	if v == nil {
		return "", fmt.Errorf("cannot write a null as a TOML value")
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return FormatString(rv.String())
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if rv.Uint() > math.MaxInt64 {
			return "", fmt.Errorf("integer %d does not fit in TOML's 64-bit integers", rv.Uint())
		}
		return strconv.FormatUint(rv.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		return formatFloat(rv.Float()), nil
	case reflect.Slice, reflect.Array:
		parts := make([]string, rv.Len())
		for i := range parts {
			s, err := FormatValue(rv.Index(i).Interface())
			if err != nil {
				return "", fmt.Errorf("element %d: %w", i, err)
			}
			parts[i] = s
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return "", fmt.Errorf("cannot write a map with %s keys as a TOML table", rv.Type().Key())
		}
		keys := make([]string, 0, rv.Len())
		for _, k := range rv.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			s, err := FormatValue(rv.MapIndex(reflect.ValueOf(k).Convert(rv.Type().Key())).Interface())
			if err != nil {
				return "", fmt.Errorf("key %q: %w", k, err)
			}
			parts[i] = FormatKey(k) + " = " + s
		}
		if len(parts) == 0 {
			return "{}", nil
		}
		return "{ " + strings.Join(parts, ", ") + " }", nil
	}
	return "", fmt.Errorf("cannot write a %T as a TOML value", v)
}

// formatFloat writes f as a TOML integer when it is whole, else as a float.
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case f == math.Trunc(f) && math.Abs(f) < 1<<53:
		return strconv.FormatInt(int64(f), 10)
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}

// FormatString renders s as a TOML basic string. It fails on text that is
// not UTF-8, which TOML cannot hold.
func FormatString(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("string %q is not valid UTF-8", s)
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String(), nil
}

// FormatKey renders a key: bare when TOML allows it, else quoted.
func FormatKey(k string) string {
	bare := k != ""
	for i := 0; i < len(k) && bare; i++ {
		c := k[i]
		bare = c == '_' || c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	}
	if bare {
		return k
	}
	s, err := FormatString(k)
	if err != nil {
		return strconv.Quote(k) // not UTF-8: the result will not parse, and Parse says so
	}
	return s
}
