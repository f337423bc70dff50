package discovery

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jmake/jmake/internal/change"
	"github.com/jmake/jmake/internal/project"
)

// Scan is a project's files, classified by name. Paths are relative to
// Root, with slashes, sorted.
type Scan struct {
	Root       string   `json:"root"`
	CSources   []string `json:"c_sources"`
	CPPSources []string `json:"cpp_sources"`
	Headers    []string `json:"headers"`
	Other      int      `json:"other"` // files of any other kind, counted only
	Dirs       int      `json:"dirs"`  // directories walked, root included
	// Walked names those directories, relative and slash-separated ("."
	// for the root): a watch over them sees every file added, removed or
	// renamed. Kept out of the wire reply, where the count says enough.
	Walked []string `json:"-"`
}

// scanVersion is part of every scan record; bump it when what a scan
// holds or how files are classified changes, so old records are misses.
const scanVersion = 2

// scanRecord is the scans cache's value: a scan and what proves it current.
type scanRecord struct {
	V    int         `json:"v"`
	Scan Scan        `json:"scan"`
	Dirs []dirRecord `json:"dirs"`
	// ObservedNS is a time at which every directory was known to match
	// Dirs; it decides which directories are racily clean.
	ObservedNS int64 `json:"observed_ns"`
}

// dirRecord is one directory walked: its identity, and its listing
// (change.Listing), checked when the identity alone proves nothing: it
// moved (a file saved by rename in the directory) or the directory changed
// moments before it was recorded.
type dirRecord struct {
	Rel   string    `json:"rel"` // "." for the root
	ID    change.ID `json:"id"`
	Names string    `json:"names"`
	// Link is set for a directory reached through a symbolic link: its
	// ID is its target's.
	Link bool `json:"link,omitempty"`
}

// ScanFiles walks root and classifies its files, skipping buildDir
// (relative to root, or absolute; "" means "build"), .git and every
// hidden directory, and paths matching the exclude globs, which mean what
// jmake.toml's [compile] exclude means (project.MatchGlob: slash paths
// relative to root, "**" for any number of directories, as in
// "third_party", "**/*.gen.c", "src/legacy/**"); an excluded directory is
// skipped whole.
//
// A cached scan is returned (cached true) when every directory walked is
// unchanged: a stat per directory, since adding, removing or renaming an
// entry changes its directory's mtime; a directory whose stat moved is
// read again, and unchanged if it lists the same entries (a file saved by
// rename moves its directory's mtime). force re-walks regardless.
// A symbolic link to a directory is followed, unless that directory was
// already walked (a link to an ancestor, which would loop, or to a
// directory seen by another path).
func (d *Discovery) ScanFiles(root string, force bool, excludes []string, buildDir string) (Scan, bool, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return Scan{}, false, fmt.Errorf("discovery: scan %s: %w", root, err)
	}
	if fi, err := os.Stat(abs); err != nil {
		return Scan{}, false, fmt.Errorf("discovery: scan: %w", err)
	} else if !fi.IsDir() {
		return Scan{}, false, fmt.Errorf("discovery: scan %s: not a directory", abs)
	}
	globs, err := compileGlobs(excludes)
	if err != nil {
		return Scan{}, false, fmt.Errorf("discovery: scan %s: %w", abs, err)
	}
	buildRel := relBuildDir(abs, buildDir)
	key := scanKey(abs, buildRel, excludes)

	if !force {
		if rec := d.loadScan(key); rec != nil {
			if ok, renewed := d.scanCurrent(abs, rec); ok {
				d.scanStats.hit(true)
				if renewed != nil {
					d.settleScan(key, rec, renewed)
				}
				return rec.result(), true, nil
			}
		}
	}
	d.scanStats.hit(false)
	// Empty lists rather than nil ones: JSON [] rather than null.
	w := walker{root: abs, build: buildRel, globs: globs, scan: Scan{CSources: []string{}, CPPSources: []string{}, Headers: []string{}}}
	if err := w.walk(".", abs, false); err != nil {
		return Scan{}, false, err
	}
	rec := &scanRecord{V: scanVersion, Scan: w.scan, Dirs: w.dirs, ObservedNS: time.Now().UnixNano()}
	rec.Scan.Root = abs
	slices.Sort(rec.Scan.CSources)
	slices.Sort(rec.Scan.CPPSources)
	slices.Sort(rec.Scan.Headers)
	rec.Scan.Dirs = len(w.dirs)
	d.scanMu.Lock()
	d.scanMem[key] = rec
	d.scanMu.Unlock()
	d.putJSON(d.scans, key, rec)
	return rec.result(), false, nil
}

// result is the record's scan, for a caller to keep.
func (rec *scanRecord) result() Scan {
	s := cloneScan(rec.Scan)
	s.Walked = make([]string, len(rec.Dirs))
	for i, d := range rec.Dirs {
		s.Walked[i] = d.Rel
	}
	return s
}

// relBuildDir turns the build directory into a slash path relative to
// root; "" when it lies outside root (nothing to skip).
func relBuildDir(root, buildDir string) string {
	if buildDir == "" {
		buildDir = "build"
	}
	if !filepath.IsAbs(buildDir) {
		buildDir = filepath.Join(root, buildDir)
	}
	rel, err := filepath.Rel(root, buildDir)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return ""
	}
	return filepath.ToSlash(rel)
}

func scanKey(root, buildRel string, excludes []string) string {
	ex := slices.Clone(excludes)
	slices.Sort(ex)
	return "scan:" + root + "\x00" + buildRel + "\x00" + strings.Join(ex, "\x00")
}

func cloneScan(s Scan) Scan {
	s.CSources = slices.Clone(s.CSources)
	s.CPPSources = slices.Clone(s.CPPSources)
	s.Headers = slices.Clone(s.Headers)
	return s
}

// loadScan returns the record for key from memory, or from the store
// after a restart; nil if there is none.
func (d *Discovery) loadScan(key string) *scanRecord {
	d.scanMu.Lock()
	rec := d.scanMem[key]
	d.scanMu.Unlock()
	if rec != nil {
		return rec
	}
	rec = new(scanRecord)
	if !getJSON(d.scans, key, rec) || rec.V != scanVersion {
		return nil
	}
	d.scanMu.Lock()
	d.scanMem[key] = rec
	d.scanMu.Unlock()
	return rec
}

// scanCurrent reports whether every directory in rec is unchanged: its
// stat as recorded, or, where the stat moved (an editor's save renames a
// temp file within the directory) or is too recent to be trusted, its
// entries re-read and listed as they were (change.Listing). When some were
// re-read and all agree, renewed is the record to keep instead: the new
// identities, observed as of this check, so that the next check is a stat
// again (nil when there is nothing to renew).
func (d *Discovery) scanCurrent(root string, rec *scanRecord) (ok bool, renewed *scanRecord) {
	start := time.Now().UnixNano()
	var dirs []dirRecord // rec.Dirs with the identities that moved, once one did
	settles := false
	for i, dr := range rec.Dirs {
		p := filepath.Join(root, filepath.FromSlash(dr.Rel))
		// Lstat: the walk never follows a link below the root, so a link
		// where a directory was is a change. The root itself may be a
		// link, followed like the walk followed it.
		stat := os.Lstat
		if dr.Rel == "." || dr.Link {
			stat = os.Stat
		}
		fi, err := stat(p)
		if err != nil || !fi.IsDir() {
			d.log.Debug("discovery: scan stale", "dir", p)
			return false, nil
		}
		id := change.IDOf(fi)
		if id != dr.ID && !change.SameDir(dr.ID, id) {
			d.log.Debug("discovery: scan stale", "dir", p, "replaced", true)
			return false, nil
		}
		if id == dr.ID && !change.Racy(dr.ID.MtimeNS, rec.ObservedNS) {
			continue
		}
		// Read after the stat, so that an entry added in between moves the
		// identity again by the next check.
		ents, err := os.ReadDir(p)
		if err != nil || change.Listing(p, fi.Mode(), ents) != dr.Names {
			d.log.Debug("discovery: scan stale", "dir", p, "listing", true)
			return false, nil
		}
		if id != dr.ID {
			if dirs == nil {
				dirs = slices.Clone(rec.Dirs)
			}
			dirs[i].ID = id
		}
		if !change.Racy(id.MtimeNS, start) {
			settles = true
		}
	}
	if dirs == nil && !settles {
		return true, nil
	}
	renewed = &scanRecord{V: rec.V, Scan: rec.Scan, Dirs: rec.Dirs, ObservedNS: start}
	if dirs != nil {
		renewed.Dirs = dirs
	}
	return true, renewed
}

// settleScan replaces rec with renewed, the same scan found current with
// directories re-read, so that those are trusted by their stat next time.
// The store gets it only once none of its directories is racy: until then
// the next check reads them again whichever record it holds, and the one
// stored is still a true, older proof, so writing the whole scan (some 40
// KB for 1000 units) on every editor's save would buy nothing.
func (d *Discovery) settleScan(key string, rec, renewed *scanRecord) {
	d.scanMu.Lock()
	if d.scanMem[key] == rec {
		d.scanMem[key] = renewed
	}
	d.scanMu.Unlock()
	for _, dr := range renewed.Dirs {
		if change.Racy(dr.ID.MtimeNS, renewed.ObservedNS) {
			return
		}
	}
	d.putJSON(d.scans, key, renewed)
}

// walker is the state of one ScanFiles walk.
type walker struct {
	root  string
	build string // slash path of the build directory, "" if none
	globs globSet
	scan  Scan
	dirs  []dirRecord
	seen  map[[2]uint64]bool // device and inode of every directory walked
}

// walk records the directory abs (rel to the root; reached through a
// symbolic link when link is set) and descends into it.
func (w *walker) walk(rel, abs string, link bool) error {
	f, err := os.Open(abs)
	if err != nil {
		return fmt.Errorf("discovery: scan: %w", err)
	}
	defer f.Close()
	// Stat before reading the entries: an entry added in between then
	// shows as a changed mtime next time. Read first, stat second, and the
	// recorded mtime could already include an entry the listing missed.
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("discovery: scan: %w", err)
	}
	ents, err := f.ReadDir(-1)
	if err != nil {
		return fmt.Errorf("discovery: scan: read directory %s: %w", abs, err)
	}
	slices.SortFunc(ents, func(a, b os.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	id := change.IDOf(fi)
	if w.seen == nil {
		w.seen = make(map[[2]uint64]bool)
	}
	w.seen[[2]uint64{id.Dev, id.Ino}] = true
	w.dirs = append(w.dirs, dirRecord{Rel: rel, ID: id, Names: change.Listing(abs, fi.Mode(), ents), Link: link})
	for _, e := range ents {
		name := e.Name()
		childRel := name
		if rel != "." {
			childRel = rel + "/" + name
		}
		isLink := false
		if e.Type()&os.ModeSymlink != 0 {
			isLink = w.linkedDir(filepath.Join(abs, name))
		}
		if e.IsDir() || isLink {
			if strings.HasPrefix(name, ".") || childRel == w.build || w.globs.match(childRel) {
				continue
			}
			if err := w.walk(childRel, filepath.Join(abs, name), isLink); err != nil {
				return err
			}
			continue
		}
		if w.globs.match(childRel) {
			continue
		}
		switch {
		case project.IsCSource(name):
			w.scan.CSources = append(w.scan.CSources, childRel)
		case project.IsCXXSource(name):
			w.scan.CPPSources = append(w.scan.CPPSources, childRel)
		case project.IsHeader(name):
			w.scan.Headers = append(w.scan.Headers, childRel)
		default:
			w.scan.Other++
		}
	}
	return nil
}

// linkedDir reports whether the symbolic link p names a directory not
// walked yet.
func (w *walker) linkedDir(p string) bool {
	fi, err := os.Stat(p)
	if err != nil || !fi.IsDir() {
		return false
	}
	id := change.IDOf(fi)
	return !w.seen[[2]uint64{id.Dev, id.Ino}]
}

// globSet is a list of exclude patterns, checked for syntax once. They
// mean what [compile] exclude means to the project package
// (project.MatchGlob): slash paths relative to the root, "**" for any
// number of directories; a directory that matches is skipped whole.
type globSet []string

func compileGlobs(patterns []string) (globSet, error) {
	gs := make(globSet, 0, len(patterns))
	for _, p := range patterns {
		if _, err := project.MatchGlob(p, ""); err != nil {
			return nil, fmt.Errorf("exclude pattern %q: %w", p, err)
		}
		gs = append(gs, p)
	}
	return gs, nil
}

// match reports whether the slash path rel matches any pattern.
func (gs globSet) match(rel string) bool {
	for _, p := range gs {
		if ok, _ := project.MatchGlob(p, rel); ok {
			return true
		}
	}
	return false
}
