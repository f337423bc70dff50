package main

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/jmake/jmake/internal/buildapi"
)

// reply is the orchestrator's last line of a build: the envelope and the
// result.
type reply struct {
	Success *bool  `json:"success"`
	Error   string `json:"error"`
	Code    int    `json:"code"` // a streamed reply's status, whose header said 200
	buildapi.BuildResult
}

// errUnusual is what decodeReply says of a line it leaves to encoding/json.
var errUnusual = errors.New("not a plain reply line")

// decodeReply reads a reply line as json.Unmarshal would, without
// reflection: the first decode of a type costs encoding/json more than
// the rest of a no-op build's client work. It reads well-formed lines
// with each key at most once per object, as the orchestrator writes
// them; for anything else it returns errUnusual and the caller asks
// encoding/json, so the two never disagree (TestDecodeReply,
// FuzzDecodeReply).
func decodeReply(line []byte) (reply, error) {
	d := jsonReader{b: line}
	var r reply
	res := &r.BuildResult
	d.object(func(key string) {
		switch key {
		case "success":
			v := d.boolean()
			r.Success = &v
		case "error":
			r.Error = d.str()
		case "code":
			r.Code = d.integer()
		case "path":
			res.Path = d.str()
		case "output":
			res.Output = d.str()
		case "elapsed_seconds":
			res.ElapsedSeconds = d.float()
		case "stages":
			res.Stages = []buildapi.StageTime{}
			d.array(func() {
				var st buildapi.StageTime
				d.object(func(key string) {
					switch key {
					case "name":
						st.Name = d.str()
					case "seconds":
						st.Seconds = d.float()
					case "cached":
						st.Cached = d.boolean()
					default:
						d.skip()
					}
				})
				res.Stages = append(res.Stages, st)
			})
		case "warnings":
			res.Warnings = d.strings()
		case "explain":
			res.Explain = d.strings()
		case "diagnostics":
			res.Diagnostics = d.str()
		case "targets":
			res.Targets = []buildapi.TargetOutcome{}
			d.array(func() {
				var t buildapi.TargetOutcome
				d.object(func(key string) {
					switch key {
					case "name":
						t.Name = d.str()
					case "kind":
						t.Kind = d.str()
					case "output":
						t.Output = d.str()
					case "symlinks":
						t.Symlinks = d.strings()
					case "dir":
						t.Dir = d.str()
					case "linker":
						t.Linker = d.str()
					case "error":
						t.Error = d.str()
					default:
						if !d.counts(key, &t.Counts) {
							d.skip()
						}
					}
				})
				res.Targets = append(res.Targets, t)
			})
		case "failure":
			if d.null() {
				res.Failure = nil
				return
			}
			f := &buildapi.Failure{}
			d.object(func(key string) {
				switch key {
				case "kind":
					f.Kind = d.str()
				case "message":
					f.Msg = d.str()
				default:
					d.skip()
				}
			})
			res.Failure = f
		default:
			if !d.counts(key, &res.Counts) {
				d.skip()
			}
		}
	})
	d.space()
	if d.err != nil || d.i != len(d.b) {
		return reply{}, errUnusual
	}
	return r, nil
}

// jsonReader reads the JSON values decodeReply expects; the first thing it
// does not expect sets err, and every read after that returns zero.
type jsonReader struct {
	b   []byte
	i   int
	err error
}

func (d *jsonReader) fail() { d.err = errUnusual }

func (d *jsonReader) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end.
func (d *jsonReader) peek() byte {
	d.space()
	if d.err != nil || d.i >= len(d.b) {
		return 0
	}
	return d.b[d.i]
}

func (d *jsonReader) literal(word string) bool {
	d.space()
	if d.err == nil && len(d.b)-d.i >= len(word) && string(d.b[d.i:d.i+len(word)]) == word {
		d.i += len(word)
		return true
	}
	return false
}

// null reads a null if one comes next.
func (d *jsonReader) null() bool { return d.literal("null") }

func (d *jsonReader) boolean() bool {
	switch {
	case d.literal("true"):
		return true
	case d.literal("false"):
		return false
	}
	d.fail()
	return false
}

// object reads an object, calling field with each key once the reader
// stands at its value, which field must read. A key seen twice is left to
// encoding/json, which merges the two values in ways not worth copying.
func (d *jsonReader) object(field func(key string)) {
	if d.peek() != '{' {
		d.fail()
		return
	}
	d.i++
	seen := map[string]bool{}
	if d.peek() == '}' {
		d.i++
		return
	}
	for d.err == nil {
		key := d.str()
		if d.peek() != ':' || seen[key] {
			d.fail()
			return
		}
		if !plainKey(key) {
			// encoding/json matches keys without regard to case (and
			// Unicode's folds): "Path" would be the path.
			d.fail()
			return
		}
		seen[key] = true
		d.i++
		field(key)
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return
		default:
			d.fail()
		}
	}
}

// plainKey reports a key of lower-case ASCII letters, digits and
// underscores, which matches a field's name only if it is that name.
func plainKey(key string) bool {
	for i := 0; i < len(key); i++ {
		if c := key[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// array reads an array, calling elem for each element, which elem must
// read. null is not an array here.
func (d *jsonReader) array(elem func()) {
	if d.peek() != '[' {
		d.fail()
		return
	}
	d.i++
	if d.peek() == ']' {
		d.i++
		return
	}
	for d.err == nil {
		elem()
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return
		default:
			d.fail()
		}
	}
}

// strings reads an array of strings; null is nil.
func (d *jsonReader) strings() []string {
	if d.null() {
		return nil
	}
	list := []string{}
	d.array(func() { list = append(list, d.str()) })
	return list
}

// str reads a string; null and strings holding invalid UTF-8 are left to
// encoding/json.
func (d *jsonReader) str() string {
	if d.peek() != '"' {
		d.fail()
		return ""
	}
	d.i++
	start := d.i
	for d.i < len(d.b) {
		switch c := d.b[d.i]; {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			if !utf8.Valid(s) {
				d.fail()
				return ""
			}
			return string(s)
		case c == '\\':
			return d.escaped(start)
		case c < 0x20:
			d.fail()
			return ""
		}
		d.i++
	}
	d.fail()
	return ""
}

// escaped reads the rest of a string that holds escapes, from start (the
// byte after its opening quote).
func (d *jsonReader) escaped(start int) string {
	out := append([]byte(nil), d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			if !utf8.Valid(out) {
				d.fail()
				return ""
			}
			return string(out)
		case c < 0x20:
			d.fail()
			return ""
		case c != '\\':
			out = append(out, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.b) {
			break
		}
		e := d.b[d.i+1]
		d.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				d.fail()
				return ""
			}
			if utf16.IsSurrogate(r) {
				r = d.lowHalf(r)
			}
			out = utf8.AppendRune(out, r)
		default:
			d.fail()
			return ""
		}
	}
	d.fail()
	return ""
}

// lowHalf completes hi, the first half of a surrogate pair, with a \u
// escape that follows; U+FFFD, as encoding/json makes of a lone half, if
// none that fits does (it is then read as an escape of its own).
func (d *jsonReader) lowHalf(hi rune) rune {
	if d.i+1 >= len(d.b) || d.b[d.i] != '\\' || d.b[d.i+1] != 'u' {
		return utf8.RuneError
	}
	save := d.i
	d.i += 2
	lo, ok := d.hex4()
	if ok {
		if r := utf16.DecodeRune(hi, lo); r != utf8.RuneError {
			return r
		}
	}
	d.i = save
	return utf8.RuneError
}

func (d *jsonReader) hex4() (rune, bool) {
	if d.i+4 > len(d.b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(d.b[d.i:d.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	d.i += 4
	return rune(n), true
}

// number returns the next number's text, as JSON writes numbers.
func (d *jsonReader) number() string {
	d.space()
	start := d.i
	for d.i < len(d.b) {
		switch c := d.b[d.i]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			d.i++
			continue
		}
		break
	}
	if d.i == start {
		d.fail()
	}
	return string(d.b[start:d.i])
}

// integer reads an int; anything else (a fraction, an exponent, out of
// range) is left to encoding/json.
func (d *jsonReader) integer() int {
	text := d.number()
	n, err := strconv.ParseInt(text, 10, strconv.IntSize)
	if err != nil || !validNumber(text) {
		d.fail()
	}
	return int(n)
}

func (d *jsonReader) float() float64 {
	text := d.number()
	if !validNumber(text) {
		d.fail()
		return 0
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		d.fail()
	}
	return f
}

// validNumber reports JSON's number grammar, which ParseFloat is looser
// than (it takes "+1", "1.", ".5", hex and underscores).
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// counts reads key's value into c if key is one of Counts' fields.
func (d *jsonReader) counts(key string, c *buildapi.Counts) bool {
	switch key {
	case "units":
		c.Units = d.integer()
	case "compiled":
		c.Compiled = d.integer()
	case "cached":
		c.Cached = d.integer()
	case "up_to_date":
		c.UpToDate = d.integer()
	case "linked":
		c.Linked = d.boolean()
	default:
		return false
	}
	return true
}

// skip reads a value of any kind and forgets it.
func (d *jsonReader) skip() {
	switch c := d.peek(); {
	case c == '{':
		d.object(func(string) { d.skip() })
	case c == '[':
		d.array(d.skip)
	case c == '"':
		d.str()
	case c == 't' || c == 'f':
		d.boolean()
	case c == 'n':
		if !d.null() {
			d.fail()
		}
	default:
		d.float()
	}
}
