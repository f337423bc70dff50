package supervisor

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jmake/jmake/internal/lifecycle"
	"github.com/jmake/jmake/internal/pidfile"
	"github.com/jmake/jmake/internal/proc"
)

type cmdKind int

const (
	cmdStart   cmdKind = iota // want it up; clears FATAL
	cmdStop                   // stop it gracefully and leave it down
	cmdReset                  // clear FATAL and the failure count; start it if wanted
	cmdRestart                // stop, then start
	cmdRolling                // new instance first, then stop the old one
	cmdReload                 // POST /v1/reload
)

var cmdNames = map[cmdKind]string{cmdStart: "start", cmdStop: "stop", cmdReset: "reset",
	cmdRestart: "restart", cmdRolling: "rolling restart", cmdReload: "reload"}

type command struct {
	kind    cmdKind
	timeout time.Duration // stop: SIGKILL after this (0: the policy's)
	reply   chan error
}

// keeper owns one daemon: a goroutine (run) that starts, watches and
// restarts it. Every field but cmds is touched only by that goroutine.
type keeper struct {
	s    *Supervisor
	name string
	cmds chan command

	want     bool // keep it up (false after `jmake stop <name>`)
	fatal    bool
	failures []time.Time // failed starts and unplanned ends within the window
	backoff  time.Duration
	spawned  bool // a process was spawned before: the next spawn is a restart
}

func newKeeper(s *Supervisor, name string) *keeper {
	return &keeper{s: s, name: name, cmds: make(chan command)}
}

// do hands a command to the keeper and waits for its answer.
func (k *keeper) do(ctx context.Context, kind cmdKind) error {
	return k.doTimeout(ctx, kind, 0)
}

func (k *keeper) doTimeout(ctx context.Context, kind cmdKind, timeout time.Duration) error {
	c := command{kind, timeout, make(chan error, 1)}
	select {
	case k.cmds <- c:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-c.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// inst is one running process of the daemon: our child, or adopted.
type inst struct {
	info pidfile.Info
	proc *lifecycle.Proc // nil when adopted
}

// done is closed when our child exits; nil (never ready) when adopted.
func (i *inst) done() <-chan struct{} {
	if i.proc == nil {
		return nil
	}
	return i.proc.Done()
}

// ended says how the process ended, for the log and the state's reason.
func (i *inst) ended() string {
	if i.proc == nil {
		return fmt.Sprintf("adopted pid %d is gone", i.info.PID)
	}
	return fmt.Sprintf("pid %d exited unexpectedly (%s)", i.info.PID, i.exit())
}

func (i *inst) exit() string {
	if i.proc == nil {
		return "gone (exit status unknown: adopted, not our child)"
	}
	return i.proc.ExitString()
}

// reapWait bounds the wait for a child that stopped to be reaped (its
// Wait to return), which takes microseconds once the process is gone.
const reapWait = time.Second

func (k *keeper) logf(level string, format string, args ...any) {
	msg := "supervisor: " + fmt.Sprintf(format, args...)
	switch level {
	case "warn":
		k.s.log.Warn(msg, "daemon", k.name)
	case "error":
		k.s.log.Error(msg, "daemon", k.name)
	default:
		k.s.log.Info(msg, "daemon", k.name)
	}
}

func (k *keeper) set(fn func(*lifecycle.Supervised)) { k.s.update(k.name, fn) }

// run keeps the daemon up until ctx ends, then stops it gracefully.
func (k *keeper) run(ctx context.Context) {
	pol := k.s.pol
	k.backoff = pol.BackoffMin
	var wait time.Duration // before the next start
	for {
		if !k.want || k.fatal {
			if !k.fatal {
				k.set(func(d *lifecycle.Supervised) { d.State, d.PID = "stopped", 0 })
			}
			select {
			case <-ctx.Done():
				return
			case c := <-k.cmds:
				switch c.kind {
				case cmdStart, cmdReset, cmdRestart, cmdRolling:
					k.want, k.fatal, k.failures, k.backoff, wait = true, false, nil, pol.BackoffMin, 0
					// The state leaves "fatal" before the reply, as in sleep:
					// the caller polls the state next.
					k.set(func(d *lifecycle.Supervised) {
						d.State, d.Reason = "starting", "started by request after "+cmdNames[c.kind]
					})
					c.reply <- nil
				case cmdStop:
					c.reply <- nil
				case cmdReload:
					c.reply <- fmt.Errorf("%s: not running", k.name)
				}
			}
			continue
		}
		if wait > 0 {
			k.set(func(d *lifecycle.Supervised) { d.State, d.PID = "backoff", 0 })
			if !k.sleep(ctx, &wait) {
				return
			}
			continue
		}
		in := k.acquire(ctx)
		if ctx.Err() != nil {
			if in != nil {
				k.stop(in)
			}
			return
		}
		if in == nil {
			wait = k.fail()
			continue
		}
		wait = k.monitor(ctx, in)
		if ctx.Err() != nil {
			return
		}
	}
}

// sleep waits out a backoff, answering commands meanwhile; it returns false
// when ctx ends.
func (k *keeper) sleep(ctx context.Context, wait *time.Duration) bool {
	deadline := time.Now().Add(*wait)
	t := time.NewTimer(*wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			*wait = 0
			return true
		case c := <-k.cmds:
			switch c.kind {
			case cmdStop:
				k.want = false
				*wait = 0
				c.reply <- nil
				return true
			case cmdReload:
				c.reply <- fmt.Errorf("%s: not running (restarting in %s)", k.name, time.Until(deadline).Round(time.Millisecond))
				continue
			default:
				// The state leaves "backoff" before the reply: `jmake start`
				// polls the state next, and must not take the backoff it
				// just ended for a failed start.
				k.failures, k.backoff, *wait = nil, k.s.pol.BackoffMin, 0
				k.set(func(d *lifecycle.Supervised) { d.State = "starting" })
				c.reply <- nil
				return true
			}
		}
	}
}

// fail records a failure; it makes the daemon FATAL at the limit, else
// returns the backoff to wait before the next start.
func (k *keeper) fail() time.Duration {
	pol := k.s.pol
	now := time.Now()
	kept := k.failures[:0]
	for _, t := range k.failures {
		if now.Sub(t) < pol.FailWindow {
			kept = append(kept, t)
		}
	}
	k.failures = append(kept, now)
	if len(k.failures) >= pol.FailLimit {
		k.fatal = true
		k.set(func(d *lifecycle.Supervised) {
			d.State, d.PID = "fatal", 0
			d.Reason = fmt.Sprintf("FATAL: %d failures within %s, not restarting until `jmake start %s` or `jmake reset %s`; last: %s",
				len(k.failures), pol.FailWindow, k.name, k.name, d.Reason)
		})
		k.logf("error", "%s", k.s.snapshotOf(k.name).Reason)
		return 0
	}
	wait := k.backoff
	k.backoff = min(k.backoff*2, pol.BackoffMax)
	k.logf("warn", "restarting in %s", wait)
	return wait
}

// acquire adopts the daemon if its verified PID file names a live process,
// else spawns it and waits until it answers /healthz as itself. It returns
// nil on failure, with the reason recorded.
func (k *keeper) acquire(ctx context.Context) *inst {
	e := k.s.env
	info, stale := e.Inspect(k.name)
	if info.PID != 0 {
		k.logf("info", "adopting running pid %d (its PID file verified)", info.PID)
		k.set(func(d *lifecycle.Supervised) { d.State, d.PID, d.Adopted = "running", info.PID, true })
		return &inst{info: info}
	}
	if stale != "" {
		os.Remove(e.PIDFile(k.name))
	}
	if k.s.ownerLost() {
		return nil
	}
	if in, err := k.claim(ctx); err != nil || in != nil {
		if err != nil {
			k.logf("error", "not starting: %v", err)
			k.set(func(d *lifecycle.Supervised) { d.Reason = "start refused: " + err.Error() })
			return nil
		}
		k.logf("info", "adopting pid %d: it answers on port %d as our daemon (its PID file was missing)", in.info.PID, e.Port(k.name))
		k.set(func(d *lifecycle.Supervised) { d.State, d.PID, d.Adopted = "running", in.info.PID, true })
		return in
	}
	restart := k.spawned
	k.spawned = true
	k.set(func(d *lifecycle.Supervised) {
		d.State, d.PID, d.Adopted, d.LastStart = "starting", 0, false, time.Now().UTC()
		if restart {
			d.Restarts++
		}
	})
	p, err := e.Spawn(k.name, k.s.opts.Start)
	if err != nil {
		k.set(func(d *lifecycle.Supervised) { d.Reason = "start failed: " + err.Error() })
		return nil
	}
	err = e.AwaitReady(ctx, k.name, p.PID, p.Done(), lifecycle.StartTimeout)
	if err != nil {
		select {
		case <-p.Done():
		default:
			proc.KillGroup(p.Info().Proc())
			<-p.Done()
		}
		if ctx.Err() != nil {
			return nil
		}
		exit := p.ExitString()
		reason := fmt.Sprintf("start failed: pid %d %v (%s)", p.PID, err, exit)
		if line := lastLogLine(p); line != "" {
			reason += ": " + line
		}
		k.logf("warn", "%s", reason)
		k.set(func(d *lifecycle.Supervised) { d.LastExit, d.Reason = exit, reason })
		return nil
	}
	k.logf("info", "running (pid %d)", p.PID)
	k.set(func(d *lifecycle.Supervised) { d.State, d.PID = "running", p.PID })
	return &inst{info: p.Info(), proc: p}
}

// lastLogLine is the last line the process wrote to its log: for a daemon
// that failed to start, the error main printed.
func lastLogLine(p *lifecycle.Proc) string {
	data, err := os.ReadFile(p.LogPath)
	if err != nil || int64(len(data)) <= p.LogStart {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(data[p.LogStart:])), "\n")
	return strings.TrimPrefix(lines[len(lines)-1], "jmake: ")
}

// monitor watches a running daemon until it ends or is stopped; it returns
// the wait before the next start.
func (k *keeper) monitor(ctx context.Context, in *inst) time.Duration {
	pol := k.s.pol
	e := k.s.env
	probeT := time.NewTicker(pol.ProbeEvery)
	defer probeT.Stop()
	var aliveC <-chan time.Time
	if in.proc == nil {
		t := time.NewTicker(pol.AliveEvery)
		defer t.Stop()
		aliveC = t.C
	}
	probeRes := make(chan error, 1)
	probing := false
	misses := 0
	healthySince := time.Now()
	died := func(reason string) time.Duration {
		k.logf("warn", "%s", reason)
		k.set(func(d *lifecycle.Supervised) { d.State, d.PID, d.LastExit, d.Reason = "backoff", 0, in.exit(), reason })
		return k.fail()
	}
	for {
		select {
		case <-ctx.Done():
			k.stop(in)
			return 0
		case <-in.done():
			return died(in.ended())
		case <-aliveC:
			if !proc.Alive(in.info.Proc()) {
				return died(in.ended())
			}
		case <-probeT.C:
			if probing {
				continue
			}
			probing = true
			pid := in.info.PID
			go func() {
				h, err := e.Probe(ctx, k.name, pol.ProbeTimeout)
				if err == nil && h.PID != pid {
					err = fmt.Errorf("port %d answered by pid %d, not %d", e.Port(k.name), h.PID, pid)
				}
				probeRes <- err
			}()
		case err := <-probeRes:
			probing = false
			if err == nil {
				if misses > 0 {
					k.logf("info", "answering again after %d missed probes", misses)
				}
				misses = 0
				if time.Since(healthySince) >= pol.HealthyReset && k.backoff != pol.BackoffMin {
					k.backoff = pol.BackoffMin
				}
				continue
			}
			if ctx.Err() != nil {
				continue
			}
			misses++
			healthySince = time.Now()
			k.logf("warn", "health probe %d/%d missed: %v", misses, pol.Misses, err)
			if misses < pol.Misses {
				continue
			}
			proc.KillGroup(in.info.Proc())
			k.waitExit(in, lifecycle.KillWait)
			return died(fmt.Sprintf("pid %d hung: %d health probes in a row missed (last: %v); killed its process group", in.info.PID, misses, err))
		case c := <-k.cmds:
			switch c.kind {
			case cmdStart:
				if id := in.info.Proc(); proc.Alive(id) && !proc.Dying(id) {
					c.reply <- nil
					continue
				}
				// It died, or is dying, and we have not seen it yet (kill -9
				// just before `jmake start`): start it now, as asked,
				// without a backoff.
				if in.proc != nil {
					<-in.done()
				} else {
					// Not our child: poll /proc, as after a SIGKILL.
					proc.WaitGone(ctx, in.info.Proc(), lifecycle.KillWait)
				}
				reason := in.ended()
				k.logf("warn", "%s; starting it again by request", reason)
				k.set(func(d *lifecycle.Supervised) { d.State, d.PID, d.LastExit, d.Reason = "starting", 0, in.exit(), reason })
				c.reply <- nil
				return 0
			case cmdReset:
				k.failures, k.backoff = nil, pol.BackoffMin
				c.reply <- nil
			case cmdReload:
				rctx, cancel := context.WithTimeout(ctx, lifecycle.ReloadTimeout)
				c.reply <- e.Client(k.name).Reload(rctx)
				cancel()
			case cmdStop:
				k.set(func(d *lifecycle.Supervised) { d.State = "stopping" })
				killed := k.stopWithin(in, c.timeout)
				k.want = false
				reason := "stopped by request"
				if killed {
					reason = "killed: did not stop within the stop timeout"
				}
				k.set(func(d *lifecycle.Supervised) { d.LastExit, d.Reason = in.exit(), reason })
				c.reply <- nil
				return 0
			case cmdRestart:
				k.set(func(d *lifecycle.Supervised) { d.State = "stopping" })
				k.stop(in)
				k.set(func(d *lifecycle.Supervised) { d.LastExit, d.Reason = in.exit(), "restarted by request" })
				c.reply <- nil
				return 0
			case cmdRolling:
				old := in
				p, err := e.Replace(ctx, k.name, old.info, k.s.opts.Start, pol.StopTimeout)
				if err != nil {
					c.reply <- err
					continue
				}
				if old.proc != nil {
					<-old.proc.Done()
				}
				in = &inst{info: p.Info(), proc: p}
				misses, probing = 0, false
				probeRes = make(chan error, 1) // a probe of the old one may still answer
				k.set(func(d *lifecycle.Supervised) {
					d.PID, d.Adopted, d.Restarts, d.LastStart = p.PID, false, d.Restarts+1, p.Started.UTC()
					d.LastExit, d.Reason = old.exit(), fmt.Sprintf("rolling restart: pid %d replaced pid %d", p.PID, old.info.PID)
				})
				if in.proc != nil && aliveC != nil {
					aliveC = nil
				}
				c.reply <- nil
			}
		}
	}
}

// stop stops a daemon gracefully (SIGTERM, drain), SIGKILLing its group
// after the stop timeout.
func (k *keeper) stop(in *inst) { k.stopWithin(in, 0) }

// stopWithin stops in, SIGKILLing its group after timeout (0: the
// policy's); it reports whether it had to.
func (k *keeper) stopWithin(in *inst, timeout time.Duration) (killed bool) {
	if timeout <= 0 {
		timeout = k.s.pol.StopTimeout
	}
	killed, err := k.s.env.StopProcess(context.Background(), in.info, timeout)
	if err != nil {
		k.logf("error", "stop: %v", err)
	}
	if killed {
		k.logf("warn", "pid %d did not stop within %s: killed its process group", in.info.PID, timeout)
	}
	// StopProcess saw the process gone; reaping our child follows at once.
	k.waitExit(in, reapWait)
	return killed
}

// waitExit waits for our child to be reaped (so its exit status is known),
// or for an adopted process to be gone.
func (k *keeper) waitExit(in *inst, timeout time.Duration) {
	if in.proc != nil {
		select {
		case <-in.proc.Done():
		case <-time.After(timeout):
		}
		return
	}
	proc.WaitGone(context.Background(), in.info.Proc(), timeout)
}

// snapshotOf returns daemon name's record.
func (s *Supervisor) snapshotOf(name string) lifecycle.Supervised {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.state[name]
}
