package setup

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/jmake/jmake/internal/project"
)

// testDirs are the directories whose programs are tests.
var testDirs = []string{"tests", "test"}

// isTestSource reports whether a source (relative, slash) is in a test
// directory at the top of the project.
func isTestSource(src string) bool {
	top, _, ok := strings.Cut(src, "/")
	return ok && slices.Contains(testDirs, top)
}

// UsesTargets reports whether GenerateConfig writes info's project with
// targets: a source defines main beside others, several do, or there are
// tests; unless HasMain without MainSources asks for one executable.
func UsesTargets(info ProjectInfo) bool {
	return !(info.HasMain && len(info.MainSources) == 0) && wantsTargets(info.Sources, info.MainSources)
}

// wantsTargets is UsesTargets on sources and mains relative to the root.
func wantsTargets(srcs, mains []string) bool {
	return len(mains) > 1 || len(mains) == 1 && len(srcs) > 1 || slices.ContainsFunc(srcs, isTestSource)
}

// targetsConfig renders a jmake.toml with targets: the sources that do
// not define main (outside the test directories) are the library; each
// one that does is a program linking it, or a test when it sits in
// tests/ or test/. srcs, mains and incs are relative to the root.
func targetsConfig(name string, srcs, mains, incs []string, hasCXX bool) (string, error) {
	var lib, libExclude []string
	isMain := map[string]bool{}
	for _, m := range mains {
		isMain[m] = true
	}
	for _, s := range srcs {
		if !isMain[s] && !isTestSource(s) {
			lib = append(lib, s)
		}
	}
	var b strings.Builder
	var err error
	line := func(key string, v any) {
		if err != nil {
			return
		}
		var s string
		if s, err = project.FormatValue(v); err == nil {
			fmt.Fprintf(&b, "%s = %s\n", key, s)
		}
	}
	hasC := slices.ContainsFunc(srcs, project.IsCSource)
	b.WriteString("# jmake.toml generated from the project's sources (see docs/jmake-toml.md).\n")
	b.WriteString("[project]\n")
	line("name", name)
	b.WriteString("\n# Defaults of every target.\n[compile]\nflags = [\"-Wall\"]\n")
	if hasC {
		b.WriteString("# c_std = \"c11\"\n")
	}
	if hasCXX {
		b.WriteString("# cxx_std = \"c++17\"\n")
	}
	if len(incs) > 0 {
		line("include_dirs", incs)
	}
	b.WriteString("\n[target]\nopt_level = \"2\"\n")

	taken := map[string]bool{}
	var links []string
	if len(lib) > 0 {
		globs := libraryGlobs(lib)
		for _, s := range srcs {
			if !slices.Contains(lib, s) && matchesAny(globs, s) {
				libExclude = append(libExclude, escapeGlob(s))
			}
		}
		b.WriteString("\n[[library]]\n")
		line("name", name)
		line("sources", globs)
		if len(libExclude) > 0 {
			line("exclude", libExclude)
		}
		taken[name] = true
		links = []string{name}
	}
	for _, m := range mains {
		table := "program"
		if isTestSource(m) {
			table = "test"
		}
		base := strings.TrimSuffix(path.Base(m), path.Ext(m))
		tname := base
		for i := 2; taken[tname]; i++ {
			tname = fmt.Sprintf("%s%d", base, i)
		}
		taken[tname] = true
		fmt.Fprintf(&b, "\n[[%s]]\n", table)
		line("name", tname)
		line("sources", []string{escapeGlob(m)})
		if len(links) > 0 {
			line("links", links)
		}
	}
	return b.String(), err
}

// libraryGlobs names a library's sources: one glob per directory tree
// and extension when they share a directory, else the files themselves
// at the top and a glob per top-level directory.
func libraryGlobs(lib []string) []string {
	dir, globs := sourceLayout(lib)
	if dir == "." {
		return globs
	}
	var out []string
	for _, s := range lib {
		g := escapeGlob(dir) + "/**/*" + escapeGlob(path.Ext(s))
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return out
}

// matchesAny reports whether name matches one of the globs.
func matchesAny(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := project.MatchGlob(g, name); ok {
			return true
		}
	}
	return false
}
