package server

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/jmake/jmake/internal/discovery"
	"github.com/jmake/jmake/internal/project"
	"github.com/jmake/jmake/internal/setup"
)

// discoverInfo is what generate_config needs of an existing tree, found by
// discovery in-process: its sources, the include directories their
// #includes need, the sources that define main, and whether any is C++.
func discoverInfo(dir string) (setup.ProjectInfo, error) {
	p, _, err := discovery.New(discovery.Options{}).DiscoverProject(dir, true)
	if err != nil {
		return setup.ProjectInfo{}, err
	}
	srcs := slices.Concat(p.Scan.CSources, p.Scan.CPPSources)
	slices.Sort(srcs)
	return setup.ProjectInfo{
		Name: p.Name, Sources: srcs, IncludeDirs: p.IncludeDirs,
		HasCXX: len(p.Scan.CPPSources) > 0, HasMain: p.HasMain, MainSources: p.MainSources,
	}, nil
}

// InitProject creates a new project of type typ (c, cpp or binary) in dir.
// In a tree that already has C or C++ sources it writes no template
// source: only a jmake.toml generated from what is there, and note says
// so.
func InitProject(dir, typ string) (created []string, note string, err error) {
	if _, err := os.Stat(dir); err == nil {
		if _, err := os.Stat(filepath.Join(dir, project.FileName)); err == nil {
			return nil, "", fmt.Errorf("%s already exists; not overwriting it", filepath.Join(dir, project.FileName))
		}
		info, err := discoverInfo(dir)
		if err != nil {
			return nil, "", err
		}
		if len(info.Sources) > 0 {
			if _, err := setup.New(setup.Options{}).GenerateConfig(dir, info, false); err != nil {
				return nil, "", err
			}
			note = fmt.Sprintf("%d sources found: wrote %s from them, and no template sources", len(info.Sources), project.FileName)
			return []string{project.FileName}, note, nil
		}
	}
	c, err := setup.New(setup.Options{}).CreateStructure(dir, typ)
	if err != nil {
		return nil, "", err
	}
	return c.Files, "", nil
}
