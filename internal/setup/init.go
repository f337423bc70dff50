package setup

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/jmake/jmake/internal/discovery"
	"github.com/jmake/jmake/internal/project"
)

// Discover finds what GenerateConfig needs of an existing tree, running
// discovery in-process: its sources, the include directories their
// #includes need, the sources that define main, and whether any is C++.
func Discover(dir string) (ProjectInfo, error) {
	p, _, err := discovery.New(discovery.Options{}).DiscoverProject(dir, true)
	if err != nil {
		return ProjectInfo{}, err
	}
	srcs := slices.Concat(p.Scan.CSources, p.Scan.CPPSources)
	slices.Sort(srcs)
	return ProjectInfo{
		Name: p.Name, Sources: srcs, IncludeDirs: p.IncludeDirs,
		HasCXX: len(p.Scan.CPPSources) > 0, HasMain: p.HasMain, MainSources: p.MainSources,
	}, nil
}

// InitProject is `jmake init`: a new project of type typ (c, cpp or
// binary) in dir (CreateStructure). In a tree that already has C or C++
// sources it writes no template source: only a jmake.toml generated from
// what is there, and note says so. created lists the files written,
// relative to dir.
func (s *Setup) InitProject(dir, typ string) (created []string, note string, err error) {
	if _, err := os.Stat(dir); err == nil {
		if file := filepath.Join(dir, project.FileName); exists(file) {
			return nil, "", fmt.Errorf("setup: %s already exists; not overwriting it", file)
		}
		info, err := Discover(dir)
		if err != nil {
			return nil, "", err
		}
		if len(info.Sources) > 0 {
			if _, err := s.GenerateConfig(dir, info, false); err != nil {
				return nil, "", err
			}
			note = fmt.Sprintf("%d sources found: wrote %s from them, and no template sources", len(info.Sources), project.FileName)
			return []string{project.FileName}, note, nil
		}
	}
	c, err := s.CreateStructure(dir, typ)
	if err != nil {
		return nil, "", err
	}
	return c.Files, "", nil
}
