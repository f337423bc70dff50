package daemon

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmake/jmake/internal/store"
)

// A daemon's /metrics, in the Prometheus text exposition format (0.0.4),
// written here rather than with client_golang: the daemons and the CLI are
// one binary, and client_golang with the protobuf packages it pulls in
// cost every start of it, every `jmake build` among them, 0.8-0.9 ms of
// package initialisation (GODEBUG=inittrace=1; `jmake --version`: 3.0 ms
// with it, 2.2 ms without), a quarter of a no-op build. What a daemon
// exports is a few counters, gauges and one histogram; promtool checks the
// output in the tests.

func pid() int { return os.Getpid() }

// durationBuckets are the upper bounds of jmake_request_duration_seconds:
// from a no-op answer (~100µs) to a cold build of a large project
// (minutes), times 4 each.
var durationBuckets = func() []float64 {
	b := make([]float64, 12)
	for i, v := 0, 0.0001; i < len(b); i, v = i+1, v*4 {
		b[i] = v
	}
	return b
}()

// metrics is one daemon's metrics; several daemons can live in one
// process (tests) without sharing any.
type metrics struct {
	d     *Daemon
	label string // `daemon="<name>"`

	mu        sync.Mutex
	requests  map[[2]string]uint64 // function, status -> calls
	durations map[string]*histogram
	funcs     []funcMetric // read at each scrape
}

type histogram struct {
	counts []uint64 // per bucket of durationBuckets, not cumulative
	count  uint64
	sum    float64
}

// funcMetric is a counter or gauge whose value a function gives.
type funcMetric struct {
	name, help, kind string
	value            func() float64
}

func newMetrics(d *Daemon) *metrics {
	m := &metrics{
		d:         d,
		label:     `daemon=` + quoteLabel(d.opts.Name),
		requests:  make(map[[2]string]uint64),
		durations: make(map[string]*histogram),
	}
	m.funcs = []funcMetric{
		{"jmake_uptime_seconds", "Seconds since the daemon started.", "gauge",
			func() float64 { return time.Since(d.start).Seconds() }},
		{"jmake_errors_total", "Function calls that failed (4xx or 5xx).", "counter",
			func() float64 { return float64(d.errors.Load()) }},
	}
	return m
}

// addFunc adds a metric read from value at each scrape; kind is "counter"
// (its name must end in _total) or "gauge".
func (m *metrics) addFunc(name, help, kind string, value func() float64) error {
	if kind != "counter" && kind != "gauge" {
		return fmt.Errorf("metric %s: kind %q is neither counter nor gauge", name, kind)
	}
	if kind == "counter" && !strings.HasSuffix(name, "_total") {
		return fmt.Errorf("metric %s: a counter's name ends in _total", name)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range m.funcs {
		if f.name == name {
			return fmt.Errorf("metric %s registered twice", name)
		}
	}
	m.funcs = append(m.funcs, funcMetric{name, help, kind, value})
	return nil
}

func (m *metrics) observe(function string, status int, took time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[2]string{function, strconv.Itoa(status)}]++
	h := m.durations[function]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(durationBuckets))}
		m.durations[function] = h
	}
	s := took.Seconds()
	if i := sort.SearchFloat64s(durationBuckets, s); i < len(durationBuckets) {
		h.counts[i]++ // the first bound >= s
	}
	h.count++
	h.sum += s
}

func (m *metrics) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write(m.render())
	})
}

// render writes every metric family, each with its HELP and TYPE lines
// and its samples together, labels in name order.
func (m *metrics) render() []byte {
	var b bytes.Buffer
	m.mu.Lock()
	family(&b, "jmake_requests_total", "Function calls served, by function and HTTP status.", "counter")
	for _, k := range slices.SortedFunc(maps.Keys(m.requests), compareKeys) {
		sample(&b, "jmake_requests_total", "code="+quoteLabel(k[1])+","+m.label+",function="+quoteLabel(k[0]), float64(m.requests[k]))
	}
	family(&b, "jmake_request_duration_seconds", "Time to serve a function call.", "histogram")
	for _, fn := range slices.Sorted(maps.Keys(m.durations)) {
		h := m.durations[fn]
		labels := m.label + ",function=" + quoteLabel(fn)
		var cum uint64
		for i, le := range durationBuckets {
			cum += h.counts[i]
			sample(&b, "jmake_request_duration_seconds_bucket", labels+",le="+quoteLabel(formatFloat(le)), float64(cum))
		}
		sample(&b, "jmake_request_duration_seconds_bucket", labels+`,le="+Inf"`, float64(h.count))
		sample(&b, "jmake_request_duration_seconds_sum", labels, h.sum)
		sample(&b, "jmake_request_duration_seconds_count", labels, float64(h.count))
	}
	funcs := slices.Clone(m.funcs)
	m.mu.Unlock()

	for _, f := range funcs {
		family(&b, f.name, f.help, f.kind)
		sample(&b, f.name, m.label, f.value())
	}
	m.renderCaches(&b)
	renderProcess(&b)
	return b.Bytes()
}

// renderCaches writes the caches' sizes and hit counts.
func (m *metrics) renderCaches(b *bytes.Buffer) {
	caches := m.d.cacheList()
	stats := make([]store.Stats, len(caches)) // read once: an object store may count on disk
	for i, cache := range caches {
		stats[i] = cache.Stats()
	}
	for _, c := range []struct {
		name, help, kind string
		value            func(s store.Stats) float64
	}{
		{"jmake_cache_entries", "Entries in a cache.", "gauge", func(s store.Stats) float64 { return float64(s.Entries) }},
		{"jmake_cache_bytes", "Bytes held by a cache.", "gauge", func(s store.Stats) float64 { return float64(s.Bytes) }},
		{"jmake_cache_hits_total", "Cache lookups that hit.", "counter", func(s store.Stats) float64 { return float64(s.Hits) }},
		{"jmake_cache_misses_total", "Cache lookups that missed.", "counter", func(s store.Stats) float64 { return float64(s.Misses) }},
		{"jmake_cache_corrupt_total", "Damaged cache entries or records found, dropped and treated as misses.", "counter", func(s store.Stats) float64 { return float64(s.Corrupt) }},
	} {
		family(b, c.name, c.help, c.kind)
		for i, cache := range caches {
			sample(b, c.name, "cache="+quoteLabel(cache.Name())+","+m.label, c.value(stats[i]))
		}
	}
}

// renderProcess writes the process_ and go_ metrics that client_golang's
// default collectors would, the ones an operator looks at.
func renderProcess(b *bytes.Buffer) {
	if stat, err := os.ReadFile("/proc/self/stat"); err == nil {
		// The fields after the command name (which may hold spaces).
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 21 {
			const ticks = 100 // USER_HZ, what /proc counts in
			utime, _ := strconv.ParseFloat(f[11], 64)
			stime, _ := strconv.ParseFloat(f[12], 64)
			start, _ := strconv.ParseFloat(f[19], 64)
			vsize, _ := strconv.ParseFloat(f[20], 64)
			rss, _ := strconv.ParseFloat(f[21], 64)
			metric(b, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter", (utime+stime)/ticks)
			metric(b, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", vsize)
			metric(b, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", rss*float64(os.Getpagesize()))
			if boot := bootTime(); boot > 0 {
				metric(b, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge", boot+start/ticks)
			}
		}
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		metric(b, "process_open_fds", "Number of open file descriptors.", "gauge", float64(len(fds)))
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	metric(b, "go_goroutines", "Number of goroutines that currently exist.", "gauge", float64(runtime.NumGoroutine()))
	metric(b, "go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and still in use.", "gauge", float64(ms.HeapAlloc))
	metric(b, "go_memstats_sys_bytes", "Number of bytes obtained from system.", "gauge", float64(ms.Sys))
	metric(b, "go_gc_cycles_total", "Number of completed GC cycles.", "counter", float64(ms.NumGC))
	family(b, "go_info", "Information about the Go environment.", "gauge")
	sample(b, "go_info", "version="+quoteLabel(runtime.Version()), 1)
}

// bootTime is the system's boot time in seconds since the epoch (btime in
// /proc/stat), or 0.
var bootTime = sync.OnceValue(func() float64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			t, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return t
		}
	}
	return 0
})

func family(b *bytes.Buffer, name, help, kind string) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, kind)
}

func sample(b *bytes.Buffer, name, labels string, v float64) {
	if labels != "" {
		fmt.Fprintf(b, "%s{%s} %s\n", name, labels, formatFloat(v))
	} else {
		fmt.Fprintf(b, "%s %s\n", name, formatFloat(v))
	}
}

func metric(b *bytes.Buffer, name, help, kind string, v float64) {
	family(b, name, help, kind)
	sample(b, name, "", v)
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// quoteLabel quotes a label value as the text format wants: backslash,
// double quote and newline escaped.
func quoteLabel(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range v {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// compareKeys orders (function, status) pairs.
func compareKeys(a, b [2]string) int {
	if c := strings.Compare(a[0], b[0]); c != 0 {
		return c
	}
	return strings.Compare(a[1], b[1])
}
