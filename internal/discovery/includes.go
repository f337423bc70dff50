package discovery

// includeLine is one #include (or #include_next, #import) directive.
type includeLine struct {
	Name  string `json:"name"`            // as written between the delimiters
	Angle bool   `json:"angle,omitempty"` // <name> rather than "name"
	Next  bool   `json:"next,omitempty"`  // #include_next
	Line  int    `json:"line"`            // 1-based
}

// written is the directive's operand as it appears in the source.
func (inc includeLine) written() string {
	if inc.Angle {
		return "<" + inc.Name + ">"
	}
	return `"` + inc.Name + `"`
}

// scanIncludes lexes C or C++ source just enough to find its #include
// directives and whether it defines main: comments, string, character and
// raw string literals and line splices are skipped, so an include inside a
// comment does not count and a "/*" inside a string does not hide the
// includes after it. Conditional compilation is not evaluated: an include
// under #if 0 counts, which can only add a dependency, never lose one.
// #include MACRO cannot be resolved without preprocessing and is skipped;
// the compiler's depfile, when there is one, lists what it named.
func scanIncludes(data []byte) (incs []includeLine, hasMain bool) {
	l := lexer{data: data, line: 1}
	if len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF {
		l.pos = 3 // UTF-8 byte order mark
	}
	atLineStart := true // only blanks and comments since the last newline
	// mainState follows the tokens "int" "main" "(": 1 after int, 2 after main.
	mainState := 0
	for l.pos < len(l.data) {
		c := l.data[l.pos]
		switch {
		case c == '\n':
			l.pos++
			l.line++
			atLineStart = true
		case isBlank(c):
			l.pos++
		case l.splice():
		case l.comment():
		case c == '#' && atLineStart:
			l.pos++
			if inc, ok := l.directive(); ok {
				incs = append(incs, inc)
			}
			mainState = 0
		case isIdentStart(c):
			word := l.ident()
			atLineStart = false
			if l.pos < len(l.data) && l.data[l.pos] == '"' && isRawPrefix(word) {
				l.pos++
				l.rawString()
				mainState = 0
				continue
			}
			switch {
			case word == "int":
				mainState = 1
			case word == "main" && mainState == 1:
				mainState = 2
			default:
				mainState = 0
			}
		case c == '"' || c == '\'':
			l.pos++
			l.quoted(c)
			atLineStart = false
			mainState = 0
		case c >= '0' && c <= '9':
			l.number()
			atLineStart = false
			mainState = 0
		default:
			if c == '(' && mainState == 2 {
				hasMain = true
			}
			l.pos++
			atLineStart = false
			mainState = 0
		}
	}
	return incs, hasMain
}

type lexer struct {
	data []byte
	pos  int
	line int
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' }

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

func isRawPrefix(w string) bool {
	switch w {
	case "R", "LR", "uR", "UR", "u8R":
		return true
	}
	return false
}

// splice skips a backslash-newline at pos, reporting whether there was one.
func (l *lexer) splice() bool {
	if l.data[l.pos] != '\\' {
		return false
	}
	i := l.pos + 1
	if i < len(l.data) && l.data[i] == '\r' {
		i++
	}
	if i < len(l.data) && l.data[i] == '\n' {
		l.pos = i + 1
		l.line++
		return true
	}
	return false
}

// comment skips a comment starting at pos, reporting whether there was one.
// A line comment stops before its newline.
func (l *lexer) comment() bool {
	if l.data[l.pos] != '/' || l.pos+1 >= len(l.data) {
		return false
	}
	switch l.data[l.pos+1] {
	case '*':
		l.pos += 2
		for l.pos < len(l.data) {
			if l.data[l.pos] == '*' && l.pos+1 < len(l.data) && l.data[l.pos+1] == '/' {
				l.pos += 2
				return true
			}
			if l.data[l.pos] == '\n' {
				l.line++
			}
			l.pos++
		}
		return true
	case '/':
		l.pos += 2
		for l.pos < len(l.data) && l.data[l.pos] != '\n' {
			if !l.splice() {
				l.pos++
			}
		}
		return true
	}
	return false
}

// skipBlanks skips blanks, splices and comments within the logical line.
func (l *lexer) skipBlanks() {
	for l.pos < len(l.data) {
		if c := l.data[l.pos]; isBlank(c) {
			l.pos++
		} else if c == '\n' || !l.splice() && !l.comment() {
			return
		}
	}
}

func (l *lexer) ident() string {
	start := l.pos
	for l.pos < len(l.data) && isIdentChar(l.data[l.pos]) {
		l.pos++
	}
	return string(l.data[start:l.pos])
}

// number skips a preprocessing number, digit separators included (1'000).
func (l *lexer) number() {
	for l.pos < len(l.data) {
		c := l.data[l.pos]
		switch {
		case isIdentChar(c) || c == '.':
			l.pos++
		case (c == '+' || c == '-') && l.pos > 0 && (l.data[l.pos-1]|0x20 == 'e' || l.data[l.pos-1]|0x20 == 'p'):
			l.pos++
		case c == '\'' && l.pos+1 < len(l.data) && isIdentChar(l.data[l.pos+1]):
			l.pos++
		default:
			return
		}
	}
}

// quoted skips a string or character literal whose opening quote was just
// read. An unterminated literal ends at the newline, as compilers recover.
func (l *lexer) quoted(q byte) {
	for l.pos < len(l.data) {
		switch c := l.data[l.pos]; {
		case c == q:
			l.pos++
			return
		case c == '\n':
			return
		case c == '\\':
			if !l.splice() {
				l.pos += 2
			}
		default:
			l.pos++
		}
	}
	l.pos = len(l.data)
}

// maxRawDelim is the longest raw string delimiter C++ allows.
const maxRawDelim = 16

// rawString skips R"delim(...)delim" after its opening quote. Splices and
// escapes do not apply inside.
func (l *lexer) rawString() {
	start := l.pos
	for l.pos < len(l.data) && l.pos-start <= maxRawDelim && l.data[l.pos] != '(' {
		switch l.data[l.pos] {
		case ' ', '\t', '\n', '\\', ')', '"':
			l.quoted('"') // not a raw string after all
			return
		}
		l.pos++
	}
	if l.pos >= len(l.data) || l.data[l.pos] != '(' {
		l.quoted('"')
		return
	}
	closing := ")" + string(l.data[start:l.pos]) + `"`
	l.pos++
	for l.pos < len(l.data) {
		if l.data[l.pos] == ')' && hasPrefixAt(l.data, l.pos, closing) {
			l.pos += len(closing)
			return
		}
		if l.data[l.pos] == '\n' {
			l.line++
		}
		l.pos++
	}
}

func hasPrefixAt(b []byte, i int, s string) bool {
	return len(b)-i >= len(s) && string(b[i:i+len(s)]) == s
}

// directive reads a preprocessing directive after its '#', up to (not
// including) the newline that ends it, and returns it if it includes a file.
func (l *lexer) directive() (includeLine, bool) {
	line := l.line
	l.skipBlanks()
	name := ""
	if l.pos < len(l.data) && isIdentStart(l.data[l.pos]) {
		name = l.ident()
	}
	var inc includeLine
	ok := false
	switch name {
	case "include", "include_next", "import":
		l.skipBlanks()
		if l.pos < len(l.data) {
			var closer byte
			switch l.data[l.pos] {
			case '"':
				closer = '"'
			case '<':
				closer = '>'
			}
			if closer != 0 {
				start := l.pos + 1
				end := start
				for end < len(l.data) && l.data[end] != closer && l.data[end] != '\n' {
					end++
				}
				if end < len(l.data) && l.data[end] == closer && end > start {
					inc = includeLine{Name: string(l.data[start:end]), Angle: closer == '>', Next: name == "include_next", Line: line}
					ok = true
					l.pos = end + 1
				}
			}
		}
	}
	l.restOfLine()
	return inc, ok
}

// restOfLine skips to the newline ending a directive, over comments (which
// may run past it) and literals (which may hold "/*").
func (l *lexer) restOfLine() {
	for l.pos < len(l.data) {
		c := l.data[l.pos]
		switch {
		case c == '\n':
			return
		case l.splice(), l.comment():
		case c == '"' || c == '\'':
			l.pos++
			l.quoted(c)
		default:
			l.pos++
		}
	}
}
