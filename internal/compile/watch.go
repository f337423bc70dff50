package compile

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// The watched fast path. A build that stats every input of a 1000-unit
// project spends ~3 ms in stat(2); with an inotify watch on every directory
// that holds an input, a build can know that nothing changed without any.
//
// inotify reports changes asynchronously, so "no event yet" proves nothing
// by itself: a file saved a microsecond before the build may have its event
// still in the kernel's queue. Every check therefore first touches a cookie
// file in a watched directory and waits for its event (watchman's
// technique): inotify keeps one queue per instance in order, so once the
// cookie's event is read, every change made before the build has been seen.
// Cookie files are kept and touched again (an attribute change), not
// created and removed each time: creating a file costs an inode allocation,
// which after many removals is slow on ext4 (see recycle.go).
//
// A project may take the fast path only when
//   - its last build succeeded and asked the same (config, units, clean),
//   - every directory of its inputs was already watched when that build
//     began (so no change during the build can have been missed),
//   - no event arrived in any of those directories since that build began,
//   - the output is still as the link left it, and
//   - the watcher has not failed or overflowed since.
// Anything else is a full build, which stats everything as ninja does.

// cookieWait bounds the wait for a cookie's event. A loaded machine delivers
// it in well under a millisecond; past this the build simply stats.
const cookieWait = 100 * time.Millisecond

// watcher is the engine's one inotify instance (an instance is a scarce
// resource: 128 per user here), shared by every project.
type watcher struct {
	w         *fsnotify.Watcher
	cookieDir string

	mu      sync.Mutex // guards the fields below
	broken  bool       // an error or overflow: no fast path from now on
	dirs    map[string][]watchRef
	cookies map[string]chan struct{} // cookies touched, awaiting their event
	idle    []string                 // cookie files not in use
	seq     int
}

// watchRef is a project watching a directory, for its inputs or for its
// outputs (objects, the library, compile_commands.json).
type watchRef struct {
	fs     *fastState
	output bool
}

// fastState is a project's part in the fast path. Its fields are guarded
// by the watcher's mu.
type fastState struct {
	dirty    bool // an event in an input directory since the build began
	outDirty bool // an event in an output directory since the build ended
	ok       bool // the last build qualifies a no-op for the fast path
	sig      [32]byte
	result   Result
	outStat  fileStat
	dirs     map[string]bool // input directories watched
	outDirs  map[string]bool // output directories watched
}

// newWatcher starts the engine's watch. Cookies go in parent/<pid> when
// parent is given (the daemon's cache directory: a daemon killed with -9
// leaves its cookie directory there, and the next start removes those of
// dead processes), else in a new temp directory. Per-process directories
// keep two instances during a rolling restart from seeing each other's
// cookies.
func newWatcher(parent string) (*watcher, error) {
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
	wt := &watcher{w: w, cookieDir: dir, dirs: make(map[string][]watchRef), cookies: make(map[string]chan struct{})}
	go wt.run()
	return wt, nil
}

func cookieDir(parent string) (string, error) {
	if parent == "" {
		return os.MkdirTemp("", "jmake-cookies-")
	}
	if ents, err := os.ReadDir(parent); err == nil {
		for _, ent := range ents {
			if pid, err := strconv.Atoi(ent.Name()); err == nil && pid != os.Getpid() && !processExists(pid) {
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

// processExists reports whether a process with this PID exists.
func processExists(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

// run reads events until the watcher is closed.
func (wt *watcher) run() {
	for {
		select {
		case ev, ok := <-wt.w.Events:
			if !ok {
				return
			}
			wt.event(ev)
		case err, ok := <-wt.w.Errors:
			if !ok {
				return
			}
			_ = err
			wt.mu.Lock()
			wt.broken = true
			wt.mu.Unlock()
		}
	}
}

// Test hooks, nil outside tests: hookEvent runs before the watch handles
// an event, hookSettle before settleFast's sync.
var hookEvent, hookSettle atomic.Pointer[func()]

func runHook(h *atomic.Pointer[func()]) {
	if f := h.Load(); f != nil {
		(*f)()
	}
}

func (wt *watcher) event(ev fsnotify.Event) {
	runHook(&hookEvent)
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
	for _, refs := range [][]watchRef{wt.dirs[dir], wt.dirs[ev.Name]} {
		for _, r := range refs {
			if r.output {
				r.fs.outDirty = true
			} else {
				r.fs.dirty = true
			}
		}
	}
	// The kernel drops the watch of a directory that is removed or
	// renamed: forget it, so the next build watches what replaces it.
	if refs, ok := wt.dirs[ev.Name]; ok && (ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)) {
		for _, r := range refs {
			delete(r.fs.dirs, ev.Name)
			delete(r.fs.outDirs, ev.Name)
		}
		delete(wt.dirs, ev.Name)
	}
}

// sync returns once every event queued before it was called has been
// handled, or false if that could not be established in time.
func (wt *watcher) sync() bool {
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

func (wt *watcher) close() {
	wt.w.Close()
	os.RemoveAll(wt.cookieDir)
}

// requestSig identifies what a build was asked to do: a later identical
// request over unchanged inputs has the same answer.
func requestSig(req Request) [32]byte {
	h := sha256.New()
	cfg, _ := json.Marshal(req.Config)
	h.Write(cfg)
	for _, u := range req.Sources {
		h.Write([]byte(u))
		h.Write([]byte{0})
	}
	var s [32]byte
	h.Sum(s[:0])
	return s
}

// fastNoop answers a build from the watch when nothing can have changed.
func (e *Engine) fastNoop(root string, req Request, start time.Time) (*Result, bool) {
	wt := e.watch
	if wt == nil || req.Clean {
		return nil, false
	}
	wt.mu.Lock()
	fs := e.fast[root]
	ready := fs != nil && fs.ok && !fs.dirty && !fs.outDirty && !wt.broken
	wt.mu.Unlock()
	if !ready || requestSig(req) != fs.sig {
		return nil, false
	}
	if !wt.sync() {
		return nil, false
	}
	wt.mu.Lock()
	res, out, dirty := fs.result, fs.outStat, fs.dirty || fs.outDirty
	wt.mu.Unlock()
	if dirty {
		return nil, false
	}
	if st, err := statPath(res.Output); err != nil || st != out {
		return nil, false
	}
	res.Compiled, res.Cached, res.UpToDate, res.Linked = 0, 0, res.Units, false
	res.Explain, res.Diagnostics = nil, ""
	res.ElapsedSeconds = time.Since(start).Seconds()
	e.watchedNoops.Add(1)
	return &res, true
}

// armFast is called as a full build begins: events from now on count
// against its result. It need not wait for events still queued (no cookie):
// one of those handled after the reset below only makes the next build a
// full one, and the build now beginning stats everything anyway.
func (e *Engine) armFast(root string) {
	wt := e.watch
	if wt == nil {
		return
	}
	wt.mu.Lock()
	defer wt.mu.Unlock()
	fs := e.fast[root]
	if fs == nil {
		fs = &fastState{dirs: make(map[string]bool), outDirs: make(map[string]bool)}
		e.fast[root] = fs
	}
	fs.dirty, fs.ok = false, false
}

// settleFast records a finished build. On success it watches every
// directory of the project's inputs, and allows the fast path next time
// only if all of them were watched before this build began; and it watches
// the directories of its outputs from now on (after its own writes to
// them have been seen), so that a deleted object is noticed.
func (e *Engine) settleFast(root string, req Request, st *projectState, b *build, res *Result, err error) {
	wt := e.watch
	if wt == nil {
		return
	}
	wt.mu.Lock()
	fs := e.fast[root]
	wt.mu.Unlock()
	if fs == nil || err != nil || res == nil {
		return
	}
	inputs := make(map[string]bool)
	for i := range st.files {
		inputs[filepath.Dir(st.files[i].abs)] = true
	}
	outputs := map[string]bool{filepath.Dir(res.Output): true, filepath.Dir(b.ccPath): true}
	for _, u := range st.units {
		outputs[filepath.Dir(u.objAbs)] = true
	}
	grew, ok := e.watchDirs(fs, inputs, false)
	if !ok {
		return
	}
	if _, ok := e.watchDirs(fs, outputs, true); !ok {
		return
	}
	runHook(&hookSettle)
	synced := wt.sync()
	out, serr := statPath(res.Output)
	wt.mu.Lock()
	defer wt.mu.Unlock()
	fs.outDirty = false
	// A directory removed before the sync (the old build directory of a
	// clean build, removed at its end) drops out of the watch when the
	// sync reads its event, after watchDirs took it for watched: then the
	// directory that replaced it is not watched, and the next build must
	// be a full one, which watches it.
	still := true
	for dir := range inputs {
		still = still && fs.dirs[dir]
	}
	for dir := range outputs {
		still = still && fs.outDirs[dir]
	}
	fs.ok = !grew && still && serr == nil && synced
	fs.sig, fs.result, fs.outStat = requestSig(req), *res, out
}

// watchDirs adds the directories fs does not watch yet; grew says whether
// there were any, ok whether all could be watched.
func (e *Engine) watchDirs(fs *fastState, dirs map[string]bool, output bool) (grew, ok bool) {
	wt := e.watch
	for dir := range dirs {
		wt.mu.Lock()
		known := fs.dirs[dir]
		if output {
			known = fs.outDirs[dir]
		}
		wt.mu.Unlock()
		if known {
			continue
		}
		if err := wt.w.Add(dir); err != nil {
			e.log.Debug("watch: cannot watch", "dir", dir, "err", err)
			return grew, false
		}
		wt.mu.Lock()
		if output {
			fs.outDirs[dir] = true
		} else {
			fs.dirs[dir] = true
		}
		wt.dirs[dir] = append(wt.dirs[dir], watchRef{fs, output})
		wt.mu.Unlock()
		grew = true
	}
	return grew, true
}

// Close stops the engine's file watcher. Builds still work after it,
// without the watched fast path.
func (e *Engine) Close() error {
	if e.watch != nil {
		e.watch.mu.Lock()
		e.watch.broken = true
		e.watch.mu.Unlock()
		e.watch.close()
	}
	return nil
}
