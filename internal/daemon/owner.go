package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jmake/jmake/internal/pidfile"
	"github.com/jmake/jmake/internal/proc"
)

// This file keeps one owner per state dir.
//
// A daemon belongs to the state dir it started in: its token, PID file and
// caches live there. When that directory is removed or replaced (rm -rf
// $JMAKE_HOME, or another token written in), the daemon can no longer be
// reached by the clients of that state dir, and a new `jmake start` would
// put a second set of daemons beside it. So a daemon checks, every
// OwnerCheckEvery, that its state dir is still the one it started in and
// still holds its token, and when not, logs why and shuts down gracefully
// (calls in flight finish): the next `jmake build` starts a fresh set.
// What is merely missing is put back instead: the PID file, and the token
// file while the directory is the same.
//
// /healthz reports the state dir and a StateID derived from the token, so a
// starter can tell a daemon of its own state dir from another's, and a
// daemon does not keep a port it bound (SO_REUSEPORT lets it) next to a live
// daemon of another state dir.

// OwnerCheckEvery is how often a daemon (and the supervisor) checks that it
// still owns its state dir: a stat and a read of a 65-byte file, so a second
// costs nothing measurable, and a removed state dir is noticed well within
// the time a person takes to type the next command.
const OwnerCheckEvery = time.Second

// StateID identifies a state dir by its token without revealing it: the
// first 8 bytes of a SHA-256 of the token, in hex. A state dir removed and
// made again gets a new token, hence a new StateID, even at the same path.
func StateID(token string) string {
	sum := sha256.Sum256([]byte("jmake state id\x00" + token))
	return hex.EncodeToString(sum[:8])
}

// Owner checks that a process still owns its state dir. Check may be
// called from several goroutines (the supervisor's keepers).
type Owner struct {
	mu         sync.Mutex // serializes Check: a token is written back once
	dir        string
	token      string
	checkToken bool // the token file held our token at start
	dev, ino   uint64
	keep       []string // directories inside that must stay (caches)
}

// Keep adds a directory inside the state dir whose removal also means the
// state dir is lost (a daemon's cache dir: a state dir removed and made
// again can get the same inode number, but not the old cache dirs). A
// directory that does not exist now is not watched.
func (o *Owner) Keep(dir string) {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		o.keep = append(o.keep, dir)
	}
}

// NewOwner records what dir is now (its device and inode, and whether its
// token file holds token), for Check to compare with later.
func NewOwner(dir, token string) (*Owner, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return nil, fmt.Errorf("state dir %s: %w", dir, err)
	}
	o := &Owner{dir: dir, token: token, dev: uint64(st.Dev), ino: st.Ino}
	if tok, err := ReadToken(dir); err == nil && tok == token {
		o.checkToken = true
	}
	return o, nil
}

// Check returns why the state dir is no longer ours ("" while it is): the
// directory is gone or is another one now, or its token file holds another
// token. A token file that is merely missing is written back, and restored
// says so.
func (o *Owner) Check() (lost, restored string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var st syscall.Stat_t
	if err := syscall.Stat(o.dir, &st); err != nil {
		return fmt.Sprintf("state dir %s was removed", o.dir), ""
	}
	if uint64(st.Dev) != o.dev || st.Ino != o.ino {
		return fmt.Sprintf("state dir %s was replaced by another directory", o.dir), ""
	}
	for _, k := range o.keep {
		if _, err := os.Stat(k); errors.Is(err, fs.ErrNotExist) {
			return fmt.Sprintf("%s was removed", k), ""
		}
	}
	if !o.checkToken {
		return "", ""
	}
	b, err := os.ReadFile(TokenPath(o.dir))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := restoreToken(o.dir, o.token); err != nil {
			return fmt.Sprintf("token %s was removed and could not be written back: %v", TokenPath(o.dir), err), ""
		}
		// Another process may have made a token first: read what won.
		if tok, _ := ReadToken(o.dir); tok != o.token {
			return fmt.Sprintf("token %s was replaced", TokenPath(o.dir)), ""
		}
		return "", fmt.Sprintf("token %s was removed; wrote it back", TokenPath(o.dir))
	case err != nil:
		return "", "" // unreadable for now (EMFILE, EINTR): try again later
	case strings.TrimSpace(string(b)) != o.token && len(b) > 0:
		return fmt.Sprintf("token %s was replaced", TokenPath(o.dir)), ""
	}
	return "", ""
}

// restoreToken writes token back to dir's token file unless one exists by
// then: a temp file linked into place, as LoadOrCreateToken does.
func restoreToken(dir, token string) error {
	path := TokenPath(dir)
	tmp := fmt.Sprintf("%s.tmp-%d", path, os.Getpid())
	if err := os.WriteFile(tmp, []byte(token+"\n"), 0o600); err != nil {
		return err
	}
	err := os.Link(tmp, path)
	os.Remove(tmp)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	return err
}

// startOwnerWatch records the state dir as it is now and starts
// watchOwner on it.
func (d *Daemon) startOwnerWatch(port int) {
	o, err := NewOwner(d.opts.StateDir, d.opts.Token)
	if err != nil {
		d.log.Error("owner: state dir not watched", "err", err)
		return
	}
	if d.Settings().Persist {
		o.Keep(d.CacheDir())
	}
	go d.watchOwner(o, port)
}

// watchOwner checks every OwnerCheckEvery, until shutdown begins, that the
// daemon still owns its state dir; when not, it shuts the daemon down. A
// missing PID file (or one naming a dead process) is written again, so
// `jmake status` and `jmake stop` keep finding the daemon; one naming
// another live instance of this daemon is a successor's (rolling restart)
// and is left alone.
func (d *Daemon) watchOwner(o *Owner, port int) {
	t := time.NewTicker(OwnerCheckEvery)
	defer t.Stop()
	pidPath := pidfile.Path(d.opts.StateDir, d.opts.Name)
	for {
		select {
		case <-d.stopping:
			return
		case <-t.C:
		}
		lost, restored := o.Check()
		if lost != "" {
			d.log.Warn("owner: state dir lost; shutting down: no client of it can reach this daemon", "why", lost, "pid", os.Getpid())
			d.Shutdown()
			return
		}
		if restored != "" {
			d.log.Warn("owner: " + restored)
		}
		info, err := pidfile.Read(pidPath)
		if err == nil && info.PID == os.Getpid() {
			continue
		}
		if err == nil {
			if ok, _ := pidfile.Verify(info, d.opts.Name); ok {
				continue // a successor's
			}
		}
		select {
		case <-d.stopping:
			return // cleanup removes it; do not race that
		default:
		}
		if err := pidfile.Write(pidPath, d.opts.Name, port); err != nil {
			d.log.Error("owner: PID file missing; writing it again failed", "path", pidPath, "err", err)
			continue
		}
		d.log.Warn("owner: PID file was missing or stale; wrote it again", "path", pidPath)
	}
}

// PortHeldError says a daemon's port is held by a jmake daemon of another
// state dir (or of this one's removed predecessor).
type PortHeldError struct {
	Port     int
	Name     string // the holder's daemon name
	PID      int
	StateDir string // the holder's; "" when it does not say (an older jmake)
	// Replaced: the holder names our state dir's path, but with another
	// token: it belongs to a state dir that was removed or replaced.
	Replaced bool
}

func (e *PortHeldError) Error() string {
	switch {
	case e.Replaced:
		return fmt.Sprintf("port %d is held by jmake %s (pid %d) of a removed or replaced state dir %s; it shuts itself down within %s of noticing; or stop it: kill %d",
			e.Port, e.Name, e.PID, e.StateDir, OwnerCheckEvery, e.PID)
	case e.StateDir == "":
		return fmt.Sprintf("port %d is held by jmake %s (state dir unknown, pid %d); use PORT_OFFSET", e.Port, e.Name, e.PID)
	}
	return fmt.Sprintf("port %d is held by jmake (state dir %s, pid %d); use PORT_OFFSET", e.Port, e.StateDir, e.PID)
}

// probeHTTP makes one fresh connection per probe: a kept-alive one could
// reach an instance that is going away.
var probeHTTP = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

// ProbeHolder asks /healthz at addr who holds it. answered is false when
// nothing answers as a jmake daemon (the port is free, or another program
// holds it: binding then fails on its own).
func ProbeHolder(ctx context.Context, addr string, timeout time.Duration) (h Health, answered bool) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/healthz", nil)
	if err != nil {
		return h, false
	}
	resp, err := probeHTTP.Do(req)
	if err != nil {
		return h, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&h) != nil || h.Name == "" || h.PID == 0 {
		return Health{}, false
	}
	return h, true
}

// Foreign returns a *PortHeldError when h, the holder of port, is not
// daemon name of the state dir stateDir with token's StateID; nil when it
// is (our own instance: a rolling restart's predecessor, or the daemon a
// starter finds already running).
func Foreign(h Health, port int, name, stateDir, stateID string) error {
	if h.Name == name && h.StateDir == stateDir && h.StateID == stateID {
		return nil
	}
	return &PortHeldError{Port: port, Name: h.Name, PID: h.PID, StateDir: h.StateDir,
		Replaced: h.StateDir == stateDir && h.StateID != stateID}
}

// checkPortHolder refuses the port ln just bound while a jmake daemon of
// another state dir listens there too: SO_REUSEPORT let both bind, and the
// kernel would split connections between two daemons with different
// tokens. A port held without SO_REUSEPORT failed to bind already, so a
// plain listener that never answers costs no probe here.
func (d *Daemon) checkPortHolder(ln net.Listener) error {
	a, ok := ln.Addr().(*net.TCPAddr)
	if !ok || Listeners(a.Port) < 2 {
		return nil
	}
	// We do not serve yet: a probe the kernel puts in our own queue times
	// out (and is accepted, and sees EOF, once we serve), one in the
	// other's is answered within a millisecond. 200 ms covers a loaded
	// machine; 16 probes miss the other socket with odds of 2^-16.
	for range 16 {
		h, ok := ProbeHolder(context.Background(), ln.Addr().String(), 200*time.Millisecond)
		if !ok || h.PID == os.Getpid() {
			continue
		}
		err := Foreign(h, a.Port, d.opts.Name, d.opts.StateDir, d.stateID)
		if err != nil && h.StateDir == "" && h.Name == d.opts.Name && d.opts.StateDir != "" {
			// An older jmake, which does not say its state dir: ours when
			// our PID file names it (an upgrade rolling onto this binary).
			if info, rerr := pidfile.Read(pidfile.Path(d.opts.StateDir, d.opts.Name)); rerr == nil && info.PID == h.PID {
				if ok, _ := pidfile.Verify(info, d.opts.Name); ok {
					return nil
				}
			}
		}
		return err
	}
	return nil
}

// sharedPortChecks is how many times, OwnerCheckEvery apart, a daemon
// that bound its port itself checks for another state dir's daemon on it.
// The race it settles is between daemons started within milliseconds of
// each other; the first check of whichever bound last sees both sockets,
// but the one that must yield may have checked before the other bound, so
// a few more over the first seconds make sure both look.
const sharedPortChecks = 5

// checkSharedPort settles two state dirs' daemons started at the same
// moment: both find the port free before they bind, and SO_REUSEPORT lets
// both bind. When another socket listens on the port, /healthz is asked on
// fresh connections (the kernel spreads them over the sockets) until
// another process answers. If that is a daemon of another state dir that
// started before this one, this one shuts down and Serve returns the
// conflict: the younger always yields, so exactly one stays. Our own
// instance (a rolling restart) is fine.
func (d *Daemon) checkSharedPort(port int) {
	for i := range sharedPortChecks {
		if i > 0 {
			select {
			case <-d.stopping:
				return
			case <-time.After(OwnerCheckEvery):
			}
		}
		if d.yieldPort(port) {
			return
		}
	}
}

// yieldPort is one check of checkSharedPort; it reports whether this
// daemon gave way.
func (d *Daemon) yieldPort(port int) bool {
	if Listeners(port) < 2 {
		return false
	}
	me, err := proc.StartTicks(os.Getpid())
	if err != nil {
		return false
	}
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(port))
	// 32 probes miss the other of two sockets with odds of 2^-32.
	for range 32 {
		select {
		case <-d.stopping:
			return false
		default:
		}
		h, ok := ProbeHolder(context.Background(), addr, time.Second)
		if !ok || h.PID == os.Getpid() {
			continue
		}
		var held *PortHeldError
		if !errors.As(Foreign(h, port, d.opts.Name, d.opts.StateDir, d.stateID), &held) {
			return false
		}
		if held.StateDir == "" {
			// An older jmake, which does not say its state dir: most
			// likely our predecessor in an upgrade; never yield to it.
			return false
		}
		them, err := proc.StartTicks(h.PID)
		if err != nil || them > me || them == me && h.PID > os.Getpid() {
			return false // it is the younger: it yields
		}
		d.conflict.Store(held)
		d.log.Error("owner: port shared with another state dir's daemon that started first; shutting down", "err", held)
		d.Shutdown()
		return true
	}
	return false
}

// portConflict is the error Serve returns when checkSharedPort gave way.
func (d *Daemon) portConflict() error {
	if held := d.conflict.Load(); held != nil {
		return fmt.Errorf("%s: %w", d.opts.Name, held)
	}
	return nil
}

// Listeners is the number of TCP sockets listening on port: more than one
// means processes share it through SO_REUSEPORT.
func Listeners(port int) int { return len(listeningInodes(port)) }
