package daemon

import (
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func pid() int { return os.Getpid() }

// metrics is a daemon's private Prometheus registry: several daemons can
// live in one process (tests) without colliding on the global one.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(d *Daemon) *metrics {
	labels := prometheus.Labels{"daemon": d.opts.Name}
	reg := prometheus.NewRegistry()
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jmake_requests_total", Help: "Function calls served, by function and HTTP status.", ConstLabels: labels,
		}, []string{"function", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "jmake_request_duration_seconds", Help: "Time to serve a function call.", ConstLabels: labels,
			// From a no-op answer (~100µs) to a cold build of a large project (minutes).
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 12),
		}, []string{"function"}),
	}
	reg.MustRegister(m.requests, m.duration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jmake_uptime_seconds", Help: "Seconds since the daemon started.", ConstLabels: labels,
		}, func() float64 { return time.Since(d.start).Seconds() }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "jmake_errors_total", Help: "Function calls that failed (4xx or 5xx).", ConstLabels: labels,
		}, func() float64 { return float64(d.errors.Load()) }),
		&cacheCollector{d: d, labels: labels},
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *metrics) observe(function string, status int, took time.Duration) {
	m.requests.WithLabelValues(function, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(function).Observe(took.Seconds())
}

// cacheCollector reads the caches' sizes and hit counts at scrape time.
type cacheCollector struct {
	d      *Daemon
	labels prometheus.Labels
}

var (
	cacheEntriesDesc = func(l prometheus.Labels) *prometheus.Desc {
		return prometheus.NewDesc("jmake_cache_entries", "Entries in a cache.", []string{"cache"}, l)
	}
	cacheBytesDesc = func(l prometheus.Labels) *prometheus.Desc {
		return prometheus.NewDesc("jmake_cache_bytes", "Bytes held by a cache.", []string{"cache"}, l)
	}
	cacheHitsDesc = func(l prometheus.Labels) *prometheus.Desc {
		return prometheus.NewDesc("jmake_cache_hits_total", "Cache lookups that hit.", []string{"cache"}, l)
	}
	cacheMissesDesc = func(l prometheus.Labels) *prometheus.Desc {
		return prometheus.NewDesc("jmake_cache_misses_total", "Cache lookups that missed.", []string{"cache"}, l)
	}
)

func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- cacheEntriesDesc(c.labels)
	ch <- cacheBytesDesc(c.labels)
	ch <- cacheHitsDesc(c.labels)
	ch <- cacheMissesDesc(c.labels)
}

func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	for _, cache := range c.d.cacheList() {
		s := cache.Stats()
		n := cache.Name()
		ch <- prometheus.MustNewConstMetric(cacheEntriesDesc(c.labels), prometheus.GaugeValue, float64(s.Entries), n)
		ch <- prometheus.MustNewConstMetric(cacheBytesDesc(c.labels), prometheus.GaugeValue, float64(s.Bytes), n)
		ch <- prometheus.MustNewConstMetric(cacheHitsDesc(c.labels), prometheus.CounterValue, float64(s.Hits), n)
		ch <- prometheus.MustNewConstMetric(cacheMissesDesc(c.labels), prometheus.CounterValue, float64(s.Misses), n)
	}
}
