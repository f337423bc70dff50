// Package wire holds the shapes of the daemons' HTTP replies that both
// sides decode: the daemon renders them, the client (and the supervisor,
// and the CLI) reads them. One definition keeps the two from drifting.
package wire

import (
	"encoding/json"
	"net/http"
	"time"
)

// Health is the /healthz reply.
type Health struct {
	Status        string  `json:"status"` // "ok", or "stopping" once the daemon drains
	Name          string  `json:"name"`
	PID           int     `json:"pid"`
	Version       string  `json:"version"`
	UptimeSeconds float64 `json:"uptime_seconds"`
	// StateDir and StateID (daemon.StateID, a hash of the token) say whose
	// daemon this is, so a starter can tell its own daemons from another
	// state dir's.
	StateDir string `json:"state_dir,omitempty"`
	StateID  string `json:"state_id,omitempty"`
}

// Stats is the /v1/stats reply.
type Stats struct {
	Name          string                `json:"name"`
	PID           int                   `json:"pid"`
	StartTime     time.Time             `json:"start_time"`
	UptimeSeconds float64               `json:"uptime_seconds"`
	Requests      int64                 `json:"requests"`
	CacheHits     int64                 `json:"cache_hits"`
	CacheMisses   int64                 `json:"cache_misses"`
	CacheCorrupt  int64                 `json:"cache_corrupt"` // damaged entries found, over all caches
	Errors        int64                 `json:"errors"`
	CacheHitRate  float64               `json:"cache_hit_rate"`
	ErrorRate     float64               `json:"error_rate"`
	Caches        map[string]CacheStats `json:"caches"`
	// Counters are the daemon's own work counts (its jmake_*_total
	// metrics without prefix and suffix): the compilation daemon's
	// watched_noops and watched_partial, say.
	Counters map[string]int64 `json:"counters,omitempty"`
}

// CacheStats is one cache's line in Stats.
type CacheStats struct {
	Entries int   `json:"entries"`
	Bytes   int64 `json:"bytes"`
	Hits    int64 `json:"hits"`
	Misses  int64 `json:"misses"`
	Corrupt int64 `json:"corrupt"` // damaged entries or records found and dropped
}

// WriteJSON writes v as a JSON reply with status, one line.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// WriteError writes the one error shape of the wire:
// {"success": false, "error": msg}.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, map[string]any{"success": false, "error": msg})
}
