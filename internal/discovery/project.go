package discovery

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jmake/jmake/internal/project"
)

// Project sums up what discovery knows about a project.
type Project struct {
	Root      string `json:"root"`
	Name      string `json:"name"`       // [project] name, else suggested from the directory
	HasConfig bool   `json:"has_config"` // a jmake.toml was read
	BuildDir  string `json:"build_dir"`  // relative to Root
	Scan      Scan   `json:"scan"`
	// Tools are the tools a build would use, by role: "cc", "c++" (when
	// there are C++ sources), "ar".
	Tools map[string]Tool `json:"tools"`
	// IncludeDirs are relative to Root: [compile] include_dirs, then
	// include/ if present, then the directories from which the project's
	// own headers are included (an #include "a/b.h" of include/a/b.h
	// gives include). Headers found beside their includer need none.
	IncludeDirs []string `json:"include_dirs"`
	Binaries    []Binary `json:"binaries"`
	HasMain     bool     `json:"has_main"`               // some source defines int main(
	MainSources []string `json:"main_sources,omitempty"` // those sources
	// Warnings are what discovery could not do: a missing compiler, a
	// file that vanished while being read.
	Warnings []string `json:"warnings,omitempty"`
}

// toolRoles lists, per role, the tools tried in order when jmake.toml
// names none.
var toolRoles = []struct {
	role  string
	names []string
}{
	{"cc", []string{"cc", "gcc", "clang"}},
	{"c++", []string{"c++", "g++", "clang++"}},
	{"ar", []string{"ar", "llvm-ar"}},
}

// DiscoverProject scans root, finds the tools to build it, infers its
// include directories, lists its binaries and tells whether it has a
// main. A jmake.toml at root is honoured: its project root, [paths] build
// and [compile] exclude shape the scan, and its compilers and include
// directories are used. cached is true when every part came from a cache:
// no directory changed, no tool changed, no file needed parsing. force
// re-walks the project.
func (d *Discovery) DiscoverProject(root string, force bool) (Project, bool, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return Project{}, false, fmt.Errorf("discovery: discover %s: %w", root, err)
	}
	p := Project{Root: abs, BuildDir: "build", Tools: make(map[string]Tool)}
	var excludes, cfgIncludes []string
	compilers := map[string]string{}
	cfg, err := project.Load(abs)
	switch {
	case err == nil:
		p.HasConfig = true
		p.Root = cfg.RootDir(abs)
		p.Name = cfg.Project.Name
		p.BuildDir = cfg.Paths.Build
		excludes = cfg.Compile.Exclude
		cfgIncludes = cfg.Compile.IncludeDirs
		compilers["cc"], compilers["c++"] = cfg.Compile.Compiler, cfg.Compile.CXXCompiler
	case errors.Is(err, fs.ErrNotExist):
		p.Name = suggestName(abs)
	default:
		return Project{}, false, fmt.Errorf("discovery: discover %s: %w", abs, err)
	}

	scan, cached, err := d.ScanFiles(p.Root, force, excludes, p.BuildDir)
	if err != nil {
		return Project{}, false, err
	}
	p.Scan = scan
	if filepath.IsAbs(p.BuildDir) {
		p.BuildDir = relBuildDir(p.Root, p.BuildDir)
	}

	for _, tr := range toolRoles {
		if tr.role == "c++" && len(scan.CPPSources) == 0 {
			continue
		}
		names := tr.names
		if c := compilers[tr.role]; c != "" {
			names = []string{c}
		}
		t, hit, err := d.firstTool(names)
		if err != nil {
			p.Warnings = append(p.Warnings, err.Error())
			continue
		}
		p.Tools[tr.role] = t
		cached = cached && hit
	}

	parsed, err := d.inferFromSources(&p, cfgIncludes)
	if err != nil {
		return Project{}, false, err
	}
	cached = cached && parsed == 0

	if p.Binaries, err = d.DetectBinaries(p.Root); err != nil {
		return Project{}, false, err
	}
	return p, cached, nil
}

// firstTool returns the first of names found; the error of the first
// name when none is.
func (d *Discovery) firstTool(names []string) (Tool, bool, error) {
	var first error
	for _, n := range names {
		t, hit, err := d.GetTool(n)
		if err == nil {
			return t, hit, nil
		}
		if first == nil {
			first = err
		}
	}
	return Tool{}, false, first
}

// inferFromSources reads the facts of every source and header to fill in
// IncludeDirs, HasMain and MainSources. It returns how many files had to
// be parsed.
func (d *Discovery) inferFromSources(p *Project, cfgIncludes []string) (parsed int, err error) {
	s := p.Scan
	headers := make(map[string]bool, len(s.Headers))
	byBase := make(map[string][]string)
	for _, h := range s.Headers {
		headers[h] = true
		byBase[path.Base(h)] = append(byBase[path.Base(h)], h)
	}
	dirs := []string{}
	add := func(dir string) {
		if !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
	}
	for _, dir := range cfgIncludes {
		add(filepath.ToSlash(filepath.Clean(dir)))
	}
	if fi, err := os.Stat(filepath.Join(p.Root, "include")); err == nil && fi.IsDir() {
		add("include")
	}
	var inferred []string
	files := slices.Concat(s.CSources, s.CPPSources, s.Headers)
	for i, rel := range files {
		f, wasParsed, err := d.facts(filepath.Join(p.Root, filepath.FromSlash(rel)))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				p.Warnings = append(p.Warnings, fmt.Sprintf("%s vanished during discovery", rel))
				continue
			}
			return parsed, fmt.Errorf("discovery: discover %s: %w", p.Root, err)
		}
		if wasParsed {
			parsed++
		}
		if f.HasMain && i < len(s.CSources)+len(s.CPPSources) {
			p.HasMain = true
			p.MainSources = append(p.MainSources, rel)
		}
		for _, inc := range f.Includes {
			if dir, ok := includeDirFor(rel, inc, headers, byBase); ok && !slices.Contains(inferred, dir) {
				inferred = append(inferred, dir)
			}
		}
	}
	slices.Sort(inferred)
	for _, dir := range inferred {
		add(dir)
	}
	p.IncludeDirs = dirs
	return parsed, nil
}

// includeDirFor returns the directory that must be on the include path
// for from's include to find one of the project's headers: none when a
// quoted include is found beside its includer, and none for an include
// of no project header (a system header).
func includeDirFor(from string, inc includeLine, headers map[string]bool, byBase map[string][]string) (string, bool) {
	if path.IsAbs(inc.Name) {
		return "", false
	}
	if !inc.Angle && headers[path.Join(path.Dir(from), inc.Name)] {
		return "", false
	}
	name := path.Clean(inc.Name)
	if strings.HasPrefix(name, "../") || name == ".." {
		return "", false
	}
	for _, h := range byBase[path.Base(name)] {
		if h == name {
			return ".", true
		}
		if strings.HasSuffix(h, "/"+name) {
			return strings.TrimSuffix(h, "/"+name), true
		}
	}
	return "", false
}

// suggestName makes a project name of a directory's name: the characters
// a file name and a C identifier-ish name both take, "project" if none.
func suggestName(dir string) string {
	base := filepath.Base(dir)
	var b strings.Builder
	for _, r := range base {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := strings.Trim(b.String(), "_-")
	if name == "" {
		return "project"
	}
	return name
}
