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
}

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
	for _, refs := range [][]ref{wt.dirs[dir], wt.dirs[ev.Name]} {
		for _, r := range refs {
			if r.output {
				r.s.outDirty = true
			} else {
				r.s.dirty = true
			}
		}
	}
	// The kernel drops the watch of a directory that is removed or
	// renamed: forget it, so the next Settle watches what replaces it.
	if refs, ok := wt.dirs[ev.Name]; ok && (ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)) {
		for _, r := range refs {
			delete(r.s.dirs, ev.Name)
			delete(r.s.outDirs, ev.Name)
		}
		delete(wt.dirs, ev.Name)
	}
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
	s.dirty, s.ok = false, false
	s.w.mu.Unlock()
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
		wt.mu.Lock()
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
