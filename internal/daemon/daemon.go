// Package daemon is the runtime every jmake daemon shares: an HTTP/JSON
// listener on 127.0.0.1 with bearer-token auth, the routes of docs/daemons.md
// (/healthz, /metrics, /v1/stats, /v1/call/<function>, /v1/reload,
// /v1/shutdown), persistent caches, Prometheus metrics, and a graceful
// shutdown that drains calls in flight, runs cleanup hooks in order and
// removes the daemon's PID file.
//
// A daemon reads as verbs: New(opts) → Handle/Cache/OnShutdown → Serve(ctx),
// which returns once shutdown is complete; Shutdown may be called any number
// of times from anywhere.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmake/jmake/internal/pidfile"
	"github.com/jmake/jmake/internal/settings"
	"github.com/jmake/jmake/internal/store"
	"github.com/jmake/jmake/internal/version"
)

// Version is jmake's version (internal/version, where the linker sets
// it), reported by /healthz.
var Version = version.Version

// Options configure a daemon.
type Options struct {
	Name     string       // one of settings.Names()
	Addr     string       // host:port to listen on, when Listener is nil
	Listener net.Listener // an inherited listener (socket activation, handover)
	StateDir string       // holds token, PID file, cache/<name>/
	Token    string       // bearer token every route but /healthz requires
	Settings settings.Settings
	Logger   *slog.Logger
	LogLevel *slog.LevelVar // changed by reload; may be nil
	NoPID    bool           // do not write a PID file (tests running several at once)
	// Socket is a unix socket path to listen on besides Addr (see
	// unixSocket); empty for none.
	Socket string
}

// Cache is anything a daemon reports in its statistics and clears on
// clear_caches: store.Map satisfies it.
type Cache interface {
	Name() string
	Stats() store.Stats
	Clear() error
}

type hook struct {
	name string
	fn   func(context.Context) error
}

// Daemon is one running daemon.
type Daemon struct {
	opts    Options
	log     *slog.Logger
	start   time.Time
	srv     *http.Server
	ln      net.Listener // set by Serve
	conns   connGroup    // ln and the unix socket, tracking the connections they accepted
	sock    *unixSocket  // nil when not listening on a unix socket
	metrics *metrics
	lim     limits
	stateID string // StateID(token), for /healthz

	// conflict is set when a daemon of another state dir bound the port
	// first (checkSharedPort); Serve returns it.
	conflict atomic.Pointer[PortHeldError]

	requests, errors atomic.Int64
	fastAnswers      atomic.Int64 // calls a FastAnswer answered

	stopOnce sync.Once
	stopping chan struct{} // closed when shutdown begins
	done     chan struct{} // closed when shutdown is complete

	mu        sync.Mutex // guards the fields below
	handlers  map[string]Handler
	fast      map[string]FastAnswer // see HandleFast
	caches    []Cache
	counters  []counter    // added by AddCounter, listed in /v1/stats
	maps      []*store.Map // caches this daemon opened and must close
	hooks     []hook
	reloaders []func(settings.Settings) error
	settings  settings.Settings
}

// New makes a daemon; it does not listen until Serve.
func New(opts Options) (*Daemon, error) {
	if !settings.IsDaemon(opts.Name) && opts.Name == "" {
		return nil, errors.New("daemon: no name")
	}
	if opts.Token == "" {
		return nil, fmt.Errorf("%s: no auth token", opts.Name)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Settings.MaxBody == 0 {
		opts.Settings = settings.Default()
	}
	d := &Daemon{
		opts:     opts,
		log:      opts.Logger.With("daemon", opts.Name),
		start:    time.Now(),
		stopping: make(chan struct{}),
		done:     make(chan struct{}),
		handlers: make(map[string]Handler),
		settings: opts.Settings,
		lim:      defaultLimits(),
		stateID:  StateID(opts.Token),
	}
	d.metrics = newMetrics(d)
	d.Handle("cache_stats", d.cacheStats)
	d.Handle("clear_caches", d.clearCaches)
	d.Handle("clear_cache", d.clearCaches) // setup's name for it in the original
	d.Handle("heap_profile", d.heapProfile)
	return d, nil
}

// Name is the daemon's name.
func (d *Daemon) Name() string { return d.opts.Name }

// Logger is the daemon's logger.
func (d *Daemon) Logger() *slog.Logger { return d.log }

// Settings returns the settings in force (they change on reload).
func (d *Daemon) Settings() settings.Settings {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.settings
}

// Handle registers fn as function name, callable at /v1/call/<name>.
func (d *Daemon) Handle(name string, fn Handler) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.handlers[name] = fn
}

// Cache opens the persistent map cache/<daemon>/<name>.log (in memory only
// when persistence is off), logs what it loaded, and reports it in stats.
func (d *Daemon) Cache(name string) *store.Map {
	var m *store.Map
	if !d.Settings().Persist || d.opts.StateDir == "" {
		m = store.NewMemoryMap(name)
	} else {
		var rep store.LoadReport
		m, rep = store.OpenMap(name, filepath.Join(d.CacheDir(), name+".log"))
		if rep.Warning != nil {
			d.log.Warn("cache: set aside or kept in memory only", "cache", name, "err", rep.Warning)
		}
		if rep.Recovered > 0 {
			d.log.Warn("cache: recovering: dropped a damaged tail", "cache", name, "bytes", rep.Recovered)
		}
		d.log.Info("cache: loaded from disk", "cache", name, "entries", rep.Entries,
			"ms", float64(rep.Elapsed.Microseconds())/1000)
	}
	d.mu.Lock()
	d.maps = append(d.maps, m)
	d.caches = append(d.caches, m)
	d.mu.Unlock()
	return m
}

// AddCache reports c in statistics and clears it on clear_caches.
func (d *Daemon) AddCache(c Cache) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.caches = append(d.caches, c)
}

// AddCounter adds a counter to /metrics, labelled with the daemon's name
// and read from value at each scrape; name must end in _total.
// /v1/stats lists it too, under "counters", without the jmake_ prefix and
// the _total suffix.
func (d *Daemon) AddCounter(name, help string, value func() float64) error {
	if err := d.metrics.addFunc(name, help, "counter", value); err != nil {
		return fmt.Errorf("%s: %w", d.opts.Name, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.counters = append(d.counters, counter{strings.TrimSuffix(strings.TrimPrefix(name, "jmake_"), "_total"), value})
	return nil
}

// counter is one of AddCounter's, as /v1/stats names it.
type counter struct {
	name  string
	value func() float64
}

// CacheDir is this daemon's persistent cache directory.
func (d *Daemon) CacheDir() string {
	return filepath.Join(d.opts.StateDir, "cache", d.opts.Name)
}

// OnShutdown adds a cleanup step, run in the order added after calls in
// flight have drained. A failing step is logged and the others still run.
func (d *Daemon) OnShutdown(name string, fn func(context.Context) error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hooks = append(d.hooks, hook{name, fn})
}

// OnReload adds a step run with the new settings on reload.
func (d *Daemon) OnReload(fn func(settings.Settings) error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reloaders = append(d.reloaders, fn)
}

// Stopping is closed when shutdown begins; long calls (watch) end on it.
func (d *Daemon) Stopping() <-chan struct{} { return d.stopping }

// Done is closed when shutdown is complete.
func (d *Daemon) Done() <-chan struct{} { return d.done }

// Shutdown begins a graceful stop; Serve returns when it is complete.
// It is safe to call more than once and from any goroutine.
func (d *Daemon) Shutdown() {
	d.stopOnce.Do(func() { close(d.stopping) })
}

// Serve listens, writes the PID file, and serves until ctx ends or Shutdown
// is called; then it drains, cleans up and returns. A port already in use is
// an error naming the port.
func (d *Daemon) Serve(ctx context.Context) error {
	defer close(d.done)
	ln := d.opts.Listener
	if ln == nil && !d.opts.NoPID {
		ln = takeOver(d.opts.StateDir, d.opts.Name, d.opts.Addr)
		if ln != nil {
			d.log.Info("start: sharing the listening socket of the running instance (rolling restart)")
		}
	}
	bound := ln == nil // we bind the port ourselves, with SO_REUSEPORT
	if ln == nil {
		var err error
		ln, err = Listen(d.opts.Addr)
		if err != nil {
			return fmt.Errorf("%s: %w", d.opts.Name, err)
		}
		if err := d.checkPortHolder(ln); err != nil {
			ln.Close()
			return fmt.Errorf("%s: %w", d.opts.Name, err)
		}
	}
	port := 0
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		port = a.Port
	}
	// Calls see a context that ends when the drain deadline passes, so a
	// call that would outlive the stop is cancelled rather than cut off.
	baseCtx, cancelCalls := context.WithCancel(context.Background())
	defer cancelCalls()
	d.ln = ln
	tracked := newConnTracker(ln)
	d.conns = connGroup{tracked}
	serve := []net.Listener{tracked}
	if d.opts.Socket != "" {
		// Without the socket the daemon still serves its port, which
		// every client can use; the small client falls back to it.
		if sock, err := listenUnix(d.opts.Socket); err != nil {
			d.log.Warn("start: no unix socket; clients use the TCP port", "err", err)
		} else {
			d.sock = sock
			st := newConnTracker(sock.ln)
			d.conns = append(d.conns, st)
			serve = append(serve, fastLane{st, d})
		}
	}
	d.srv = &http.Server{
		Handler:     trackRequests(d.routes()),
		BaseContext: func(net.Listener) context.Context { return baseCtx },
		ConnContext: tracked.connContext,
		ErrorLog:    slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	d.lim.apply(d.srv)
	if !d.opts.NoPID && d.opts.StateDir != "" {
		if err := pidfile.Write(pidfile.Path(d.opts.StateDir, d.opts.Name), d.opts.Name, port); err != nil {
			d.conns.Close()
			d.unlinkSocket()
			return fmt.Errorf("%s: write PID file: %w", d.opts.Name, err)
		}
		d.startOwnerWatch(port)
	}
	d.log.Info("start: listening", "addr", ln.Addr().String(), "pid", os.Getpid(), "version", Version)

	serveErr := make(chan error, len(serve))
	for _, l := range serve {
		go func() { serveErr <- d.srv.Serve(l) }()
	}
	if bound {
		go d.checkSharedPort(port)
	}

	var err error
	select {
	case <-ctx.Done():
	case <-d.stopping:
	case err = <-serveErr:
		err = fmt.Errorf("%s: serve: %w", d.opts.Name, err)
	}
	d.Shutdown()
	d.drain(cancelCalls)
	d.cleanup()
	if err == nil {
		err = d.portConflict()
	}
	return err
}

// drain stops accepting and waits for calls in flight, up to the drain
// timeout; then it cancels what is left.
func (d *Daemon) drain(cancelCalls context.CancelFunc) {
	timeout := d.Settings().DrainTimeout.Duration
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// Replies sent from now on close their connection, so clients reconnect
	// (to the successor during a rolling restart) instead of reusing one
	// this daemon is about to close. With a successor sharing the socket,
	// queued connections survive our close; keep serving for a grace period
	// so busy clients move over. Alone, take what is in the accept queue
	// before closing (the kernel resets those otherwise), at most half a
	// second: under steady load the queue never empties.
	d.srv.SetKeepAlivesEnabled(false)
	// A successor renamed its socket over ours; alone, the socket goes
	// now, so that no new client connects to a daemon that is stopping.
	d.unlinkSocket()
	if d.hasSuccessor() {
		time.Sleep(successorGrace)
	} else {
		drainAcceptQueue(d.ln, 500*time.Millisecond)
	}
	// Shutdown drops a request it reads after it began, so first stop
	// accepting and let every accepted connection's request reach a
	// handler. A client that connected and sends nothing is given a
	// second, then cut off.
	d.conns.Close()
	deadline, _ := ctx.Deadline()
	freshBy := time.Now().Add(time.Second)
	if deadline.Before(freshBy) {
		freshBy = deadline
	}
	if !d.conns.waitFresh(freshBy) {
		d.conns.closeFresh()
	}
	err := d.srv.Shutdown(ctx)
	if err == nil && !d.conns.waitOpen(deadline) {
		err = ctx.Err()
	}
	if err != nil {
		d.log.Warn("shutdown: calls still running; cancelling them (their callers are told to retry)", "after", timeout)
		cancelCalls()
		// A cancelled call still writes its reply (503, "retry": true)
		// and, for a build, has its compilers killed and reaped before it
		// returns: closing the connections first would have the caller
		// retry on the successor while this process still writes into the
		// build directory.
		if !d.conns.waitOpen(time.Now().Add(cancelGrace)) {
			d.log.Warn("shutdown: cancelled calls still running; closing their connections", "after", cancelGrace)
		}
		d.srv.Close()
	}
}

// cancelGrace bounds the wait for cancelled calls to return. A cancelled
// build returns within milliseconds (its compilers are SIGKILLed and
// reaped); two seconds leaves room for a loaded machine and still bounds a
// handler that ignores its context.
const cancelGrace = 2 * time.Second

// cleanup runs the shutdown hooks, closes caches, logs the summary and
// removes the PID file. Each step's failure is logged; the others still run.
func (d *Daemon) cleanup() {
	d.mu.Lock()
	hooks := append([]hook(nil), d.hooks...)
	maps := append([]*store.Map(nil), d.maps...)
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), d.Settings().DrainTimeout.Duration)
	defer cancel()
	for _, h := range hooks {
		if err := h.fn(ctx); err != nil {
			d.log.Error("shutdown: cleanup failed", "step", h.name, "err", err)
		}
	}
	for _, m := range maps {
		if err := m.Close(); err != nil {
			d.log.Error("shutdown: save cache failed", "cache", m.Name(), "err", err)
		}
	}
	st := d.stats()
	d.log.Info("shutdown: requests served", "requests", st.Requests,
		"cache_hit_rate", fmt.Sprintf("%.1f%%", st.CacheHitRate*100), "uptime", fmt.Sprintf("%.1fs", st.UptimeSeconds))
	d.unlinkSocket()
	if !d.opts.NoPID && d.opts.StateDir != "" {
		if err := pidfile.RemoveIfOurs(pidfile.Path(d.opts.StateDir, d.opts.Name)); err != nil {
			d.log.Error("shutdown: remove PID file failed", "err", err)
		}
	}
}

// unlinkSocket removes the unix socket's path unless a successor owns it
// now; a failure is logged.
func (d *Daemon) unlinkSocket() {
	if d.sock == nil {
		return
	}
	if err := d.sock.unlink(); err != nil {
		d.log.Error("shutdown: remove unix socket failed", "err", err)
	}
}

// Reload re-reads config.toml and applies it; a bad file is rejected with
// its file:line and the settings in force stay.
func (d *Daemon) Reload() error {
	s, err := settings.Load(d.opts.StateDir)
	if err != nil {
		d.log.Error("reload: rejected; keeping the settings in force", "err", err)
		return err
	}
	d.mu.Lock()
	d.settings = s
	reloaders := append([]func(settings.Settings) error(nil), d.reloaders...)
	d.mu.Unlock()
	if d.opts.LogLevel != nil {
		lvl, _ := settings.ParseLevel(s.LogLevel)
		d.opts.LogLevel.Set(lvl)
	}
	for _, fn := range reloaders {
		if err := fn(s); err != nil {
			d.log.Error("reload: failed", "err", err)
			return err
		}
	}
	d.log.Info("reload: settings reloaded, caches kept")
	return nil
}
