package compile

import (
	"context"
	"os"
	"strconv"
	"testing"
)

// benchUnits is the project size of the build benchmarks: 1000 units as in
// shared/bench (JMAKE_BENCH_UNITS overrides it for quicker runs).
func benchUnits(b *testing.B) int {
	if s := os.Getenv("JMAKE_BENCH_UNITS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("JMAKE_BENCH_UNITS=%q: %v", s, err)
		}
		return n
	}
	return 1000
}

// BenchmarkNoopBuild measures a build in which nothing changed, of a
// generated project of 1000 units (2000-odd files), after one warm build:
// what `jmake build` costs the daemon when there is nothing to do.
func BenchmarkNoopBuild(b *testing.B) {
	te, req := builtBenchProject(b)
	ctx := context.Background()
	// A second build settles hashes that were racy (taken within
	// change.RacyWindow of the files' generation).
	if _, err := te.e.Build(ctx, req, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := te.e.Build(ctx, req, nil)
		if err != nil {
			b.Fatal(err)
		}
		if res.Compiled+res.Cached != 0 || res.Linked {
			b.Fatalf("not a no-op: %+v", res)
		}
	}
}

// BenchmarkCleanFromCache measures `jmake build --clean` with a warm object
// cache: the build directory is moved aside and every object and link group
// is restored from the cache (over the old object files), then the output
// linked.
func BenchmarkCleanFromCache(b *testing.B) {
	te, req := builtBenchProject(b)
	ctx := context.Background()
	req.Clean = true
	for b.Loop() {
		res, err := te.e.Build(ctx, req, nil)
		if err != nil {
			b.Fatal(err)
		}
		if res.Compiled != 0 || res.Cached != res.Units {
			b.Fatalf("not all from the cache: %+v", res)
		}
	}
}

// builtBenchProject generates a project of benchUnits units and builds it
// once, returning the engine and the request that built it.
func builtBenchProject(b *testing.B) (*testEnv, Request) {
	root := b.TempDir()
	genProject(b, root, benchUnits(b))
	te := newEnv(b, 0)
	cfg := mustLoad(b, root)
	req := Request{Root: root, Config: cfg, Sources: sources(b, root, cfg)}
	if _, err := te.e.Build(context.Background(), req, nil); err != nil {
		b.Fatal(err)
	}
	return te, req
}
