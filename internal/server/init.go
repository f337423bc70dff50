package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/jmake/jmake/internal/project"
	"github.com/jmake/jmake/internal/setup"
)

// Initialized is what InitProject did.
type Initialized struct {
	Files []string // created, relative to the project directory
	// Existing is set when the directory already held C or C++ sources:
	// only jmake.toml was written, from what discovery found there.
	Existing bool
	Sources  int      // the sources found, when Existing
	Mains    []string // the sources that define main, when Existing
	Program  bool     // the jmake.toml builds a program (else a shared library)
	// Targets is set when the jmake.toml has targets: a library of the
	// sources without main, a program (or test, under tests/) per main.
	Targets bool
}

// InitProject makes dir a project. In a directory without C or C++
// sources it lays out a new one of type typ (c, cpp, binary or
// cpp-binary; setup.CreateStructure). In one that has sources it writes
// jmake.toml alone and never a template source: a program when a source
// defines main() (or typ is a binary), else a shared library; typeSet
// says whether typ was chosen by the caller or is the default.
func InitProject(dir, typ string, typeSet bool) (Initialized, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Initialized{}, err
	}
	if _, err := os.Stat(filepath.Join(abs, project.FileName)); err == nil {
		return Initialized{}, fmt.Errorf("%s already exists; not overwriting it", filepath.Join(abs, project.FileName))
	}
	st := setup.New(setup.Options{})
	if fi, err := os.Stat(abs); errors.Is(err, fs.ErrNotExist) || err == nil && fi.IsDir() && setup.FirstSource(abs) == "" {
		created, err := st.CreateStructure(abs, typ)
		return Initialized{Files: created.Files, Program: created.Type == setup.BinaryProject || created.Type == setup.CXXBinaryProject}, err
	}
	info, err := setup.Discover(abs)
	if err != nil {
		return Initialized{}, err
	}
	mains := info.MainSources
	if typeSet {
		// The caller's --type: one output of every source.
		info.MainSources = nil
		switch typ {
		case "binary", "cpp-binary", setup.BinaryProject, setup.CXXBinaryProject:
			info.HasMain = true
		default:
			info.HasMain = false
		}
	}
	if _, err := st.GenerateConfig(abs, info, false); err != nil {
		return Initialized{}, err
	}
	return Initialized{Files: []string{project.FileName}, Existing: true, Sources: len(info.Sources), Mains: mains,
		Program: info.HasMain, Targets: setup.UsesTargets(info)}, nil
}
