package compile

import (
	"os"
	"runtime"
	"sync"
)

// While compilers run, the daemon leaves the machine's cores to them.
//
// Between two compiles the engine's own work is short and serial (read a
// depfile, stat headers, store an object), yet with one P per core the Go
// scheduler keeps threads spinning for work at every wakeup, and each wait
// for a compiler hands its P to another thread. During a 1002-unit rebuild
// on 2 cores that was 1.4–1.8 s of the daemon's CPU and 52–57k context
// switches, all taken from the compilers; with one P it is 0.4–1.0 s and
// 18–23k. So a build that starts a compiler runs on one P until it ends.
// Builds that only restore from the cache (a clean tree) hash in parallel
// and keep every P. An explicit GOMAXPROCS in the environment is obeyed.

// coreYield counts the builds running compilers; the first sets GOMAXPROCS
// to 1 and the last restores the default. There is one, as there is one
// GOMAXPROCS per process, whatever the number of engines.
var cores coreYield

type coreYield struct {
	mu      sync.Mutex
	running int
}

// explicitProcs is set when the environment fixes GOMAXPROCS.
var explicitProcs = os.Getenv("GOMAXPROCS") != ""

// yield leaves the cores to compilers until release is called; yielded
// is false when the environment fixes GOMAXPROCS.
func (c *coreYield) yield() (release func(), yielded bool) {
	if explicitProcs {
		return func() {}, false
	}
	c.mu.Lock()
	c.running++
	if c.running == 1 {
		runtime.GOMAXPROCS(1)
	}
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			c.running--
			if c.running == 0 {
				runtime.SetDefaultGOMAXPROCS()
			}
			c.mu.Unlock()
		})
	}, true
}

// yieldCores is called before each compile; the build's first call yields
// the cores, and the build's end (releaseCores) gives them back.
func (b *build) yieldCores() {
	b.coresOnce.Do(func() {
		var yielded bool
		if b.releaseCores, yielded = cores.yield(); yielded {
			b.e.coreYields.Add(1)
		}
	})
}
