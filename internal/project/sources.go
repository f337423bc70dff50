package project

import (
	"cmp"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// cExts, cxxExts and headerExts classify files by extension. The match is
// case-sensitive, as gcc's is: ".C" is C++, ".c" is C.
var (
	cExts      = []string{".c"}
	cxxExts    = []string{".cc", ".cpp", ".cxx", ".c++", ".C"}
	headerExts = []string{".h", ".hh", ".hpp", ".hxx", ".h++", ".inc", ".ipp", ".tpp"}
)

func hasExt(p string, exts []string) bool {
	ext := path.Ext(filepath.ToSlash(p))
	for _, e := range exts {
		if ext == e {
			return true
		}
	}
	return false
}

// IsCSource reports whether p names a C translation unit (.c).
func IsCSource(p string) bool { return hasExt(p, cExts) }

// IsCXXSource reports whether p names a C++ translation unit
// (.cc .cpp .cxx .c++ .C).
func IsCXXSource(p string) bool { return hasExt(p, cxxExts) }

// IsSource reports whether p names a C or C++ translation unit.
func IsSource(p string) bool { return IsCSource(p) || IsCXXSource(p) }

// IsHeader reports whether p names a C or C++ header
// (.h .hh .hpp .hxx .h++ .inc .ipp .tpp).
func IsHeader(p string) bool { return hasExt(p, headerExts) }

// MatchGlob reports whether the slash-separated path name matches pattern.
// A pattern segment "**" matches any number of directories, zero included;
// within a segment "*", "?" and "[...]" mean what they mean to path.Match and
// never match a "/"; a class may be negated with "[!...]" as in the shell
// or "[^...]". A leading "./" is ignored in both. The only error is
// path.ErrBadPattern, for a malformed pattern.
func MatchGlob(pattern, name string) (bool, error) {
	ps := strings.Split(cleanSlash(pattern), "/")
	for i, s := range ps {
		if s == "**" {
			continue
		}
		s = shellNegation(s)
		ps[i] = s
		// Match against "" to check the segment's syntax: path.Match checks
		// the whole pattern even when the name does not match.
		if _, err := path.Match(s, ""); err != nil {
			return false, err
		}
	}
	return matchSegments(ps, strings.Split(cleanSlash(name), "/")), nil
}

// shellNegation rewrites the shell's "[!" class negation to path.Match's
// "[^", leaving escaped brackets alone.
func shellNegation(seg string) string {
	if !strings.Contains(seg, "[!") {
		return seg
	}
	b := []byte(seg)
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '[':
			if i+1 < len(b) && b[i+1] == '!' {
				b[i+1] = '^'
			}
		}
	}
	return string(b)
}

// matchSegments matches pattern segments against name segments. Results
// are memoized per (pattern, name) suffix pair, so several "**" cost
// len(ps)*len(ns) steps at worst rather than growing exponentially.
func matchSegments(ps, ns []string) bool {
	const unknown, no, yes = 0, 1, 2
	memo := make([]uint8, (len(ps)+1)*(len(ns)+1))
	var match func(i, j int) bool
	match = func(i, j int) bool {
		m := &memo[i*(len(ns)+1)+j]
		if *m != unknown {
			return *m == yes
		}
		var ok bool
		switch {
		case i == len(ps):
			ok = j == len(ns)
		case ps[i] == "**":
			// Zero directories, or one more and try again.
			ok = match(i+1, j) || (j < len(ns) && match(i, j+1))
		case j == len(ns):
			ok = false
		default:
			seg, _ := path.Match(ps[i], ns[j])
			ok = seg && match(i+1, j+1)
		}
		*m = no
		if ok {
			*m = yes
		}
		return ok
	}
	return match(0, 0)
}

// cleanSlash converts p to a clean slash-separated path without a leading
// "./". It keeps "**" segments (path.Clean would too).
func cleanSlash(p string) string {
	p = path.Clean(filepath.ToSlash(p))
	return strings.TrimPrefix(p, "./")
}

// relToRoot makes p (a file, a directory or a pattern) relative to root when
// it is absolute, and slash-separated. ok is false when p is not under root:
// an absolute path elsewhere, or a relative one that climbs out ("../x").
func relToRoot(root, p string) (string, bool) {
	if !filepath.IsAbs(p) {
		rel := cleanSlash(p)
		if rel == ".." || strings.HasPrefix(rel, "../") {
			return "", false
		}
		return rel, true
	}
	if root == "" {
		return "", false
	}
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return "", false
	}
	rel = filepath.ToSlash(rel)
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return cleanSlash(rel), true
}

// SelectSources returns the sorted C and C++ translation units to build out
// of files, which are paths relative to root (slash-separated; absolute
// paths under root are accepted too). When [compile] sources is set, a unit
// is kept when it matches any of its globs; otherwise every unit under
// [paths] source is kept. Units matching any [compile] exclude glob are then
// removed. Malformed globs match nothing (Validate reports them). Absolute
// globs and an absolute source directory are taken relative to root.
func (c *Config) SelectSources(root string, files []string) []string {
	var include []string
	for _, g := range c.Compile.Sources {
		if rel, ok := relToRoot(root, g); ok {
			include = append(include, rel)
		}
	}
	var exclude []string
	for _, g := range c.Compile.Exclude {
		if rel, ok := relToRoot(root, g); ok {
			exclude = append(exclude, rel)
		}
	}
	srcDir, srcOK := relToRoot(root, cmp.Or(c.Paths.Source, "src"))

	seen := map[string]bool{}
	var out []string
	for _, f := range files {
		rel, ok := relToRoot(root, f)
		if !ok || seen[rel] || !IsSource(rel) {
			continue
		}
		var keep bool
		if len(c.Compile.Sources) > 0 {
			keep = matchAny(include, rel)
		} else {
			keep = srcOK && under(srcDir, rel)
		}
		if keep && !matchAny(exclude, rel) {
			seen[rel] = true
			out = append(out, rel)
		}
	}
	sort.Strings(out)
	return out
}

// matchAny reports whether name matches one of the globs.
func matchAny(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := MatchGlob(g, name); ok {
			return true
		}
	}
	return false
}

// under reports whether the slash path name lies inside directory dir ("."
// holds everything).
func under(dir, name string) bool {
	if dir == "." {
		return name != ".." && !strings.HasPrefix(name, "../")
	}
	return strings.HasPrefix(name, dir+"/")
}

// IsCXXProject reports whether any of units is C++, in which case the
// program or library is linked with the C++ compiler driver.
func (c *Config) IsCXXProject(units []string) bool {
	for _, u := range units {
		if IsCXXSource(u) {
			return true
		}
	}
	return false
}
