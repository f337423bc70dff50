package setup

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/jmake/jmake/internal/project"
)

// ProjectInfo is what discovery found in a project, the input of
// GenerateConfig.
type ProjectInfo struct {
	Name        string   `json:"name"`         // project name; default: the directory's name
	Sources     []string `json:"sources"`      // C and C++ translation units, relative to the project or absolute under it
	IncludeDirs []string `json:"include_dirs"` // directories holding headers, relative or absolute
	HasCXX      bool     `json:"has_cxx"`      // some sources are C++
	HasMain     bool     `json:"has_main"`     // a source defines main: build an executable
	// MainSources are the sources that define main. With them, each
	// becomes a program (a test under tests/ or test/) linking a library
	// of the other sources; without them, HasMain makes the whole project
	// one executable.
	MainSources []string `json:"main_sources,omitempty"`
}

// GenerateConfig writes a jmake.toml for the project at path from what
// discovery found and returns its text. Sources that share a directory
// become [paths] source; sources spread over the root become [compile]
// sources globs, one per top-level directory and extension. It does not
// overwrite an existing jmake.toml unless force is set.
func (s *Setup) GenerateConfig(path string, info ProjectInfo, force bool) (string, error) {
	file, dir, err := configFile(path)
	if err != nil {
		return "", err
	}
	text, err := configFor(dir, info)
	if err != nil {
		return "", err
	}
	if _, err := project.Parse(file, []byte(text)); err != nil {
		return "", fmt.Errorf("setup: generated config does not parse (a bug): %w", err)
	}
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	if !force && exists(file) {
		return "", fmt.Errorf("setup: %s already exists; set force to overwrite it", file)
	}
	if err := writeAtomic(file, []byte(text), 0o644, force); err != nil {
		return "", err
	}
	return text, nil
}

// configFor renders the jmake.toml text for a project in dir.
func configFor(dir string, info ProjectInfo) (string, error) {
	name := info.Name
	if name == "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", fmt.Errorf("setup: generate config in %s: %w", dir, err)
		}
		name = filepath.Base(abs)
	}
	var srcs []string
	for _, src := range info.Sources {
		if rel, ok := relTo(dir, src); ok {
			srcs = append(srcs, rel)
		}
	}
	var incs []string
	for _, inc := range info.IncludeDirs {
		if rel, ok := relTo(dir, inc); ok {
			incs = append(incs, rel)
		} else {
			incs = append(incs, filepath.Clean(inc))
		}
	}
	var mains []string
	for _, m := range info.MainSources {
		if rel, ok := relTo(dir, m); ok {
			mains = append(mains, rel)
		}
	}
	if !(info.HasMain && len(mains) == 0) && wantsTargets(srcs, mains) {
		return targetsConfig(name, srcs, mains, incs, info.HasCXX)
	}
	srcDir, globs := sourceLayout(srcs)

	var b strings.Builder
	line := func(key string, v any) error {
		s, err := project.FormatValue(v)
		if err != nil {
			return fmt.Errorf("setup: generate config: %s: %w", key, err)
		}
		fmt.Fprintf(&b, "%s = %s\n", key, s)
		return nil
	}
	b.WriteString("# jmake.toml generated from the project's sources (see docs/jmake-toml.md).\n")
	b.WriteString("[project]\n")
	if err := line("name", name); err != nil {
		return "", err
	}
	b.WriteString("\n[paths]\n")
	if err := line("source", srcDir); err != nil {
		return "", err
	}
	b.WriteString("build = \"build\"\n\n[compile]\n")
	if slices.ContainsFunc(srcs, project.IsCSource) {
		b.WriteString("# c_std = \"c11\"\n")
	}
	if info.HasCXX {
		b.WriteString("# cxx_std = \"c++17\"\n")
	}
	b.WriteString("flags = [\"-Wall\"]\n")
	if len(incs) > 0 {
		if err := line("include_dirs", incs); err != nil {
			return "", err
		}
	}
	if len(globs) > 0 {
		if err := line("sources", globs); err != nil {
			return "", err
		}
	}
	libType := project.Shared
	if info.HasMain {
		libType = project.Executable
	}
	b.WriteString("\n[binary]\n")
	if err := line("library_type", libType); err != nil {
		return "", err
	}
	b.WriteString("\n[target]\nopt_level = \"2\"\n")
	return b.String(), nil
}

// relTo makes p relative to dir, slash-separated. ok is false when p is
// absolute and not under dir, or relative and climbing out of it.
func relTo(dir, p string) (string, bool) {
	if filepath.IsAbs(p) {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", false
		}
		r, err := filepath.Rel(abs, p)
		if err != nil {
			return "", false
		}
		p = r
	}
	p = path.Clean(filepath.ToSlash(p))
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", false
	}
	return p, true
}

// sourceLayout chooses how a config names sources: the deepest directory
// all of them share, as [paths] source; or, when they share none, "." and
// one glob per top-level directory and extension (files at the root are
// named as they are).
func sourceLayout(srcs []string) (dir string, globs []string) {
	if len(srcs) == 0 {
		return "src", nil
	}
	common := strings.Split(path.Dir(srcs[0]), "/")
	for _, s := range srcs[1:] {
		parts := strings.Split(path.Dir(s), "/")
		n := 0
		for n < len(common) && n < len(parts) && common[n] == parts[n] {
			n++
		}
		common = common[:n]
	}
	if d := strings.Join(common, "/"); d != "" && d != "." {
		return d, nil
	}
	seen := map[string]bool{}
	for _, s := range srcs {
		g := escapeGlob(s)
		if top, _, ok := strings.Cut(s, "/"); ok {
			g = escapeGlob(top) + "/**/*" + escapeGlob(path.Ext(s))
		}
		if !seen[g] {
			seen[g] = true
			globs = append(globs, g)
		}
	}
	sort.Strings(globs)
	return ".", globs
}

// escapeGlob quotes the characters MatchGlob treats as wildcards, so a
// file name is matched as written.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
