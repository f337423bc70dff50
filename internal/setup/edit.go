package setup

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/jmake/jmake/internal/project"
	"github.com/pelletier/go-toml/v2"
)

// Validation is the result of ValidateConfig.
type Validation struct {
	Valid    bool                 `json:"valid"`    // no errors (warnings allowed)
	Cached   bool                 `json:"cached"`   // this content had been parsed before (the config cache held it)
	Errors   []project.Diagnostic `json:"errors"`   // problems that stop a build
	Warnings []project.Diagnostic `json:"warnings"` // unknown keys and suspicious settings
}

// ValidateConfig checks the jmake.toml at path (a project directory or the
// file) with project.Validate's rules, finding compilers with the Setup's
// LookTool. A file that parses also goes into the config cache, so the
// build that usually follows finds it there. The diagnostics are computed
// afresh every time: they depend on the file system (directories, globs,
// compilers), not only on the file's bytes. The error is for a file that
// cannot be read.
func (s *Setup) ValidateConfig(path string) (Validation, error) {
	return s.ValidateConfigWith(path, s.lookTool)
}

// ValidateConfigWith is ValidateConfig finding compilers with lookTool
// (a caller's PATH, say) instead of the Setup's.
func (s *Setup) ValidateConfigWith(path string, lookTool func(name string) (string, bool)) (Validation, error) {
	file, dir, err := configFile(path)
	if err != nil {
		return Validation{}, err
	}
	sum, data, err := s.readFile(file)
	if err != nil {
		return Validation{}, err
	}
	v := Validation{Errors: []project.Diagnostic{}, Warnings: []project.Diagnostic{}}
	// A parse error is reported below, with every other problem.
	_, v.Cached, _ = s.parsed(file, sum, data)
	for _, d := range project.ValidateData(dir, file, data, lookTool) {
		if d.Severity == project.SeverityError {
			v.Errors = append(v.Errors, d)
		} else {
			v.Warnings = append(v.Warnings, d)
		}
	}
	v.Valid = len(v.Errors) == 0
	return v, nil
}

// GetConfigSection returns one section of the jmake.toml at path as it is
// written (no defaults filled in): TOML strings, int64s, booleans, []any and
// map[string]any. A section the schema knows but the file lacks is an empty
// map; a name the schema does not know is an error.
func (s *Setup) GetConfigSection(path, section string) (map[string]any, error) {
	if !slices.Contains(project.Sections(), section) {
		return nil, fmt.Errorf("setup: unknown section [%s] (sections: %s)", section, strings.Join(project.Sections(), ", "))
	}
	file, _, err := configFile(path)
	if err != nil {
		return nil, err
	}
	data, err := project.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	// Parse first: its errors name file:line:column.
	if _, err := project.Parse(file, data); err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := toml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("setup: %s: %w", file, err)
	}
	switch v := doc[section].(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return v, nil
	default:
		return nil, fmt.Errorf("setup: %s: [%s] is a %T, not a table", file, section, v)
	}
}

// UpdateConfig sets keys of one section of the jmake.toml at path to the
// values in data (a nil value removes its key), rewriting only those
// key-value lines: every other byte of the file, comments included, stays
// as it was. A section the file lacks is appended. When the result would
// not parse, nothing is written. The file is replaced atomically (a
// temporary file renamed over it) and keeps its permissions.
func (s *Setup) UpdateConfig(path, section string, data map[string]any) error {
	file, _, err := configFile(path)
	if err != nil {
		return err
	}
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	fi, err := os.Stat(file)
	if err != nil {
		return fmt.Errorf("setup: update: %w", err)
	}
	old, err := project.ReadFile(file)
	if err != nil {
		return fmt.Errorf("setup: update: %w", err)
	}
	text, err := project.EditSection(file, old, section, data)
	if err != nil {
		return fmt.Errorf("setup: update: %w", err)
	}
	if bytes.Equal(text, old) {
		return nil
	}
	return writeAtomic(file, text, fi.Mode()&fs.ModePerm, true)
}
