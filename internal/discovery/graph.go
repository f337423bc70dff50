package discovery

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jmake/jmake/internal/depfile"
)

// Graph is a project's include graph: for each unit, every header it
// includes, directly or not, and the reverse.
//
// Paths inside the root are relative to it, with slashes; paths outside
// (system headers a depfile lists, include directories elsewhere) are
// absolute.
type Graph struct {
	Root  string     `json:"root"`
	Units []UnitDeps `json:"units"`
	// Reverse maps each header to the units that include it, sorted.
	Reverse map[string][]string `json:"dependents"`
	// FilesParsed counts the files whose #include lines were parsed for
	// this answer rather than taken from the cache.
	FilesParsed int `json:"files_parsed"`
}

// UnitDeps is one unit's headers.
type UnitDeps struct {
	Unit string `json:"unit"`
	// From says where the headers came from: "depfile" (the compiler's own
	// -MD output, current), "scan" (the #include lines, followed), or
	// "scan+depfile" (a stale depfile's still existing headers added to a
	// scan, so that headers only the compiler could resolve, such as
	// #include MACRO, are not lost).
	From    string   `json:"from"`
	Depfile string   `json:"depfile,omitempty"`
	Headers []string `json:"headers"`
	// External are includes the scan could not resolve in the includer's
	// directory or the include directories, as written: system headers
	// (<stdio.h>) and missing or generated ones ("gen.h"). They are not
	// followed.
	External []string `json:"external,omitempty"`
}

// Dependents returns the units that include header (a path as Graph
// reports it), sorted; nil if none.
func (g Graph) Dependents(header string) []string {
	return g.Reverse[header]
}

// DefaultDepfilePaths returns where jmake and the usual Makefile and ninja
// layouts leave a unit's depfile: under <root>/build/obj, named after the
// unit with or without its source extension, with or without the source
// directory (src/a.c: build/obj/src/a.c.d, build/obj/src/a.d,
// build/obj/src/a.c.o.d, build/obj/src/a.o.d, then build/obj/a.c.d ...).
// A depfile found for another unit of the same name is rejected by its
// contents, so guessing wide costs a stat, not correctness.
func DefaultDepfilePaths(root, unit string) []string {
	rels := []string{unit}
	if i := strings.IndexByte(unit, '/'); i >= 0 {
		rels = append(rels, unit[i+1:])
	}
	var out []string
	for _, rel := range rels {
		base := filepath.Join(root, "build", "obj", filepath.FromSlash(rel))
		stem := strings.TrimSuffix(base, filepath.Ext(base))
		out = append(out, base+".d", stem+".d", base+".o.d", stem+".o.d")
	}
	return out
}

// WalkDependencies returns the include graph of units (paths relative to
// root, or absolute; none means every C and C++ source ScanFiles finds
// with its defaults). includeDirs are the -I directories, relative to
// root or absolute, in search order.
//
// A unit's compiler depfile is the source of truth when it is current:
// its first rule names the unit, and the unit and every header it lists
// exist and are older than it. Otherwise the unit's #include lines are
// followed: "..." relative to the including file, then the include
// directories; <...> in the include directories only. Relative paths in a
// depfile are taken relative to root, where jmake runs the compiler.
func (d *Discovery) WalkDependencies(root string, includeDirs []string, units []string) (Graph, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return Graph{}, fmt.Errorf("discovery: walk dependencies of %s: %w", root, err)
	}
	if len(units) == 0 {
		scan, _, err := d.ScanFiles(abs, false, nil, "")
		if err != nil {
			return Graph{}, err
		}
		units = slices.Concat(scan.CSources, scan.CPPSources)
	}
	w := &graphWalk{d: d, root: abs, stats: make(map[string]os.FileInfo), direct: make(map[string]*directDeps)}
	for _, dir := range includeDirs {
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(abs, dir)
		}
		w.includeDirs = append(w.includeDirs, filepath.Clean(dir))
	}
	g := Graph{Root: abs, Units: make([]UnitDeps, 0, len(units)), Reverse: make(map[string][]string)}
	for _, u := range units {
		ud, err := w.unit(u)
		if err != nil {
			return Graph{}, err
		}
		g.Units = append(g.Units, ud)
		for _, h := range ud.Headers {
			g.Reverse[h] = append(g.Reverse[h], ud.Unit)
		}
	}
	for h, us := range g.Reverse {
		slices.Sort(us)
		g.Reverse[h] = slices.Compact(us)
	}
	g.FilesParsed = w.parsed
	return g, nil
}

// graphWalk is the state of one WalkDependencies call.
type graphWalk struct {
	d           *Discovery
	root        string
	includeDirs []string
	stats       map[string]os.FileInfo // abs path -> stat, nil if absent
	direct      map[string]*directDeps // abs file -> its resolved includes
	parsed      int
}

type directDeps struct {
	headers  []string // absolute
	external []string // as written
}

func (w *graphWalk) stat(p string) os.FileInfo {
	if fi, ok := w.stats[p]; ok {
		return fi
	}
	fi, err := os.Stat(p)
	if err != nil {
		fi = nil
	}
	w.stats[p] = fi
	return fi
}

func (w *graphWalk) isFile(p string) bool {
	fi := w.stat(p)
	return fi != nil && fi.Mode().IsRegular()
}

// rel reports an absolute path the way Graph does.
func (w *graphWalk) rel(p string) string {
	r, err := filepath.Rel(w.root, p)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return p
	}
	return filepath.ToSlash(r)
}

func (w *graphWalk) unit(u string) (UnitDeps, error) {
	p := u
	if !filepath.IsAbs(p) {
		p = filepath.Join(w.root, filepath.FromSlash(u))
	}
	p = filepath.Clean(p)
	if !w.isFile(p) {
		return UnitDeps{}, fmt.Errorf("discovery: walk dependencies: unit %s: %w", p, fs.ErrNotExist)
	}
	ud := UnitDeps{Unit: w.rel(p)}
	depfile, fromDep, fresh := w.depfile(ud.Unit, p)
	if fresh {
		ud.From, ud.Depfile = "depfile", w.rel(depfile)
		ud.Headers = make([]string, 0, len(fromDep))
		for _, h := range fromDep {
			ud.Headers = append(ud.Headers, w.rel(h))
		}
		slices.Sort(ud.Headers)
		ud.Headers = slices.Compact(ud.Headers)
		return ud, nil
	}
	headers, external, err := w.follow(p)
	if err != nil {
		return UnitDeps{}, err
	}
	ud.From = "scan"
	if depfile != "" {
		ud.From, ud.Depfile = "scan+depfile", w.rel(depfile)
		for _, h := range fromDep {
			if w.isFile(h) {
				headers = append(headers, h)
			}
		}
	}
	ud.Headers = make([]string, 0, len(headers))
	for _, h := range headers {
		ud.Headers = append(ud.Headers, w.rel(h))
	}
	slices.Sort(ud.Headers)
	ud.Headers = slices.Compact(ud.Headers)
	slices.Sort(external)
	ud.External = slices.Compact(external)
	return ud, nil
}

// depfile finds the unit's depfile. It returns the depfile's path and the
// headers it lists (absolute) when one names this unit, and fresh when it
// can be trusted as it is.
func (w *graphWalk) depfile(unitRel, unitAbs string) (path string, headers []string, fresh bool) {
	for _, cand := range w.d.depfilePaths(w.root, unitRel) {
		// Candidates of many units share directories: one memoized stat
		// of a missing directory spares a stat per unit.
		if w.stat(filepath.Dir(cand)) == nil {
			continue
		}
		dfi := w.stat(cand)
		if dfi == nil || !dfi.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(cand)
		if err != nil {
			continue
		}
		rules, err := depfile.ParseDepfile(cand, data)
		if err != nil {
			w.d.log.Warn("discovery: unreadable depfile ignored", "err", err)
			continue
		}
		if len(rules) == 0 || len(rules[0].Prereqs) == 0 || w.abs(rules[0].Prereqs[0]) != unitAbs {
			continue // another unit's, or not a compiler's
		}
		fresh = true
		for _, pre := range rules[0].Prereqs {
			pa := w.abs(pre)
			fi := w.stat(pa)
			// Strictly older: a file written in the same timestamp tick as
			// the depfile may have changed after the compiler read it.
			if fi == nil || !fi.ModTime().Before(dfi.ModTime()) {
				fresh = false
			}
			if pa != unitAbs {
				headers = append(headers, pa)
			}
		}
		return cand, headers, fresh
	}
	return "", nil, false
}

func (w *graphWalk) abs(p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(w.root, p)
	}
	return filepath.Clean(p)
}

// follow returns every header reachable from the file at p by its
// #include lines, and the includes it could not resolve.
func (w *graphWalk) follow(p string) (headers, external []string, err error) {
	seen := map[string]bool{p: true}
	queue := []string{p}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		dd, err := w.directOf(cur)
		if err != nil {
			return nil, nil, err
		}
		external = append(external, dd.external...)
		for _, h := range dd.headers {
			if !seen[h] {
				seen[h] = true
				headers = append(headers, h)
				queue = append(queue, h)
			}
		}
	}
	return headers, external, nil
}

// directOf resolves the includes of the file at p, once per walk.
func (w *graphWalk) directOf(p string) (*directDeps, error) {
	if dd, ok := w.direct[p]; ok {
		return dd, nil
	}
	f, parsed, err := w.d.facts(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("discovery: walk dependencies: %w", err)
		} else {
			err = fmt.Errorf("discovery: walk dependencies: read %s: %w", p, err)
		}
		return nil, err
	}
	if parsed {
		w.parsed++
	}
	dd := &directDeps{}
	for _, inc := range f.Includes {
		if h, ok := w.resolve(p, inc); ok {
			dd.headers = append(dd.headers, h)
		} else {
			dd.external = append(dd.external, inc.written())
		}
	}
	w.direct[p] = dd
	return dd, nil
}

// resolve finds the file an include names, as the compiler would with
// these include directories and no system directories.
func (w *graphWalk) resolve(from string, inc includeLine) (string, bool) {
	if filepath.IsAbs(inc.Name) {
		return filepath.Clean(inc.Name), w.isFile(inc.Name)
	}
	if !inc.Angle {
		if c := filepath.Join(filepath.Dir(from), inc.Name); w.isFile(c) {
			return c, true
		}
	}
	for _, dir := range w.includeDirs {
		// #include_next continues the search after the directory holding
		// the includer; without knowing which one that was, skipping only
		// it keeps a header from including itself.
		if inc.Next && dir == filepath.Dir(from) {
			continue
		}
		if c := filepath.Join(dir, inc.Name); w.isFile(c) {
			return c, true
		}
	}
	return "", false
}
