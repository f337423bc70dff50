// Package change answers, for every daemon, whether anything under a set of
// inputs changed since some moment. By stat: ID is a file's identity, Racy
// the racy-clean rule, Listing what a directory's readers see of it (so
// that an editor's save by rename, which moves the directory's identity,
// is no change to it), Inputs a memo's recorded inputs. Without a stat: a
// Watcher's Set proves with inotify that nothing changed in its
// directories, and Tree reports the changes under a project as they come.
//
// The watch proof: a daemon that answers a no-op build from memory uses it:
// a build that stats every input of a 1000-unit project
// spends milliseconds in stat(2), and with an inotify watch on every
// directory that holds an input the daemon can know that nothing changed
// without any.
//
// inotify reports changes asynchronously, so "no event yet" proves nothing
// by itself: a file saved a microsecond before the build may have its event
// still in the kernel's queue. Every check therefore first touches a cookie
// file in a watched directory and waits for its event (watchman's
// technique): inotify keeps one queue per instance in order, so once the
// cookie's event is read, every change made before the check has been
// seen. Cookie files are kept and touched again (an attribute change), not
// created and removed each time: creating a file costs an inode allocation,
// which after many removals is slow on ext4.
//
// A Set is one party's directories (a project's, in one daemon). It
// separates inputs from outputs: an event in an input directory during a
// build makes that build's answer suspect, while events in an output
// directory during the build are the build's own writes, forgotten once the
// build settles.
//
// The partial proof: a Set also remembers the paths its events named (up
// to maxNames) since the work began (Arm). ArmChanged syncs with a cookie
// and hands over that list as the next work is armed, in one step, so that
// no event falls between two lists. The list vouches for every path not in
// it only when the last Settle vouched for its work (every directory
// watched since before that work began, no input event while it ran: the
// work saw each file as it still is) and the list is complete: not past
// its bound, no event on a watched directory itself (a directory renamed
// away and another put in its place changes every entry unnamed), no
// overflow or error of the watcher, no directory watched under two paths
// (inotify reports a directory's events under one path only). A file
// whose path is not in such a list is as the last work left it: a write,
// truncation, chmod, touch or rename over it is an event naming it in its
// directory, and a save by rename names both the temp file and the file.
// A hard link's other name in another directory gets no event: a caller
// that keeps files by path must look at every name of an inode it lists.
// internal/compile's resolveListed builds on this.
package change

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/jmake/jmake/internal/proc"
)

// cookieWait bounds the wait for a cookie's event. A loaded machine delivers
// it in well under a millisecond; past this the caller takes its slow path.
const cookieWait = 100 * time.Millisecond

// Watcher is one inotify instance (a scarce resource: 128 per user here),
// shared by every Set of a daemon.
type Watcher struct {
	w         *fsnotify.Watcher
	hooks     Hooks
	cookieDir string

	mu      sync.Mutex // guards the fields below and those of every Set
	broken  bool       // an error or overflow: nothing is proven from now on
	dirs    map[string][]ref
	cookies map[string]chan struct{} // cookies touched, awaiting their event
	idle    []string                 // cookie files not in use
	seq     int
}

// ref is a Set watching a directory, for its inputs or for its outputs.
type ref struct {
	s      *Set
	output bool
}

// Set is one party's watched directories and what happened in them.
type Set struct {
	w        *Watcher
	dirty    bool // an event in an input directory since Arm
	outDirty bool // an event in an output directory since Settle
	ok       bool // the last Settle allows Unchanged to answer
	dirs     map[string]bool
	outDirs  map[string]bool
	// names are the paths the events since Arm named, in input and
	// output directories alike; lost is set once that list is
	// incomplete (too long, an event on a watched directory itself, two
	// watched paths that are one directory).
	names map[string]bool
	lost  bool
	// dirIDs are the watched directories' device and inode, and alias is
	// set once two paths named one directory (a symlink): inotify
	// watches it once and names its events under one of the paths only,
	// so the list cannot be trusted to name a file under the other.
	dirIDs map[[2]uint64]string
	alias  bool
}

// maxNames bounds the paths a Set remembers between two Arms. A build that
// touched one file names a handful; a full build of a 1000-unit project
// writes about 2000 (objects and their temp files). Past the bound the Set
// only knows that something changed, and the next build stats everything,
// which at that size costs less than the list would save. A variable for
// the tests.
var maxNames = 4096

// New starts a watch. Cookies go in parent/<pid> when parent is given (a
// daemon's cache directory: a daemon killed with -9 leaves its cookie
// directory there, and the next start removes those of dead processes),
// else in a new temp directory. Per-process directories keep two instances
// during a rolling restart from seeing each other's cookies.
func New(parent string) (*Watcher, error) { return NewWithHooks(parent, Hooks{}) }

// NewWithHooks is New with hooks called as the watch works.
func NewWithHooks(parent string, hooks Hooks) (*Watcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	dir, err := cookieDir(parent)
	if err != nil {
		w.Close()
		return nil, err
	}
	if err := w.Add(dir); err != nil {
		w.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	wt := &Watcher{w: w, hooks: hooks, cookieDir: dir, dirs: make(map[string][]ref), cookies: make(map[string]chan struct{})}
	go wt.run()
	return wt, nil
}

func cookieDir(parent string) (string, error) {
	if parent == "" {
		return os.MkdirTemp("", "jmake-cookies-")
	}
	if ents, err := os.ReadDir(parent); err == nil {
		for _, ent := range ents {
			if pid, err := strconv.Atoi(ent.Name()); err == nil && pid != os.Getpid() && !proc.Exists(pid) {
				os.RemoveAll(filepath.Join(parent, ent.Name()))
			}
		}
	}
	dir := filepath.Join(parent, strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return dir, nil
}

// CookieDir is where the watcher keeps its cookie files.
func (wt *Watcher) CookieDir() string { return wt.cookieDir }

// run reads events until the watcher is closed.
func (wt *Watcher) run() {
	for {
		select {
		case ev, ok := <-wt.w.Events:
			if !ok {
				return
			}
			wt.event(ev)
		case _, ok := <-wt.w.Errors:
			if !ok {
				return
			}
			wt.mu.Lock()
			wt.broken = true
			wt.mu.Unlock()
		}
	}
}

// Hooks are called at two points of a watch's work, so that a test can
// replay an interleaving that a loaded machine produces only by chance.
// Nil hooks, as in production, are not called.
type Hooks struct {
	// BeforeEvent runs on the watch's goroutine before it handles an event.
	BeforeEvent func()
	// BeforeSettle runs in Settle before its sync.
	BeforeSettle func()
}

func runHook(f func()) {
	if f != nil {
		f()
	}
}

func (wt *Watcher) event(ev fsnotify.Event) {
	runHook(wt.hooks.BeforeEvent)
	dir := filepath.Dir(ev.Name)
	wt.mu.Lock()
	defer wt.mu.Unlock()
	if dir == wt.cookieDir {
		if ch, ok := wt.cookies[ev.Name]; ok && ev.Has(fsnotify.Chmod) {
			close(ch)
			delete(wt.cookies, ev.Name)
		}
		return
	}
	// An event on a watched directory itself (removed, renamed) dirties
	// whoever watches it, as does one on an entry of it.
	for i, refs := range [][]ref{wt.dirs[dir], wt.dirs[ev.Name]} {
		for _, r := range refs {
			if r.output {
				r.s.outDirty = true
			} else {
				r.s.dirty = true
			}
			r.s.note(ev.Name, i == 1)
		}
	}
	// The kernel drops the watch of a directory that is removed or
	// renamed: forget it, so the next Settle watches what replaces it.
	if refs, ok := wt.dirs[ev.Name]; ok && (ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)) {
		for _, r := range refs {
			delete(r.s.dirs, ev.Name)
			delete(r.s.outDirs, ev.Name)
			for id, dir := range r.s.dirIDs {
				if dir == ev.Name {
					delete(r.s.dirIDs, id) // its inode may name another directory later
				}
			}
		}
		delete(wt.dirs, ev.Name)
	}
}

// note records that an event named path; onDir says it was an event on a
// watched directory itself, whose entries may all have changed (a
// directory renamed away and another put in its place). The caller holds
// the watcher's mu.
func (s *Set) note(path string, onDir bool) {
	if s.lost {
		return
	}
	if onDir || len(s.names) >= maxNames && !s.names[path] {
		s.lost, s.names = true, nil
		return
	}
	if s.names == nil {
		s.names = make(map[string]bool)
	}
	s.names[path] = true
}

// Sync returns once every event queued before it was called has been
// handled, or false if that could not be established in time.
func (wt *Watcher) Sync() bool {
	wt.mu.Lock()
	if wt.broken {
		wt.mu.Unlock()
		return false
	}
	var name string
	if n := len(wt.idle); n > 0 {
		name, wt.idle = wt.idle[n-1], wt.idle[:n-1]
	} else {
		wt.seq++
		name = filepath.Join(wt.cookieDir, "c"+strconv.Itoa(wt.seq))
	}
	ch := make(chan struct{})
	wt.cookies[name] = ch
	wt.mu.Unlock()
	// A cookie file has at most one touch awaiting its event: it goes back
	// to idle only once that event was read (or it is dropped), so no
	// event of an earlier touch can answer this one.
	now := time.Now()
	err := os.Chtimes(name, now, now)
	if errors.Is(err, fs.ErrNotExist) {
		err = os.WriteFile(name, nil, 0o600)
		if err == nil {
			err = os.Chtimes(name, now, now)
		}
	}
	if err != nil {
		wt.mu.Lock()
		delete(wt.cookies, name)
		wt.mu.Unlock()
		os.Remove(name)
		return false
	}
	select {
	case <-ch:
		wt.mu.Lock()
		wt.idle = append(wt.idle, name)
		wt.mu.Unlock()
		return true
	case <-time.After(cookieWait):
		// Its event may still come: retire this cookie file.
		wt.mu.Lock()
		delete(wt.cookies, name)
		wt.mu.Unlock()
		os.Remove(name)
		return false
	}
}

// Close stops the watch: from then on no Set is Unchanged.
func (wt *Watcher) Close() {
	wt.mu.Lock()
	wt.broken = true
	wt.mu.Unlock()
	wt.w.Close()
	os.RemoveAll(wt.cookieDir)
}

// NewSet returns an empty set: it watches nothing and proves nothing until
// two Settles (the first adds its watches).
func (wt *Watcher) NewSet() *Set {
	return &Set{w: wt, dirs: make(map[string]bool), outDirs: make(map[string]bool)}
}

// Arm is called as the work the set vouches for begins (a full build):
// input events from now on count against its result. It need not wait for
// events still queued (no cookie): one of those handled after the reset
// only makes the next check fail, and the work now beginning looks at
// every file anyway.
func (s *Set) Arm() {
	s.w.mu.Lock()
	s.armLocked()
	s.w.mu.Unlock()
}

func (s *Set) armLocked() {
	s.dirty, s.ok = false, false
	s.names, s.lost = nil, s.alias
}

// ArmChanged is Arm for work that looks only at what changed: it first
// waits for the events queued before the call (a cookie, as Unchanged
// does), then, in one step with arming, returns the paths named by every
// event in the set's directories since the last Arm. ok is true only if
// the last Settle allowed answers (so the work armed then saw every file
// as it was at that Arm, and no input changed while it ran) and the list
// is complete: then a file of those directories whose path is not in the
// list is as that work left it. In one step, because an event between a
// separate look and Arm would be in neither this list nor the next.
// An editor's save by rename lists both the temp file and the file.
func (s *Set) ArmChanged() (paths map[string]bool, ok bool) {
	synced := s.w.Sync()
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	paths = s.names
	ok = synced && s.ok && !s.lost && !s.w.broken
	s.armLocked()
	return paths, ok
}

// Disarm makes Unchanged false until the next successful Settle.
func (s *Set) Disarm() {
	s.w.mu.Lock()
	s.ok = false
	s.w.mu.Unlock()
}

// Quiet reports, without waiting, whether the last Settle allowed answers
// and no event has been read since. It is the cheap test before Unchanged.
func (s *Set) Quiet() bool {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	return s.ok && !s.dirty && !s.outDirty && !s.w.broken
}

// Unchanged reports whether nothing changed in the set's directories since
// its last successful Settle, up to the moment of the call.
func (s *Set) Unchanged() bool {
	return s.Quiet() && s.w.Sync() && s.Quiet()
}

// Settle records that the work begun at Arm succeeded, reading inputs and
// writing outputs in the given directories. It watches every one of them
// from now on, and returns whether Unchanged may vouch for that work: only
// if every directory was already watched (so no change during the work can
// have been missed: an input edited, an output removed right after it was
// written), no input event came since Arm, and every directory is still
// watched once the work's own events have been read.
func (s *Set) Settle(inputs, outputs map[string]bool) bool {
	grew, ok := s.watchDirs(inputs, false)
	if ok {
		var outGrew bool
		outGrew, ok = s.watchDirs(outputs, true)
		grew = grew || outGrew
	}
	if !ok {
		s.Disarm()
		return false
	}
	runHook(s.w.hooks.BeforeSettle)
	synced := s.w.Sync()
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	s.outDirty = false
	// A directory removed before the sync (the old build directory of a
	// clean build, say) drops out of the watch when the sync reads its
	// event, after watchDirs took it for watched: then the directory that
	// replaced it is not watched, and the next work must be done in full,
	// which watches it.
	still := true
	for dir := range inputs {
		still = still && s.dirs[dir]
	}
	for dir := range outputs {
		still = still && s.outDirs[dir]
	}
	s.ok = !grew && still && synced && !s.dirty
	return s.ok
}

// watchDirs adds the directories s does not watch yet; grew says whether
// there were any, ok whether all could be watched.
func (s *Set) watchDirs(dirs map[string]bool, output bool) (grew, ok bool) {
	wt := s.w
	for dir := range dirs {
		wt.mu.Lock()
		known := s.dirs[dir]
		if output {
			known = s.outDirs[dir]
		}
		wt.mu.Unlock()
		if known {
			continue
		}
		if err := wt.w.Add(dir); err != nil {
			return grew, false
		}
		id, idErr := dirID(dir)
		wt.mu.Lock()
		if other, seen := s.dirIDs[id]; idErr != nil || seen && other != dir {
			s.alias, s.lost, s.names = true, true, nil
		} else {
			if s.dirIDs == nil {
				s.dirIDs = make(map[[2]uint64]string)
			}
			s.dirIDs[id] = dir
		}
		if output {
			s.outDirs[dir] = true
		} else {
			s.dirs[dir] = true
		}
		wt.dirs[dir] = append(wt.dirs[dir], ref{s, output})
		wt.mu.Unlock()
		grew = true
	}
	return grew, true
}

// dirID is dir's device and inode (IDOf's).
func dirID(dir string) ([2]uint64, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return [2]uint64{}, err
	}
	id := IDOf(fi)
	if id.Ino == 0 {
		return [2]uint64{}, errors.New("no inode for " + dir)
	}
	return [2]uint64{id.Dev, id.Ino}, nil
}
