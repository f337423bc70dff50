package daemon

import (
	"context"
	"time"

	"github.com/jmake/jmake/internal/wire"
)

// Stats is the /v1/stats reply.
type Stats = wire.Stats

func (d *Daemon) cacheList() []Cache {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Cache(nil), d.caches...)
}

func (d *Daemon) counterList() []counter {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]counter(nil), d.counters...)
}

func (d *Daemon) stats() Stats {
	s := Stats{
		Name:          d.opts.Name,
		PID:           pid(),
		StartTime:     d.start.UTC(),
		UptimeSeconds: time.Since(d.start).Seconds(),
		Requests:      d.requests.Load(),
		Errors:        d.errors.Load(),
		Caches:        make(map[string]wire.CacheStats),
	}
	for _, c := range d.cacheList() {
		cs := c.Stats()
		s.Caches[c.Name()] = wire.CacheStats(cs)
		s.CacheHits += cs.Hits
		s.CacheMisses += cs.Misses
		s.CacheCorrupt += cs.Corrupt
	}
	for _, c := range d.counterList() {
		if s.Counters == nil {
			s.Counters = make(map[string]int64)
		}
		s.Counters[c.name] = int64(c.value())
	}
	if n := s.CacheHits + s.CacheMisses; n > 0 {
		s.CacheHitRate = float64(s.CacheHits) / float64(n)
	}
	if s.Requests > 0 {
		s.ErrorRate = float64(s.Errors) / float64(s.Requests)
	}
	return s
}

// Stats returns the daemon's statistics, as /v1/stats does.
func (d *Daemon) Stats() Stats { return d.stats() }

func (d *Daemon) cacheStats(ctx context.Context, req *Request) (any, error) {
	st := d.stats()
	return map[string]any{"caches": st.Caches, "cache_hits": st.CacheHits, "cache_misses": st.CacheMisses,
		"cache_hit_rate": st.CacheHitRate}, nil
}

func (d *Daemon) clearCaches(ctx context.Context, req *Request) (any, error) {
	cleared := []string{}
	for _, c := range d.cacheList() {
		if err := c.Clear(); err != nil {
			return nil, err
		}
		cleared = append(cleared, c.Name())
	}
	d.log.Info("cache: caches cleared")
	return map[string]any{"cleared": cleared}, nil
}
