// Package server makes each of the four daemons: the shared runtime of
// internal/daemon with its domain package's functions bound to it. The same
// service values back `jmake build --no-daemon` (LocalPipeline), so both
// paths run the same code.
package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/jmake/jmake/internal/client"
	"github.com/jmake/jmake/internal/daemon"
	"github.com/jmake/jmake/internal/settings"
	"github.com/jmake/jmake/internal/store"
)

// Peers returns a client of another daemon (the orchestrator's view of the
// other three).
type Peers func(name string) *client.Client

// New makes daemon opts.Name with its functions and caches registered.
func New(opts daemon.Options, peers Peers) (*daemon.Daemon, error) {
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
		err = bindOrchestrator(d, peers)
	default:
		err = fmt.Errorf("unknown daemon %q", opts.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opts.Name, err)
	}
	return d, nil
}

// caches opens persistent maps: through the daemon when there is one (so
// they show in its stats and close at shutdown), else directly in dir.
type caches interface {
	Cache(name string) *store.Map
}

// dirCaches opens maps in a directory, for in-process builds, and logs
// what the store reports on opening them (nil log: nothing).
type dirCaches struct {
	dir  string
	log  *slog.Logger
	maps []*store.Map
}

func (c *dirCaches) Cache(name string) *store.Map {
	m, rep := store.OpenMap(name, c.dir+"/"+name+".log")
	if c.log != nil && rep.Warning != nil {
		c.log.Warn("cache set aside or kept in memory only", "cache", name, "err", rep.Warning)
	}
	if c.log != nil && rep.Recovered > 0 {
		c.log.Warn("cache recovered: dropped a damaged tail", "cache", name, "bytes", rep.Recovered)
	}
	c.maps = append(c.maps, m)
	return m
}

func (c *dirCaches) close() {
	for _, m := range c.maps {
		m.Close()
	}
}

// decode is a Request.Decode that also insists on a path argument.
func decodePath(req *daemon.Request, v any, path *string) error {
	if err := req.Decode(v); err != nil {
		return err
	}
	if *path == "" {
		return daemon.Errorf(400, "%s: missing argument \"path\"", req.Function)
	}
	return nil
}

// pathArg is the "path" argument of a function that works on a project;
// the arguments of an onPath function embed it.
type pathArg struct {
	Path string `json:"path"`
}

func (p *pathArg) path() *string { return &p.Path }

// onPath makes the handler of a function whose arguments, A, embed
// pathArg: they are decoded (a missing path refused) and handed to call,
// the function's work, whose error is answered 400 with the function's name.
func onPath[A any, P interface {
	*A
	path() *string
}](call func(ctx context.Context, a P) (any, error)) daemon.Handler {
	return func(ctx context.Context, req *daemon.Request) (any, error) {
		a := P(new(A))
		if err := decodePath(req, a, a.path()); err != nil {
			return nil, err
		}
		v, err := call(ctx, a)
		if err != nil {
			return nil, daemon.Errorf(400, "%s: %v", req.Function, err)
		}
		return v, nil
	}
}

// jsonValue round-trips v through JSON into a generic value, so a reply
// can gain fields.
func jsonValue(v any) map[string]any {
	b, _ := json.Marshal(v)
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}
