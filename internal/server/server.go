// Package server makes each of the four daemons: the shared runtime of
// internal/daemon with its domain package's functions bound to it.
package server

import (
	"fmt"

	"github.com/jmake/jmake/internal/daemon"
	"github.com/jmake/jmake/internal/settings"
)

// New makes daemon opts.Name with its functions and caches registered.
func New(opts daemon.Options) (*daemon.Daemon, error) {
	d, err := daemon.New(opts)
	if err != nil {
		return nil, err
	}
	switch opts.Name {
	case settings.Discovery:
		err = bindDiscovery(d)
	case settings.Setup:
		err = bindSetup(d)
	case settings.Compilation:
		err = bindCompilation(d)
	case settings.Orchestrator:
		err = bindOrchestrator(d)
	default:
		err = fmt.Errorf("unknown daemon %q", opts.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opts.Name, err)
	}
	return d, nil
}
