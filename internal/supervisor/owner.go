package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jmake/jmake/internal/daemon"
	"github.com/jmake/jmake/internal/lifecycle"
	"github.com/jmake/jmake/internal/pidfile"
)

// The supervisor owns its state dir as its daemons do (see
// internal/daemon/owner.go): when the directory is removed or replaced, or
// its token replaced, it stops its daemons and exits rather than restart
// them into a state dir that is no longer theirs; the next `jmake start` or
// `jmake build` starts a fresh set. Its PID file, when merely missing, is
// written again.

// errLost ends Run when the supervisor no longer owns its state dir.
var errLost = errors.New("supervisor: no longer owns its state dir")

// watchOwner checks the state dir every daemon.OwnerCheckEvery until ctx
// ends, and abandons the supervision when it is lost.
func (s *Supervisor) watchOwner(ctx context.Context) {
	t := time.NewTicker(daemon.OwnerCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.ownerLost() {
			return
		}
		path := s.env.SupervisorPIDFile()
		if info, err := pidfile.Read(path); err == nil && info.PID == os.Getpid() {
			continue
		}
		if err := pidfile.Write(path, lifecycle.SupervisorName, 0); err != nil {
			s.log.Error("supervisor: PID file missing; writing it again failed", "path", path, "err", err)
		} else {
			s.log.Warn("supervisor: PID file was missing or stale; wrote it again", "path", path)
		}
	}
}

// ownerLost checks the state dir now; when it is lost, it logs why and
// ends Run (which stops the daemons), and reports true. Keepers call it
// before each start, so a daemon that exited because it lost the state dir
// is not started again into a new one.
func (s *Supervisor) ownerLost() bool {
	if s.owner == nil {
		return false
	}
	lost, restored := s.owner.Check()
	if restored != "" {
		s.log.Warn("supervisor: " + restored)
	}
	if lost == "" {
		return false
	}
	s.lostOnce.Do(func() {
		s.lost.Store(true)
		s.log.Warn("supervisor: state dir lost; stopping the daemons and exiting", "why", lost, "pid", os.Getpid())
		s.abandon(fmt.Errorf("%w: %s", errLost, lost))
	})
	return true
}

// claim is a keeper's check of its port before it spawns: our daemon
// answering there without a PID file naming it is adopted; a daemon of
// another state dir makes the start fail with its reason.
func (k *keeper) claim(ctx context.Context) (adopt *inst, err error) {
	ours, err := k.s.env.Claim(ctx, k.name)
	if err != nil {
		return nil, err
	}
	if ours.PID != 0 {
		return &inst{info: ours}, nil
	}
	return nil, nil
}
