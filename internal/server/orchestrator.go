package server

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"time"

	"github.com/jmake/jmake/internal/change"
	"github.com/jmake/jmake/internal/client"
	"github.com/jmake/jmake/internal/daemon"
	"github.com/jmake/jmake/internal/orchestrator"
	"github.com/jmake/jmake/internal/settings"
	"github.com/jmake/jmake/internal/store"
)

// BuildRecord is the last build of a project, kept in the orchestrator's
// history cache and listed by get_stats.
type BuildRecord struct {
	Path           string    `json:"path"`
	Time           time.Time `json:"time"`
	Success        bool      `json:"success"`
	Units          int       `json:"units"`
	Compiled       int       `json:"compiled"`
	Cached         int       `json:"cached"`
	ElapsedSeconds float64   `json:"elapsed_seconds"`
}

func bindOrchestrator(d *daemon.Daemon, peers Peers) error {
	if peers == nil {
		return errors.New("no peers: the orchestrator needs the other daemons' addresses")
	}
	p := (&orchestrator.Remote{
		Discovery: peers(settings.Discovery), Setup: peers(settings.Setup), Compilation: peers(settings.Compilation),
	}).Pipeline()
	if wt, err := change.New(filepath.Join(d.CacheDir(), "watch")); err != nil {
		d.Logger().Warn("no file watcher: every build will call the other daemons", "err", err)
	} else {
		p.Watch = wt
		d.OnShutdown("stop the file watcher", func(context.Context) error { wt.Close(); return nil })
	}
	if err := d.AddCounter("jmake_watched_noops_total",
		"No-op builds answered from the file watch, without calling the other daemons.",
		func() float64 { return float64(p.WatchedNoops()) }); err != nil {
		return err
	}
	if err := d.AddCounter("jmake_watched_scopes_total",
		"Builds that skipped discovery and setup because the file watch saw only file contents change.",
		func() float64 { return float64(p.WatchedScopes()) }); err != nil {
		return err
	}
	history := d.Cache("history")
	build := func(ctx context.Context, req *daemon.Request, br orchestrator.BuildRequest) (any, error) {
		res, err := p.Build(ctx, br, func(ev orchestrator.Event) { req.Progress(ev) })
		if err != nil {
			// The client shows a line for people (BuildResult.Failure);
			// the log keeps the whole error, with each stage's part.
			d.Logger().Info("build failed", "path", br.Path, "err", err)
		}
		recordBuild(history, res, err)
		return buildReply(res, err)
	}
	var calls fastCalls
	bind := func(name string, adjust func(*orchestrator.BuildRequest)) {
		d.Handle(name, func(ctx context.Context, req *daemon.Request) (any, error) {
			var br orchestrator.BuildRequest
			if err := decodePath(req, &br, &br.Path); err != nil {
				return nil, err
			}
			if adjust != nil {
				adjust(&br)
			}
			reply, err := build(ctx, req, br)
			if err == nil && name == "build_project" {
				calls.remember(req.Args, br)
			}
			return reply, err
		})
	}
	bind("build_project", nil)
	// The thin client's no-op build, answered before net/http reads it:
	// the build these exact arguments asked for last time, if the watch
	// proves that nothing it read changed since.
	if err := d.HandleFast("build_project", func(args []byte, reply func(any)) bool {
		br, ok := calls.lookup(args)
		if !ok {
			return false
		}
		res, ok := p.Noop(br)
		if !ok {
			return false
		}
		reply(res)
		recordBuild(history, res, nil)
		return true
	}); err != nil {
		return err
	}
	bind("incremental_build", nil)
	bind("quick_compile", func(br *orchestrator.BuildRequest) { br.Quick = true })
	bind("clean_build", func(br *orchestrator.BuildRequest) { br.ForceCompile = true })
	d.Handle("watch_and_build", func(ctx context.Context, req *daemon.Request) (any, error) {
		var br orchestrator.BuildRequest
		if err := decodePath(req, &br, &br.Path); err != nil {
			return nil, err
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-d.Stopping():
				cancel()
			case <-ctx.Done():
			}
		}()
		builds, err := orchestrator.Watch(ctx, p, br, func(ev orchestrator.Event) { req.Progress(ev) })
		if err != nil && ctx.Err() == nil {
			return nil, daemon.Errorf(400, "watch_and_build: %v", err)
		}
		return map[string]any{"builds": builds}, nil
	})
	d.Handle("check_daemons", func(ctx context.Context, req *daemon.Request) (any, error) {
		out := map[string]any{}
		all := true
		for _, n := range settings.Names() {
			if n == settings.Orchestrator {
				out[n] = map[string]any{"status": "ok"}
				continue
			}
			hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			h, err := peers(n).Health(hctx)
			cancel()
			if err != nil {
				all = false
				out[n] = map[string]any{"status": "down", "error": err.Error()}
				continue
			}
			out[n] = h
		}
		return map[string]any{"daemons": out, "all_healthy": all}, nil
	})
	d.Handle("get_stats", func(ctx context.Context, req *daemon.Request) (any, error) {
		out := map[string]any{}
		var hits, misses, requests int64
		for _, n := range settings.Names() {
			var st any
			if n == settings.Orchestrator {
				s := d.Stats()
				hits, misses, requests = hits+s.CacheHits, misses+s.CacheMisses, requests+s.Requests
				st = s
			} else {
				s, err := peers(n).Stats(ctx)
				if err != nil {
					out[n] = map[string]any{"error": err.Error()}
					continue
				}
				hits, misses, requests = hits+s.CacheHits, misses+s.CacheMisses, requests+s.Requests
				st = s
			}
			out[n] = st
		}
		rate := 0.0
		if hits+misses > 0 {
			rate = float64(hits) / float64(hits+misses)
		}
		var last []BuildRecord
		history.Range(func(k string, v []byte) bool {
			var h BuildRecord
			if json.Unmarshal(v, &h) == nil {
				last = append(last, h)
			}
			return true
		})
		return map[string]any{"daemons": out, "requests": requests, "cache_hits": hits, "cache_misses": misses,
			"cache_hit_rate": rate, "builds": last}, nil
	})
	return nil
}

// fastCalls remembers the arguments of the build calls that succeeded,
// as the bytes their caller sent, with the request they decoded to. The
// thin client words a request the same way every time, so the same bytes
// ask for the same build again, and the fast lane answers them without
// decoding anything.
type fastCalls struct {
	mu   sync.Mutex
	reqs map[string]orchestrator.BuildRequest
}

// maxFastCalls bounds the arguments remembered: a developer builds a few
// projects with a few selections; past the bound all are forgotten, and
// the next call of each is decoded again.
const maxFastCalls = 64

func (f *fastCalls) remember(args []byte, br orchestrator.BuildRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, known := f.reqs[string(args)]; !known && len(f.reqs) >= maxFastCalls || f.reqs == nil {
		f.reqs = make(map[string]orchestrator.BuildRequest)
	}
	f.reqs[string(args)] = br
}

func (f *fastCalls) lookup(args []byte) (orchestrator.BuildRequest, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	br, ok := f.reqs[string(args)]
	return br, ok
}

// buildReply turns a pipeline outcome into a wire reply: a failed build
// still carries its result (diagnostics, counts), and a daemon that is down
// is a 503 that names it.
func buildReply(res *orchestrator.BuildResult, err error) (any, error) {
	if err == nil {
		return res, nil
	}
	var down *client.DownError
	if errors.As(err, &down) {
		return nil, daemon.Errorf(503, "orchestrator: %v", err)
	}
	var be *orchestrator.BuildError
	if errors.As(err, &be) && be.Result != nil {
		return nil, &daemon.Failure{Err: err, Reply: be.Result}
	}
	return nil, err
}

// recordBuild keeps res as its project's last build; a path that was no
// project (no stage ran) is not one.
func recordBuild(history *store.Map, res *orchestrator.BuildResult, err error) {
	if res == nil || len(res.Stages) == 0 {
		return
	}
	h := BuildRecord{Path: res.Path, Time: time.Now().UTC(), Success: err == nil, Units: res.Units,
		Compiled: res.Compiled, Cached: res.Cached, ElapsedSeconds: res.ElapsedSeconds}
	b, _ := json.Marshal(h)
	history.Put(res.Path, b)
}
