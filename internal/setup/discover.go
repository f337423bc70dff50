package setup

import (
	"slices"

	"github.com/jmake/jmake/internal/discovery"
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
