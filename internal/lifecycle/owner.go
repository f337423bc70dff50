package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmake/jmake/internal/daemon"
	"github.com/jmake/jmake/internal/pidfile"
	"github.com/jmake/jmake/internal/proc"
)

// Foreign is the state of a daemon whose port is answered by a jmake daemon
// that is not ours: another state dir's, or one of a state dir that was
// removed at this path.
const Foreign = "foreign"

// holderTimeout bounds one /healthz probe of a port: loopback answers within
// a millisecond, and a port nobody listens on is refused at once.
const holderTimeout = 500 * time.Millisecond

// StateID is daemon.StateID of this state dir's token; "" when there is no
// token yet.
func (e Env) StateID() string {
	tok, err := daemon.ReadToken(e.StateDir)
	if err != nil || tok == "" {
		return ""
	}
	return daemon.StateID(tok)
}

// PortOwner asks who answers /healthz on daemon name's port, whatever the
// PID file says. answered is false when no jmake daemon does. err is a
// *daemon.PortHeldError when the one answering is not our daemon name.
func (e Env) PortOwner(ctx context.Context, name string) (h daemon.Health, answered bool, err error) {
	h, answered = daemon.ProbeHolder(ctx, e.Addr(name), holderTimeout)
	if !answered {
		return h, false, nil
	}
	return h, true, daemon.Foreign(h, e.Port(name), name, e.StateDir, e.StateID())
}

// awaitPortOwner is PortOwner that waits, up to StartTimeout, for a daemon
// of a removed or replaced state dir at our path to go: it shuts itself down
// within daemon.OwnerCheckEvery of noticing, after its calls in flight. It
// waits for the process to end, not only for the port: the daemon's
// cleanup, after it stops listening, still writes under the path.
func (e Env) awaitPortOwner(ctx context.Context, name string) (h daemon.Health, answered bool, err error) {
	deadline := time.Now().Add(StartTimeout)
	var old proc.ID // the replaced daemon seen last
	for {
		h, answered, err = e.PortOwner(ctx, name)
		var held *daemon.PortHeldError
		if !errors.As(err, &held) || !held.Replaced || time.Now().After(deadline) {
			if old.PID != 0 && (held == nil || !held.Replaced) {
				proc.WaitGone(ctx, old, time.Until(deadline))
			}
			return h, answered, err
		}
		if id, perr := proc.Of(held.PID); perr == nil {
			old = id
		}
		select {
		case <-ctx.Done():
			return h, answered, err
		// 50 ms: a daemon's stop takes tens to hundreds of milliseconds.
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ownDaemon returns our daemon name answering on its port though its PID
// file does not name it (the file was removed: the daemon writes it again
// within a second), as the PID file would.
func ownDaemon(name string, h daemon.Health) (pidfile.Info, bool) {
	info := pidfile.Info{PID: h.PID, Name: name}
	info.Start, _ = proc.StartTicks(h.PID)
	if ok, _ := pidfile.Verify(info, name); !ok {
		return pidfile.Info{}, false
	}
	return info, true
}

// Claim is what a starter does about daemon name's port before starting it:
// it returns our own daemon when one already answers there (adopt it, do
// not start a second), an error naming the holder when a daemon of another
// state dir does, and neither when the port is free. A daemon of a removed
// state dir at our path is waited for.
func (e Env) Claim(ctx context.Context, name string) (ours pidfile.Info, err error) {
	h, answered, err := e.awaitPortOwner(ctx, name)
	if err != nil || !answered {
		return pidfile.Info{}, err
	}
	if info, ok := ownDaemon(name, h); ok {
		info.Port = e.Port(name)
		return info, nil
	}
	return pidfile.Info{}, nil
}

// ClaimAll runs Claim for each of names whose PID file does not name a
// live daemon, at once, and joins the errors, each naming its daemon.
func (e Env) ClaimAll(ctx context.Context, names []string) error {
	_, err := inParallel(names, func(name string) (pidfile.Info, error) {
		if info, _ := e.Inspect(name); info.PID != 0 {
			return info, nil
		}
		claimed, err := e.Claim(ctx, name)
		if err != nil {
			return claimed, fmt.Errorf("%s: %w", name, err)
		}
		return claimed, nil
	})
	return err
}

// startClaimed starts daemon name unless its port is ours already (then it
// reports it as running) or another state dir's daemon holds it.
func (e Env) startClaimed(ctx context.Context, name string, opts StartOptions) (StartResult, error) {
	ours, err := e.Claim(ctx, name)
	if err != nil {
		return StartResult{}, fmt.Errorf("%s: %w", name, err)
	}
	if ours.PID != 0 {
		return StartResult{Name: name, PID: ours.PID, Port: ours.Port, Already: true}, nil
	}
	return e.startOne(ctx, name, opts)
}

// holderStatus fills st, a daemon without a PID file naming it, from who
// answers on its port: our daemon (running; its PID file is being written
// again), another's (Foreign), or nobody (stopped, as st is).
func (e Env) holderStatus(ctx context.Context, st *DaemonStatus) {
	h, answered, err := e.PortOwner(ctx, st.Name)
	switch {
	case !answered:
	case err != nil:
		st.State, st.PID, st.Reason = Foreign, h.PID, "not ours: "+err.Error()
	default:
		st.State, st.PID, st.UptimeSeconds = Running, h.PID, h.UptimeSeconds
		st.Reason = "answering, but its PID file is missing (the daemon writes it again)"
	}
}
