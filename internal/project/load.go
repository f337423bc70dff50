package project

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/pelletier/go-toml/v2"
)

// PositionError is a problem in a jmake.toml at a known place.
type PositionError struct {
	File   string
	Line   int // 1-based; 0 when unknown
	Column int // 1-based; 0 when unknown
	Msg    string
}

// Error renders e as file:line:col: msg, or file: msg without a position.
func (e *PositionError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// Load reads dir/jmake.toml and fills in defaults. Syntax and type errors
// come back as *PositionError naming file:line:column. Unknown keys are not
// errors here (Validate reports them as warnings).
func Load(dir string) (*Config, error) {
	path := filepath.Join(dir, FileName)
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	c.Defaults(dir)
	if err := c.checkInside(dir, path, data); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse decodes jmake.toml text without applying defaults. file names the
// text in errors.
func Parse(file string, data []byte) (*Config, error) {
	var c Config
	dec := toml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&c); err != nil {
		return nil, positionError(file, err)
	}
	return &c, nil
}

// positionError turns a go-toml error into a *PositionError with the line
// and column go-toml knows, keeping its message.
func positionError(file string, err error) error {
	var derr *toml.DecodeError
	if errors.As(err, &derr) {
		line, col := derr.Position()
		return &PositionError{File: file, Line: line, Column: col, Msg: tidyMessage(derr)}
	}
	var serr *toml.StrictMissingError
	if errors.As(err, &serr) && len(serr.Errors) > 0 {
		line, col := serr.Errors[0].Position()
		return &PositionError{File: file, Line: line, Column: col, Msg: serr.Errors[0].Error()}
	}
	return &PositionError{File: file, Msg: err.Error()}
}

// typeMismatch matches go-toml's type errors, which name Go types:
// "cannot decode TOML integer into struct field project.ProjectSection.Name
// of type string".
var typeMismatch = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^cannot decode TOML (.+?) into .* of type (\S+)$`)
})

// tidyMessage rewrites a go-toml error in the terms of jmake.toml: the
// dotted key it is about and TOML types instead of Go ones.
func tidyMessage(derr *toml.DecodeError) string {
	msg := strings.TrimPrefix(derr.Error(), "toml: ")
	key := strings.Join(derr.Key(), ".")
	if m := typeMismatch().FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("expected %s, found %s", tomlType(m[2]), article(m[1]))
	}
	if key != "" && !strings.Contains(msg, key) {
		msg = key + ": " + msg
	}
	return msg
}

// tomlType names a Go field type as the TOML value it takes.
func tomlType(goType string) string {
	switch goType {
	case "string":
		return "a string"
	case "int", "int64", "int32", "uint", "uint64":
		return "an integer"
	case "bool", "*bool":
		return "a boolean"
	case "[]string":
		return "an array of strings"
	case "map[string]string":
		return "a table of strings"
	}
	if strings.HasSuffix(goType, "Section") {
		return "a table"
	}
	return goType
}

// article puts "a" or "an" before a TOML type name.
func article(s string) string {
	if s != "" && strings.ContainsRune("aeiou", rune(s[0])) {
		return "an " + s
	}
	return "a " + s
}
