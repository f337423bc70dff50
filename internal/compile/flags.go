package compile

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jmake/jmake/internal/project"
	"github.com/jmake/jmake/internal/toolenv"
)

// Default compilers, tried in order on PATH when jmake.toml names none.
var (
	defaultCCompilers   = []string{"cc", "gcc", "clang"}
	defaultCXXCompilers = []string{"c++", "g++", "clang++"}
)

// toolchain is how one language's units are compiled in this build.
type toolchain struct {
	cxx   bool
	comp  compiler
	flags []string // the flags before "-c <unit>"; part of every key
	// run is flags plus what is passed to the compiler but kept out of
	// keys because it only removes the checkout path from the output
	// (-fdebug-prefix-map=<root>=.).
	run []string
	// vars are the caller's variables the compiler reads itself
	// (toolenv.Env.ToolVars: CPATH and the like); part of every key,
	// with flags.
	vars   []string
	cmdKey Hash // hash of flags and vars: "flags changed" when it differs
	// color is the option asking for coloured diagnostics when the
	// caller's terminal shows them, else "". Only the compiler sees it:
	// it is in no key and not in compile_commands.json.
	color string
}

// newToolchain resolves the compiler for C (cxx false) or C++ and renders
// the flags of its units. The compiler is jmake.toml's, else the caller's
// CC or CXX, else the first default found on the caller's PATH; the
// caller's flags variables come first, so jmake.toml's win.
func (e *Engine) newToolchain(ctx context.Context, root string, cfg *project.Config, env toolenv.Env, cxx bool, unit string) (*toolchain, error) {
	names := defaultCCompilers
	configured := cfg.Compile.Compiler
	if cxx {
		names, configured = defaultCXXCompilers, cfg.Compile.CXXCompiler
	}
	var (
		comp  compiler
		err   error
		flags []string
		from  = "[compile] " + compilerKey(cxx)
	)
	if words := env.Compiler(cxx); configured == "" && len(words) > 0 {
		configured, flags, from = words[0], words[1:], envName(cxx)
	}
	flags = append(flags, env.CompileFlags(cxx)...)
	if configured != "" {
		if strings.ContainsRune(configured, '/') {
			// A path names a file relative to the project root, where
			// the compiler runs.
			configured = absPath(root, configured)
		}
		if _, lerr := env.LookPath(configured); lerr != nil {
			return nil, &ToolError{Msg: fmt.Sprintf("%s compiler %q (%s) not found on PATH; set %s to one that is", lang(cxx), configured, from, from)}
		}
		comp, err = e.resolveTool(ctx, env, configured, true)
	} else {
		err = &ToolError{Msg: fmt.Sprintf("no %s compiler found on PATH (tried %s); set %s or [compile] %s",
			lang(cxx), strings.Join(names, ", "), envName(cxx), compilerKey(cxx))}
		for _, n := range names {
			if p, lerr := env.LookPath(n); lerr == nil {
				comp, err = e.toolAt(ctx, env, n, p, true)
				break
			}
		}
	}
	if err != nil {
		return nil, err
	}
	tc := &toolchain{cxx: cxx, comp: comp, flags: append(flags, unitFlags(cfg, unit)...), vars: env.ToolVars()}
	tc.run = tc.flags
	if hasDebugInfo(tc.flags) {
		tc.run = append(slices.Clip(tc.run), "-fdebug-prefix-map="+root+"=.")
	}
	if gccLike(comp) && !slices.Contains(tc.flags, "-pipe") {
		// Pipes between the compiler's passes instead of temp files:
		// the same object, ~12% less time per unit here (gcc 12, one
		// generated unit: 35.5 -> 31.1 ms), so out of the keys.
		tc.run = append(slices.Clip(tc.run), "-pipe")
	}
	k := newKeyHasher("cmd")
	k.strs(tc.flags)
	tc.hashVars(k)
	tc.cmdKey = k.sum()
	return tc, nil
}

// hashVars adds the caller's compiler variables to a key; nothing when
// there are none, so that the keys of a build without them stay as they
// were before variables were keyed.
func (tc *toolchain) hashVars(k *keyHasher) {
	if len(tc.vars) > 0 {
		k.str("\x00vars")
		k.strs(tc.vars)
	}
}

// gccLike reports whether a compiler is GCC or Clang, which both take
// GCC's driver options.
func gccLike(c compiler) bool { return c.gccLike }

// isGCCLike reports whether a compiler's --version output is GCC's or
// Clang's. All of it is read: `cc --version` of Debian's GCC names GCC
// only in its copyright line, not in the first.
func isGCCLike(version string) bool {
	d := strings.ToLower(version)
	return strings.Contains(d, "gcc") || strings.Contains(d, "clang") || strings.Contains(d, "g++") ||
		strings.Contains(d, "free software foundation")
}

func lang(cxx bool) string {
	if cxx {
		return "C++"
	}
	return "C"
}

// ToolError is a compiler that the project or the caller's environment
// names and that cannot be found: the caller's to fix, not a failed build.
type ToolError struct{ Msg string }

func (e *ToolError) Error() string { return e.Msg }

// envName is the environment variable that names the compiler.
func envName(cxx bool) string {
	if cxx {
		return "CXX"
	}
	return "CC"
}

func compilerKey(cxx bool) string {
	if cxx {
		return "cxx_compiler"
	}
	return "compiler"
}

// unitFlags renders the compile flags of unit. They come from
// project.FlagsFor with an empty root, so include directories stay relative
// to the project root (the compiler runs there) and no key depends on where
// the checkout is. FlagsFor depends on the unit only through its language,
// so a build computes them once per language, not once per unit. Shared
// libraries need position-independent code: -fPIC is added unless the
// flags already ask for it.
func unitFlags(cfg *project.Config, unit string) []string {
	flags := cfg.FlagsFor("", unit)
	if cfg.Binary.LibraryType == project.Shared && !slices.Contains(flags, "-fPIC") && !slices.Contains(flags, "-fpic") {
		flags = append(flags, "-fPIC")
	}
	return flags
}

// hasDebugInfo reports whether flags ask for debug information, which
// records the compiler's working directory unless it is remapped.
func hasDebugInfo(flags []string) bool {
	debug := false
	for _, f := range flags {
		switch {
		case f == "-g0":
			debug = false
		case strings.HasPrefix(f, "-g"):
			debug = true
		}
	}
	return debug
}

// isCXX reports whether unit is compiled as C++.
func isCXX(unit string) bool { return project.IsCXXSource(unit) }
