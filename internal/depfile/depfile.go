// Package depfile reads the make-syntax dependency files that compilers
// write with -MD/-MMD: which files an object was built from.
package depfile

import (
	"fmt"
	"strings"
)

// Rule is one rule of a dependency file: targets and what they depend on.
type Rule struct {
	Targets []string `json:"targets"`
	Prereqs []string `json:"prereqs"`
}

// ParseDepfile parses the make-syntax dependency files that gcc and clang
// write with -MD/-MMD (and -MP, whose extra rules have no prerequisites).
// name is used in errors only.
//
// The syntax, as gcc escapes it (libcpp mkdeps.cc) and ninja reads it:
//
//   - backslash-newline (or backslash-CRLF) joins lines and separates words;
//   - 2N+1 backslashes before a space or tab are N backslashes and the
//     blank, part of the name; 2N backslashes before one are N backslashes
//     ending the name (make's rule);
//   - a backslash before '#' or ':' makes it part of the name; other
//     backslashes are literal (C:\dir\x.h);
//   - "$$" is '$';
//   - an unescaped '#' starts a comment that runs to the end of the line;
//   - ':' separates targets from prerequisites when followed by a blank,
//     the end of the line or file; otherwise it is part of a name, so that
//     C:/x.h survives.
func ParseDepfile(name string, data []byte) ([]Rule, error) {
	p := depParser{data: data, line: 1}
	var rules []Rule
	for {
		words, seps, more, err := p.logicalLine()
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, p.lineStart, err)
		}
		if len(words) > 0 {
			if seps != 1 {
				if seps == 0 {
					return nil, fmt.Errorf("%s:%d: expected ':' after %q", name, p.lineStart, words[len(words)-1].text)
				}
				return nil, fmt.Errorf("%s:%d: more than one ':' in a rule", name, p.lineStart)
			}
			var r Rule
			inPrereqs := false
			for _, w := range words {
				if w.text != "" {
					if inPrereqs {
						r.Prereqs = append(r.Prereqs, w.text)
					} else {
						r.Targets = append(r.Targets, w.text)
					}
				}
				if w.sep {
					inPrereqs = true
				}
			}
			if len(r.Targets) == 0 {
				return nil, fmt.Errorf("%s:%d: rule without a target", name, p.lineStart)
			}
			rules = append(rules, r)
		}
		if !more {
			return rules, nil
		}
	}
}

// depWord is a word of a rule; sep marks the word the ':' separator ended
// (its text may be empty when the ':' stood alone).
type depWord struct {
	text string
	sep  bool
}

type depParser struct {
	data      []byte
	pos       int
	line      int // current line, 1-based
	lineStart int // line the current logical line began on
}

// logicalLine reads words up to an unescaped newline. more is false at the
// end of the data.
func (p *depParser) logicalLine() (words []depWord, seps int, more bool, err error) {
	p.lineStart = p.line
	var cur strings.Builder
	inWord := false
	end := func(sep bool) {
		if inWord || sep {
			words = append(words, depWord{text: cur.String(), sep: sep})
		}
		if sep {
			seps++
		}
		cur.Reset()
		inWord = false
	}
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '\\':
			n := 0
			for p.pos < len(p.data) && p.data[p.pos] == '\\' {
				n++
				p.pos++
			}
			next := byte(0)
			if p.pos < len(p.data) {
				next = p.data[p.pos]
			}
			switch {
			case next == '\n' || next == '\r' && p.pos+1 < len(p.data) && p.data[p.pos+1] == '\n':
				cur.WriteString(strings.Repeat(`\`, n-n%2))
				inWord = inWord || n > 1
				if n%2 == 0 {
					continue // the newline ends the line below
				}
				if next == '\r' {
					p.pos++
				}
				p.pos++
				p.line++
				end(false)
			case next == ' ' || next == '\t':
				cur.WriteString(strings.Repeat(`\`, n/2))
				inWord = true
				if n%2 == 1 {
					cur.WriteByte(next)
					p.pos++
				}
			case next == '#' || next == ':':
				cur.WriteString(strings.Repeat(`\`, n-1))
				cur.WriteByte(next)
				inWord = true
				p.pos++
			default:
				cur.WriteString(strings.Repeat(`\`, n))
				inWord = true
			}
		case c == '$':
			cur.WriteByte('$')
			inWord = true
			p.pos++
			if p.pos < len(p.data) && p.data[p.pos] == '$' {
				p.pos++
			}
		case c == '#':
			for p.pos < len(p.data) && p.data[p.pos] != '\n' {
				p.pos++
			}
		case c == '\n':
			p.pos++
			p.line++
			end(false)
			return words, seps, true, nil
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			p.pos++
			end(false)
		case c == ':' && p.isSeparator():
			p.pos++
			end(true)
		case c == 0:
			return nil, 0, false, fmt.Errorf("NUL byte in dependency file")
		default:
			cur.WriteByte(c)
			inWord = true
			p.pos++
		}
	}
	end(false)
	return words, seps, false, nil
}

// isSeparator reports whether the ':' at p.pos ends the targets: it is
// followed by a blank, a line end, a line continuation or the end of the
// data, as ninja decides. Any other ':' is part of a name (C:/x.h, a:b.h);
// gcc and clang always write ": ".
func (p *depParser) isSeparator() bool {
	i := p.pos + 1
	if i >= len(p.data) {
		return true
	}
	switch p.data[i] {
	case ' ', '\t', '\r', '\n':
		return true
	case '\\':
		return i+1 < len(p.data) && (p.data[i+1] == '\n' || p.data[i+1] == '\r')
	}
	return false
}

// Deps is what a compiler's depfile says about one compile: the targets it
// describes and, in order of first mention and without duplicates, every
// file they depend on. For gcc and clang the first prerequisite is the
// source file; the rest are the headers it read.
type Deps struct {
	Targets []string
	Prereqs []string
}

// Merge folds rules into one Deps. The targets of rules without
// prerequisites (-MP's phony "header.h:" rules) are left out: they name
// inputs, not outputs.
func Merge(rules []Rule) Deps {
	var d Deps
	seenTarget := make(map[string]struct{})
	seenPre := make(map[string]struct{})
	for _, r := range rules {
		if len(r.Prereqs) == 0 {
			continue
		}
		for _, t := range r.Targets {
			if _, ok := seenTarget[t]; !ok {
				seenTarget[t] = struct{}{}
				d.Targets = append(d.Targets, t)
			}
		}
		for _, p := range r.Prereqs {
			if _, ok := seenPre[p]; !ok {
				seenPre[p] = struct{}{}
				d.Prereqs = append(d.Prereqs, p)
			}
		}
	}
	return d
}
