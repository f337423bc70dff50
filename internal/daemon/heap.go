package daemon

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"

	"github.com/jmake/jmake/internal/atomicfile"
)

// HeapProfile is the reply of the heap_profile function.
type HeapProfile struct {
	Path string `json:"path"` // the pprof heap profile: go tool pprof -sample_index=inuse_space <path>
	// HeapAllocBefore and HeapAlloc are the heap's bytes in use before and
	// after the collection the function runs first; HeapSys is what the
	// runtime holds from the system, the most of the daemon's RSS.
	HeapAllocBefore uint64 `json:"heap_alloc_before"`
	HeapAlloc       uint64 `json:"heap_alloc"`
	HeapSys         uint64 `json:"heap_sys"`
}

// heapProfile collects the garbage, then writes the heap profile to
// <state dir>/debug/<daemon>.heap.pprof (atomically) and says where: a
// way to see where a daemon's memory goes without a profiling endpoint
// (the call needs the token, as every call does).
func (d *Daemon) heapProfile(context.Context, *Request) (any, error) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	runtime.GC()
	runtime.ReadMemStats(&after)
	var buf bytes.Buffer
	if err := pprof.Lookup("heap").WriteTo(&buf, 0); err != nil {
		return nil, fmt.Errorf("%s: heap profile: %w", d.opts.Name, err)
	}
	dir := filepath.Join(d.opts.StateDir, "debug")
	if d.opts.StateDir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%s: heap profile: %w", d.opts.Name, err)
	}
	path := filepath.Join(dir, d.opts.Name+".heap.pprof")
	if err := atomicfile.Write(path, buf.Bytes(), 0o600); err != nil {
		return nil, fmt.Errorf("%s: heap profile: %w", d.opts.Name, err)
	}
	return HeapProfile{Path: path, HeapAllocBefore: before.HeapAlloc, HeapAlloc: after.HeapAlloc, HeapSys: after.HeapSys}, nil
}
