package compile

// Choosing the linker.
//
// The compiler driver links with the linker its -fuse-ld= names (ld.<name>
// on its program path or PATH), else with its default, GNU ld (bfd) on
// most Linux systems. Linkers differ a lot in speed on many inputs; on the
// 10,000-object shared library of bench/gen_project.py this machine (2
// cores) measured (docs/benchmarks.md; gcc -shared -fuse-ld=X, medians of
// 5) lld 0.37 s, gold 0.65 s, mold 1.43 s, GNU ld 2.69 s, and the same
// order under heavy load (0.7, 1.4, 3.1, 8.4 s): whence linkerOrder. An
// output linked from link groups relinks far fewer inputs, and there gold
// comes first (groupedLinkerOrder).
// Every linker here gives a library the same defined dynamic symbols
// (linker_test.go; gold also exports __bss_start, _edata and _end), so a
// build uses the fastest one the driver accepts unless the project or the
// caller chooses:
//
//   - a -fuse-ld= among the link flags ([compile] link_flags, LDFLAGS)
//     is the caller's choice and is left alone;
//   - [compile] linker = "bfd" | "gold" | "lld" | "mold" asks for one (an
//     error names it if the driver cannot use it), "default" for the
//     driver's own choice without -fuse-ld=, "auto" (or nothing) for the
//     fastest usable.
//
// GCC's LTO objects hold GIMPLE, which only a linker that loads GCC's
// linker plugin can link: bfd, gold and mold do, lld does not (it fails
// with "undefined symbol" for everything in them). So "auto" passes lld
// over for a GCC LTO link.
//
// Whether the driver can use a linker is learnt by a probe: a link of an
// empty C file into a shared object with -fuse-ld=<name>. Its answer is
// remembered per driver identity and linker binary (path and stat), as
// tool identities are, so a build runs no probe once the linkers are
// known. The linker's identity (its --version) goes into the link's key:
// another linker, or another version of it, relinks.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/jmake/jmake/internal/toolenv"
)

// linkerOrder is the order "auto" tries the linkers in when the output is
// linked from its units' objects: fastest first, as measured (see the top
// of this file).
var linkerOrder = []string{"lld", "gold", "mold", "bfd"}

// groupedLinkerOrder is the order when the output is linked from link
// groups (group.go), as shared libraries and programs of many units are by
// default. Then an edit relinks one group (a -r link of a few dozen
// objects) and the output from a few dozen group objects, and there gold
// is the faster: an edit of one .c of bench/gen_project.py's project, 5
// interleaved runs, medians on 2 cores, took at N=1000 gold 88 ms, lld
// 112 ms, GNU ld 98 ms, and at N=10,000 gold 245 ms, lld 298 ms, mold
// 299 ms, GNU ld 347 ms (docs/benchmarks.md).
var groupedLinkerOrder = []string{"gold", "lld", "mold", "bfd"}

// autoLinkerOrder is the order "auto" tries for b's link.
func (b *build) autoLinkerOrder() []string {
	if b.groupable() {
		return groupedLinkerOrder
	}
	return linkerOrder
}

// linkerChoice is the linker a link uses.
type linkerChoice struct {
	// name is "bfd", "gold", "lld" or "mold", what -fuse-ld= names;
	// "default" when the driver chooses; for a -fuse-ld= of the link
	// flags, what it says.
	name string
	flag string   // "-fuse-ld=<name>" to add to the link, "" if none
	tool compiler // ld.<name>'s identity; zero for "default" and flags
}

// String is the linker's name and version for --explain.
func (l linkerChoice) String() string {
	if l.tool.desc != "" {
		return l.name + " (" + l.tool.desc + ")"
	}
	return l.name
}

// linkerProbe is a remembered probe: whether driver (by identity) can link
// with the linker at path while the linker keeps its stat.
type linkerProbe struct {
	st  fileStat
	err error // nil: usable
}

// fuseLdFlag returns the value of the last -fuse-ld= among flags.
func fuseLdFlag(flags ...[]string) (string, bool) {
	val, ok := "", false
	for _, fs := range flags {
		for _, f := range fs {
			if v, found := strings.CutPrefix(f, "-fuse-ld="); found {
				val, ok = v, true
			}
		}
	}
	return val, ok
}

// chooseLinker decides the linker of b's link (see the top of this file).
func (b *build) chooseLinker() (linkerChoice, error) {
	if v, ok := fuseLdFlag(b.req.Env.LinkFlags(), b.cfg.Compile.LinkFlags); ok {
		return linkerChoice{name: v}, nil
	}
	want := b.cfg.Compile.Linker
	switch want {
	case "default":
		return linkerChoice{name: "default"}, nil
	case "", "auto":
		var whys []string
		for _, name := range b.autoLinkerOrder() {
			if name == "lld" && b.gccLTO() {
				whys = append(whys, "linker lld: cannot link GCC's LTO objects")
				continue
			}
			l, err := b.e.usableLinker(b.ctx, b.req.Env, b.linker.comp, name)
			if err == nil {
				return l, nil
			}
			whys = append(whys, err.Error())
		}
		b.e.log.Debug("no linker usable through -fuse-ld=; using the driver's default", "driver", b.linker.comp.path, "why", strings.Join(whys, "; "))
		return linkerChoice{name: "default"}, nil
	}
	l, err := b.e.usableLinker(b.ctx, b.req.Env, b.linker.comp, want)
	if err != nil {
		return linkerChoice{}, &ToolError{Msg: fmt.Sprintf("[compile] linker = %q (%s): %v", want, filepath.Join(b.root, "jmake.toml"), err)}
	}
	return l, nil
}

// gccLTO reports whether b links GCC LTO objects: LTO is on (lto = true
// or an -flto among the flags) and the driver is not Clang.
func (b *build) gccLTO() bool {
	if strings.Contains(strings.ToLower(b.linker.comp.desc), "clang") {
		return false
	}
	if b.cfg.Target.LTO {
		return true
	}
	env := b.req.Env
	for _, flags := range [][]string{b.cfg.Compile.Flags, b.cfg.Compile.CFlags, b.cfg.Compile.CXXFlags, b.cfg.Compile.LinkFlags,
		env.LinkFlags(), env.CompileFlags(false), env.CompileFlags(true)} {
		for _, f := range flags {
			if strings.HasPrefix(f, "-flto") {
				return true
			}
		}
	}
	return false
}

// usableLinker returns the linker name if driver can link with it, probing
// once per driver identity and linker binary.
func (e *Engine) usableLinker(ctx context.Context, env toolenv.Env, driver compiler, name string) (linkerChoice, error) {
	bin := "ld." + name
	tool, err := e.resolveTool(ctx, env, bin, false)
	if err != nil {
		return linkerChoice{}, fmt.Errorf("linker %s: %s not found on PATH", name, bin)
	}
	st, err := statPath(tool.path)
	if err != nil {
		return linkerChoice{}, fmt.Errorf("linker %s: stat %s: %w", name, tool.path, err)
	}
	memoKey := driver.id.String() + "\x00" + tool.path
	e.mu.Lock()
	p, ok := e.linkers[memoKey]
	e.mu.Unlock()
	if !ok || p.st != st {
		p = linkerProbe{st: st, err: probeLinker(ctx, env, driver, name)}
		if ctx.Err() != nil {
			return linkerChoice{}, ctx.Err() // cancelled: learnt nothing
		}
		e.linkerProbes.Add(1)
		e.mu.Lock()
		e.linkers[memoKey] = p
		e.mu.Unlock()
		e.log.Debug("linker probed", "driver", driver.path, "linker", tool.path, "err", p.err)
	}
	if p.err != nil {
		return linkerChoice{}, p.err
	}
	return linkerChoice{name: name, flag: "-fuse-ld=" + name, tool: tool}, nil
}

// probeLinker links an empty C file into a shared object with driver and
// -fuse-ld=name, in a temp dir it removes.
func probeLinker(ctx context.Context, env toolenv.Env, driver compiler, name string) error {
	ctx, cancel := context.WithTimeout(ctx, identifyTimeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "jmake-linker-probe-*")
	if err != nil {
		return fmt.Errorf("linker %s: probe: %w", name, err)
	}
	defer os.RemoveAll(dir)
	cmd := exec.CommandContext(ctx, driver.path, "-fuse-ld="+name, "-shared", "-nostdlib",
		"-o", filepath.Join(dir, "probe.so"), "-x", "c", os.DevNull)
	cmd.Env = env.Environ()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("linker %s: %s -fuse-ld=%s cannot link: %w: %s", name, driver.path, name, err, strings.TrimSpace(string(out)))
	}
	return nil
}
