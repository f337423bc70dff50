// Package supervisor keeps the four daemons up: `jmake supervise` runs one
// Supervisor in the foreground as the daemons' parent. It sees a death at
// once (it waits on its children), catches a hung daemon with /healthz
// probes, restarts with backoff, gives up on a crash loop (FATAL, with its
// reason, until `jmake start <name>` or `jmake reset <name>`), adopts
// daemons left running by a previous supervisor, speaks systemd's sd_notify
// protocol, and records what it does in $JMAKE_HOME/supervisor.json for
// `jmake status`. Commands reach it on a unix socket (see control.go).
package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmake/jmake/internal/atomicfile"
	"github.com/jmake/jmake/internal/daemon"
	"github.com/jmake/jmake/internal/lifecycle"
	"github.com/jmake/jmake/internal/pidfile"
	"github.com/jmake/jmake/internal/settings"
)

// Policy holds the supervisor's thresholds. Tests use Defaults() as they
// are.
type Policy struct {
	// ProbeEvery: /healthz of every daemon once a second, so a hang is
	// seen within Misses seconds.
	ProbeEvery time.Duration
	// ProbeTimeout: loopback /healthz answers in well under a millisecond;
	// half a second is hundreds of times that, and short enough that three
	// misses fit in the 5 s a hang may take to be restarted.
	ProbeTimeout time.Duration
	// Misses in a row before a daemon counts as hung and is SIGKILLed.
	Misses int
	// BackoffMin, doubling up to BackoffMax, is the wait before a restart;
	// it goes back to BackoffMin after HealthyReset of good health.
	BackoffMin, BackoffMax, HealthyReset time.Duration
	// FailLimit failures (failed starts or unplanned ends) within
	// FailWindow make a daemon FATAL: a crash loop, not a blip.
	FailLimit  int
	FailWindow time.Duration
	// StopTimeout bounds a graceful stop before SIGKILL of the group;
	// New raises it to the daemons' drain_timeout + 5 s when that is longer.
	StopTimeout time.Duration
	// AliveEvery: how often an adopted daemon (not our child, so no Wait)
	// is checked in /proc. Reading one /proc file is microseconds.
	AliveEvery time.Duration
}

// Defaults returns the supervisor's policy: each value is explained on
// its field of Policy.
func Defaults() Policy {
	return Policy{
		ProbeEvery:   time.Second,
		ProbeTimeout: 500 * time.Millisecond,
		Misses:       3,
		BackoffMin:   100 * time.Millisecond,
		BackoffMax:   30 * time.Second,
		HealthyReset: 30 * time.Second,
		FailLimit:    5,
		FailWindow:   60 * time.Second,
		StopTimeout:  lifecycle.StopTimeout,
		AliveEvery:   50 * time.Millisecond,
	}
}

// Options configure a Supervisor.
type Options struct {
	Env    lifecycle.Env
	Names  []string // the daemons to keep up; all four when empty
	Policy Policy
	Logger *slog.Logger
	Start  lifecycle.StartOptions
}

// Supervisor keeps daemons up. New → Run(ctx); cancelling ctx stops the
// daemons gracefully and Run returns.
type Supervisor struct {
	opts    Options
	env     lifecycle.Env
	pol     Policy
	log     *slog.Logger
	notify  *Notifier
	keepers map[string]*keeper

	// writeMu orders writes of supervisor.json: the snapshot and the
	// rename under one lock, or an older snapshot could land last. It is
	// taken before mu, never while holding it.
	writeMu sync.Mutex
	mu      sync.Mutex // guards state, ready and socket
	state   map[string]*lifecycle.Supervised
	ready   bool // READY=1 was sent
	socket  string

	owner    *daemon.Owner           // set by Run; see owner.go
	abandon  context.CancelCauseFunc // ends Run when the state dir is lost
	lostOnce sync.Once
	lost     atomic.Bool // the state dir is lost: touch nothing under its path
}

// New makes a supervisor; nothing runs until Run.
func New(opts Options) *Supervisor {
	if len(opts.Names) == 0 {
		opts.Names = settings.Names()
	}
	if opts.Policy.ProbeEvery == 0 {
		opts.Policy = Defaults()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	// A stop must outlast the daemons' drain (drain_timeout, then up to 2 s
	// for the calls it cancels to answer "retry", then cleanup), or SIGKILL
	// cuts short calls that the drain would have ended cleanly.
	if least := opts.Env.Settings.DrainTimeout.Duration + 5*time.Second; opts.Policy.StopTimeout < least {
		opts.Policy.StopTimeout = least
	}
	s := &Supervisor{
		opts:    opts,
		env:     opts.Env,
		pol:     opts.Policy,
		log:     opts.Logger,
		notify:  NotifierFromEnv(),
		keepers: map[string]*keeper{},
		state:   map[string]*lifecycle.Supervised{},
	}
	for _, n := range settings.Names() {
		s.state[n] = &lifecycle.Supervised{Name: n, State: "stopped"}
		s.keepers[n] = newKeeper(s, n)
	}
	return s
}

// ErrRunning says another supervisor already runs for this state dir.
var ErrRunning = errors.New("a supervisor is already running")

// Run supervises until ctx ends, then stops every daemon gracefully. It
// refuses to run beside another live supervisor of the same state dir.
func (s *Supervisor) Run(ctx context.Context) error {
	e := s.env
	if err := settings.EnsureStateDir(e.StateDir); err != nil {
		return err
	}
	if info := e.InspectSupervisor(); info.PID != 0 && info.PID != os.Getpid() {
		return fmt.Errorf("%w (pid %d, %s)", ErrRunning, info.PID, e.SupervisorPIDFile())
	}
	if err := pidfile.Write(e.SupervisorPIDFile(), lifecycle.SupervisorName, 0); err != nil {
		return fmt.Errorf("supervisor: write PID file: %w", err)
	}
	defer pidfile.RemoveIfOurs(e.SupervisorPIDFile())
	var ports []int
	for _, n := range settings.Names() {
		ports = append(ports, e.Port(n))
	}
	claim, err := claimPorts(ctx, e.StateDir, ports)
	if err != nil {
		return fmt.Errorf("supervisor: %w", err)
	}
	defer claim.Close() // when Run returns, once the daemons are stopped

	// The token is made before any daemon starts, so they share it, and the
	// state dir's owner is recorded with it.
	token, err := daemon.LoadOrCreateToken(e.StateDir)
	if err != nil {
		return fmt.Errorf("supervisor: %w", err)
	}
	if s.owner, err = daemon.NewOwner(e.StateDir, token); err != nil {
		return fmt.Errorf("supervisor: %w", err)
	}
	ctx, s.abandon = context.WithCancelCause(ctx)
	defer s.abandon(nil)
	go s.watchOwner(ctx)
	ln, err := listenControl(e.SupervisorSocket())
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.socket = ln.Addr().String()
	s.mu.Unlock()
	ctl := s.serveControl(ln)
	defer ctl.Close()

	s.log.Info("supervisor: supervising", "pid", os.Getpid(), "daemons", strings.Join(s.opts.Names, ","),
		"state_dir", e.StateDir, "port_offset", e.Offset)
	s.notify.Send("STATUS=starting daemons")
	stopWatchdog := s.notify.Watchdog()
	defer stopWatchdog()

	kctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for _, n := range settings.Names() {
		k := s.keepers[n]
		k.want = contains(s.opts.Names, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			k.run(kctx)
		}()
	}
	s.writeState()

	<-ctx.Done()
	s.log.Info("supervisor: stopping the daemons")
	s.notify.Send("STOPPING=1")
	s.notify.Send("STATUS=stopping daemons")
	// Keepers stop their daemons gracefully when their context ends.
	cancel()
	wg.Wait()
	s.writeState()
	if !s.lost.Load() {
		// A supervisor that lost its state dir leaves the path alone: it
		// may hold the next supervisor's files by now.
		os.Remove(e.SupervisorStateFile())
		os.Remove(e.SupervisorSocket())
	}
	s.log.Info("supervisor: stopped")
	if cause := context.Cause(ctx); errors.Is(cause, errLost) {
		return cause
	}
	return nil
}

// update changes daemon name's record under the lock, then writes the
// state file and tells systemd what changed.
func (s *Supervisor) update(name string, fn func(*lifecycle.Supervised)) {
	s.mu.Lock()
	fn(s.state[name])
	s.mu.Unlock()
	s.writeState()
	s.checkReady()
}

// State is the supervisor's view of the daemons, as supervisor.json has it.
func (s *Supervisor) State() lifecycle.SupervisorState { return s.snapshot() }

func (s *Supervisor) snapshot() lifecycle.SupervisorState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := lifecycle.SupervisorState{PID: os.Getpid(), Socket: s.socket, Updated: time.Now()}
	for _, n := range settings.Names() {
		st.Daemons = append(st.Daemons, *s.state[n])
	}
	return st
}

// writeState writes supervisor.json atomically (temp file + rename), so
// `jmake status` never reads half a file.
func (s *Supervisor) writeState() {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.lost.Load() {
		return // the file at the path is the next supervisor's
	}
	b, _ := json.MarshalIndent(s.snapshot(), "", "  ")
	if err := atomicfile.Write(s.env.SupervisorStateFile(), append(b, '\n'), 0o600); err != nil {
		s.log.Error("supervisor: state file not written", "path", s.env.SupervisorStateFile(), "err", err)
	}
}

// checkReady sends READY=1 the first time every wanted daemon runs, and a
// STATUS= line on every change.
func (s *Supervisor) checkReady() {
	st := s.snapshot()
	running, want := 0, 0
	var notes []string
	for _, d := range st.Daemons {
		if !contains(s.opts.Names, d.Name) && d.State == "stopped" {
			continue
		}
		want++
		if d.State == "running" {
			running++
		} else {
			notes = append(notes, d.Name+" "+d.State)
		}
	}
	status := fmt.Sprintf("STATUS=%d/%d daemons running", running, want)
	if len(notes) > 0 {
		status += " (" + strings.Join(notes, ", ") + ")"
	}
	s.mu.Lock()
	first := !s.ready && running == want && want > 0
	if first {
		s.ready = true
	}
	s.mu.Unlock()
	if first {
		s.notify.Send("READY=1\n" + status)
		return
	}
	s.notify.Send(status)
}

// ReloadAll asks every running daemon to re-read its settings (SIGHUP to
// the supervisor).
func (s *Supervisor) ReloadAll(ctx context.Context) error {
	s.notify.Send(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", monotonicUsec()))
	var errs []error
	for _, n := range settings.Names() {
		if err := s.keepers[n].do(ctx, cmdReload); err != nil {
			errs = append(errs, err)
		}
	}
	s.notify.Send("READY=1")
	err := errors.Join(errs...)
	if err != nil {
		s.log.Error("reload: failed", "err", err)
	} else {
		s.log.Info("reload: settings reloaded in every running daemon")
	}
	return err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// listenControl binds the control socket, replacing a socket file left by
// a supervisor that died (Run checked that none is running).
func listenControl(path string) (net.Listener, error) {
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err == nil {
		// Run removes the socket file itself, and only while the state dir
		// is still its own (see owner.go).
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
	}
	if err != nil {
		return nil, fmt.Errorf("supervisor: control socket %s: %w", path, err)
	}
	os.Chmod(path, 0o600)
	return ln, nil
}
