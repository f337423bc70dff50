package compile

import (
	"fmt"
)

// Depfile is what a compiler's -MD output says: the targets it describes and,
// in order of first mention and without duplicates, every file they depend on.
// For gcc and clang the first prerequisite is the source file; the rest are
// the headers it read.
type Depfile struct {
	Targets []string
	Prereqs []string
}

// ParseDepfile parses the make syntax compilers write for -MD/-MMD:
//
//	target [target...]: prereq [prereq...]
//
// with backslash-newline continuations (also \r\n), "\ " for a space inside a
// name (2N+1 backslashes before a space give N backslashes and a space, 2N
// give N backslashes and end the name, as ninja reads them), "\#" for '#',
// "$$" for '$', several rules, and -MP's phony rules ("header.h:" with no
// prerequisites), whose targets are not reported. A ':' ends the targets
// only when followed by blank space or the end of the line, so "c:\x.h" is a
// name. Other backslashes are literal. It never panics; text that is not a
// rule (words without a ':') is an error naming the line.
func ParseDepfile(data []byte) (*Depfile, error) {
	var (
		df          Depfile
		seenPre     = make(map[string]struct{})
		seenTarget  = make(map[string]struct{})
		targets     []string
		haveColon   bool
		hasPrereqs  bool
		lx          = lexer{data: data, line: 1}
		ruleLine    = 1
		flushRuleFn = func() {
			if haveColon && hasPrereqs {
				for _, t := range targets {
					if _, ok := seenTarget[t]; !ok {
						seenTarget[t] = struct{}{}
						df.Targets = append(df.Targets, t)
					}
				}
			}
			targets = targets[:0]
			haveColon, hasPrereqs = false, false
		}
	)
	for {
		tok, word := lx.next()
		switch tok {
		case tokWord:
			if word == "" {
				continue
			}
			if len(targets) == 0 && !haveColon {
				ruleLine = lx.line
			}
			if !haveColon {
				targets = append(targets, word)
				continue
			}
			hasPrereqs = true
			if _, ok := seenPre[word]; !ok {
				seenPre[word] = struct{}{}
				df.Prereqs = append(df.Prereqs, word)
			}
		case tokColon:
			if haveColon {
				return nil, fmt.Errorf("depfile line %d: unexpected second ':'", lx.line)
			}
			if len(targets) == 0 {
				return nil, fmt.Errorf("depfile line %d: ':' without a target", lx.line)
			}
			haveColon = true
		case tokNewline, tokEOF:
			if len(targets) > 0 && !haveColon {
				return nil, fmt.Errorf("depfile line %d: expected ':' after %q", ruleLine, targets[0])
			}
			flushRuleFn()
			if tok == tokEOF {
				return &df, nil
			}
		}
	}
}

type token int

const (
	tokEOF token = iota
	tokWord
	tokColon
	tokNewline
)

// lexer splits a depfile into words, ':' separators and line ends.
type lexer struct {
	data []byte
	pos  int
	line int // 1-based line of pos
	buf  []byte
	// colonNext is set when a word ended at a separating ':', which is
	// returned as the next token.
	colonNext bool
}

func (lx *lexer) next() (token, string) {
	if lx.colonNext {
		lx.colonNext = false
		return tokColon, ""
	}
	d := lx.data
	// Skip blanks and continuations.
	for lx.pos < len(d) {
		c := d[lx.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\r' && !lx.isNewlineAt(lx.pos):
			lx.pos++
			continue
		case c == '\\' && lx.isNewlineAt(lx.pos+1):
			lx.skipNewline(lx.pos + 1)
			continue
		case c == '#':
			// A comment runs to the end of the line.
			for lx.pos < len(d) && d[lx.pos] != '\n' {
				lx.pos++
			}
			continue
		}
		break
	}
	if lx.pos >= len(d) {
		return tokEOF, ""
	}
	if lx.isNewlineAt(lx.pos) {
		lx.skipNewline(lx.pos)
		return tokNewline, ""
	}
	if d[lx.pos] == ':' && lx.colonSeparates(lx.pos) {
		lx.pos++
		return tokColon, ""
	}
	lx.buf = lx.buf[:0]
	for lx.pos < len(d) {
		c := d[lx.pos]
		switch c {
		case ' ', '\t':
			return tokWord, string(lx.buf)
		case '\n':
			return tokWord, string(lx.buf)
		case '\r':
			if lx.isNewlineAt(lx.pos) {
				return tokWord, string(lx.buf)
			}
			return tokWord, string(lx.buf) // a lone \r is blank space
		case ':':
			if lx.colonSeparates(lx.pos) {
				lx.pos++
				lx.colonNext = true
				return tokWord, string(lx.buf)
			}
			lx.buf = append(lx.buf, c)
			lx.pos++
		case '$':
			lx.buf = append(lx.buf, '$')
			if lx.pos+1 < len(d) && d[lx.pos+1] == '$' {
				lx.pos += 2
			} else {
				lx.pos++
			}
		case '\\':
			n := 0
			for lx.pos+n < len(d) && d[lx.pos+n] == '\\' {
				n++
			}
			after := lx.pos + n
			switch {
			case after < len(d) && (d[after] == ' ' || d[after] == '\t'):
				lx.appendBackslashes(n / 2)
				if n%2 == 1 {
					lx.buf = append(lx.buf, d[after])
					lx.pos = after + 1
				} else {
					lx.pos = after // the blank ends the word
				}
			case lx.isNewlineAt(after):
				// The last backslash continues the line; any others
				// are part of the name, which ends here.
				lx.appendBackslashes(n - 1)
				lx.skipNewline(after)
				return tokWord, string(lx.buf)
			case after < len(d) && (d[after] == '#' || d[after] == ':'):
				lx.appendBackslashes(n - 1)
				lx.buf = append(lx.buf, d[after])
				lx.pos = after + 1
			default:
				lx.appendBackslashes(n)
				lx.pos = after
			}
		default:
			lx.buf = append(lx.buf, c)
			lx.pos++
		}
	}
	return tokWord, string(lx.buf)
}

func (lx *lexer) appendBackslashes(n int) {
	for ; n > 0; n-- {
		lx.buf = append(lx.buf, '\\')
	}
}

// isNewlineAt reports whether a line ends at i ("\n" or "\r\n").
func (lx *lexer) isNewlineAt(i int) bool {
	d := lx.data
	if i >= len(d) {
		return false
	}
	return d[i] == '\n' || d[i] == '\r' && i+1 < len(d) && d[i+1] == '\n'
}

// skipNewline moves past the line end at i.
func (lx *lexer) skipNewline(i int) {
	if lx.data[i] == '\r' {
		i++
	}
	lx.pos = i + 1
	lx.line++
}

// colonSeparates reports whether the ':' at i separates targets from
// prerequisites: it must be followed by blank space, a line end or the end.
func (lx *lexer) colonSeparates(i int) bool {
	d := lx.data
	if i+1 >= len(d) {
		return true
	}
	switch d[i+1] {
	case ' ', '\t', '\n':
		return true
	case '\r':
		return true
	case '\\':
		return lx.isNewlineAt(i + 2)
	}
	return false
}
