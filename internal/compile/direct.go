package compile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmake/jmake/internal/proc"
)

// Linking without the driver.
//
// A link through GCC's driver (`cc -shared -o lib.so a.o b.o`) runs three
// programs: the driver, which works out the linker's command line (start
// files, library directories, default libraries); collect2, which picks
// the linker (-fuse-ld) and runs LTO when objects need it; and the linker.
// The first two cost about 3 ms a link here, a tenth of what an edit of
// one source costs at N=1000 beyond its compile: the partial link of its
// group and the output's link each pay them. Links of one shape (the same
// driver, settings and environment; only the inputs and the output differ)
// get the same linker command line from the driver, so it is asked for
// once, with -###, and the linker is run directly from then on.
//
// Only once it is proven: the first link of each shape runs through the
// driver as always, then directly into a second temp file, and the direct
// command is used from then on only if the two outputs are equal byte for
// byte. A difference (a driver that does more than collect2 and the
// linker, a linker that writes its output's file name into it), a failure
// or a command line that is not collect2's keeps the shape on the driver
// for the daemon's life. A direct link that fails is run again through the
// driver, so that its diagnostics are the driver's, with collect2's last
// line. LTO links always go through the driver: collect2 runs the LTO
// pass.

// The output and the input that stand for a link's own in the driver's
// command line, so that one -### serves every link of the shape.
const (
	directOut = "jmake-direct-output.tmp"
	directIn  = "jmake-direct-input.o"
)

// Where a shape stands.
const (
	directUnproven int32 = iota // next link through the driver proves it
	directProving               // a link is proving it
	directProven                // run the linker directly
	directRefused               // through the driver
)

// directShape is the linker command of one link shape.
type directShape struct {
	once  sync.Once
	prog  string   // the linker, absolute
	args  []string // its arguments, directOut and directIn in place
	state atomic.Int32
}

// argv is the linker's arguments writing out from objs.
func (d *directShape) argv(out string, objs []string) []string {
	args := make([]string, 0, len(d.args)+len(objs))
	for _, a := range d.args {
		switch a {
		case directOut:
			args = append(args, out)
		case directIn:
			args = append(args, objs...)
		default:
			args = append(args, a)
		}
	}
	return args
}

// linkArgsFunc is a link's driver arguments, writing out from objs.
type linkArgsFunc func(out string, objs []string) []string

// linkInto links objs into dst (see runInto) with tool, the compiler
// driver, given args; directly (see the top of this file) once the link's
// shape is proven. It returns the link's output.
func (b *build) linkInto(tool compiler, dst string, objs []string, args linkArgsFunc) (string, error) {
	shape := b.directShape(tool, args)
	if shape != nil && shape.state.Load() == directProven {
		out, err := b.runInto(compiler{path: shape.prog}, dst, func(tmp string) []string { return shape.argv(tmp, objs) })
		if err == nil {
			b.e.directLinks.Add(1)
			return out, nil
		}
		if b.ctx.Err() != nil {
			return out, err
		}
	}
	out, err := b.runInto(tool, dst, func(tmp string) []string { return args(tmp, objs) })
	if err == nil && shape != nil && shape.state.CompareAndSwap(directUnproven, directProving) {
		shape.state.Store(b.proveDirect(shape, dst, objs))
	}
	return out, err
}

// directShape returns the shape of a link by tool with args, its linker
// command worked out on first use; nil when the link must go through the
// driver.
func (b *build) directShape(tool compiler, args linkArgsFunc) *directShape {
	if !tool.gccLike || b.gccLTO() {
		return nil
	}
	probe := args(directOut, []string{directIn})
	for _, a := range probe {
		if strings.HasPrefix(a, "-flto") || strings.Contains(a, "plugin") || strings.HasPrefix(a, "@") {
			return nil
		}
	}
	k := newKeyHasher("direct-link")
	k.hash(tool.id)
	k.str(tool.path)
	k.str(b.root)
	k.strs(probe)
	k.strs(b.environ)
	v, _ := b.e.directShapes.LoadOrStore(k.sum(), new(directShape))
	shape := v.(*directShape)
	shape.once.Do(func() {
		prog, linkArgs, err := b.driverLinkCommand(tool, probe)
		if err != nil {
			b.e.log.Debug("links through the driver", "driver", tool.path, "why", err)
			shape.state.Store(directRefused)
			return
		}
		shape.prog, shape.args = prog, trimSearch(linkArgs, b.root, b.linkerDefaults(prog, linkArgs))
	})
	if shape.state.Load() == directRefused {
		return nil
	}
	return shape
}

// driverLinkCommand asks tool what it would run for a link with args
// (-###) and returns the linker and its arguments. Only collect2's command
// line is understood: collect2 chooses the linker by -fuse-ld and hands it
// its own arguments, less the LTO plugin's, which no link without LTO
// objects uses.
func (b *build) driverLinkCommand(tool compiler, args []string) (string, []string, error) {
	cmds, err := b.driverCommands(tool, args)
	if err != nil {
		return "", nil, err
	}
	var argv []string
	for _, words := range cmds {
		if filepath.Base(words[0]) == "collect2" {
			argv = words
		}
	}
	if argv == nil {
		return "", nil, errors.New("no collect2 command in its -### output")
	}
	name, linkArgs := "ld", make([]string, 0, len(argv))
	outs, ins := 0, 0
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "-plugin":
			i++ // and its argument
		case strings.HasPrefix(a, "-plugin-opt="):
		case strings.HasPrefix(a, "-fuse-ld="):
			name = "ld." + strings.TrimPrefix(a, "-fuse-ld=")
		default:
			if a == directOut {
				outs++
			}
			if a == directIn {
				ins++
			}
			linkArgs = append(linkArgs, a)
		}
	}
	if outs != 1 || ins != 1 {
		return "", nil, fmt.Errorf("collect2's command names the output %d and the inputs %d times", outs, ins)
	}
	// With the link's own arguments, so that -B and the like find the
	// linker collect2 would.
	prog, err := b.runQuiet(identifyTimeout, tool.path, append(args, "-print-prog-name="+name)...)
	if err != nil {
		return "", nil, fmt.Errorf("%s -print-prog-name=%s: %w", tool.path, name, err)
	}
	prog = strings.TrimSpace(prog)
	if !filepath.IsAbs(prog) {
		if prog, err = b.req.Env.LookPath(prog); err != nil {
			return "", nil, err
		}
	}
	return prog, linkArgs, nil
}

// trimSearch returns a direct link's arguments with the library search
// cut to what the link can use. A linker reads the listing of every
// directory it may search as it starts (gold does, for its directory
// cache), and the driver's -L list names Debian's /usr/lib/x86_64-linux-gnu,
// a thousand entries, by three spellings; gold's default directories
// name it twice more. Reading them was 1.2 ms of a 4.7 ms partial link
// and 2.7 of a library's 19.7 ms link.
//   - An -L directory that an earlier -L names too, by another path, goes:
//     a library is looked for in the directories in order and taken from
//     the first that holds it, so a second look into the same directory
//     finds nothing the first did not.
//   - A link that looks for nothing at all (searchesNothing: a partial
//     link of objects) loses every -L and takes -nostdlib, which tells the
//     linker to search only the -L directories: none.
//   - Otherwise, when the linker's default directories are known
//     (defaults), they follow the -L list as -L directories themselves,
//     less those it names already, and -nostdlib drops the defaults: the
//     same directories in the same order, each read once. Not with a
//     script, whose SEARCH_DIRs -nostdlib would drop too.
//
// The directories are compared as they are when the shape is made; the
// shape's first link, through the driver, proves the result like the rest.
func trimSearch(args []string, dir string, defaults []string) []string {
	none := searchesNothing(args)
	var seen []os.FileInfo
	// fresh reports whether d names a directory not seen yet (or one that
	// does not exist, which holds nothing but costs nothing to keep).
	fresh := func(d string) bool {
		if !filepath.IsAbs(d) {
			d = filepath.Join(dir, d)
		}
		fi, err := os.Stat(d)
		if err != nil {
			return true
		}
		if slices.ContainsFunc(seen, func(s os.FileInfo) bool { return os.SameFile(s, fi) }) {
			return false
		}
		seen = append(seen, fi)
		return true
	}
	out := make([]string, 0, len(args)+len(defaults)+1)
	for _, a := range args {
		if d, ok := strings.CutPrefix(a, "-L"); ok && d != "" && (none || !fresh(d)) {
			continue
		}
		out = append(out, a)
	}
	switch {
	case none:
		out = append(out, "-nostdlib")
	case len(defaults) > 0 && !slices.ContainsFunc(args, isScriptArg) && !slices.Contains(args, "-nostdlib"):
		for _, d := range defaults {
			if fresh(d) {
				out = append(out, "-L"+d)
			}
		}
		out = append(out, "-nostdlib")
	}
	return out
}

// isScriptArg reports whether a names a linker script.
func isScriptArg(a string) bool {
	for _, p := range []string{"-T", "--script", "-dT", "--default-script"} {
		if strings.HasPrefix(a, p) {
			return true
		}
	}
	return false
}

// probeLib is a library no system has: a linker told to find it tries
// every directory it searches, and bfd and gold say which with --verbose.
const probeLib = "jmake-no-such-library"

// linkerDefaults returns the directories the linker prog searches beyond
// its -L list, in order, as it says when asked with --verbose to find
// probeLib; nil if it does not say (lld and mold search -L alone). The
// options that choose them (-m, --sysroot) are taken from args.
func (b *build) linkerDefaults(prog string, args []string) []string {
	tmp, err := os.MkdirTemp("", "jmake-ld-probe-")
	if err != nil {
		return nil
	}
	defer os.RemoveAll(tmp)
	// Not /dev/null: a linker may remove its output when it fails.
	probe := []string{"--verbose", "-o", filepath.Join(tmp, "out")}
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case (a == "-m" || a == "--sysroot") && i+1 < len(args):
			probe = append(probe, a, args[i+1])
			i++
		case strings.HasPrefix(a, "--sysroot="):
			probe = append(probe, a)
		}
	}
	out, err := b.runQuiet(identifyTimeout, prog, append(probe, "-l"+probeLib)...)
	if err == nil {
		return nil // found after all: the list is not whole
	}
	var dirs []string
	for _, line := range strings.Split(out, "\n") {
		_, rest, ok := strings.Cut(line, "ttempt to open ")
		path, failed := strings.CutSuffix(rest, " failed")
		if !ok || !failed {
			continue
		}
		if base := filepath.Base(path); base != "lib"+probeLib+".so" && base != "lib"+probeLib+".a" {
			continue
		}
		if d := filepath.Dir(path); !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// searchesNothing reports whether a linker run with args never looks in a
// library directory: no -l, no script, and no input but the link's own
// objects (a library or script named by its path may ask for another).
// An argument it does not know for an option's value counts as an input.
func searchesNothing(args []string) bool {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == directIn:
		case a == "-o", a == "-m", a == "-dynamic-linker":
			i++ // and its value
		case strings.HasPrefix(a, "-l"), strings.HasPrefix(a, "--library="), a == "--library",
			strings.HasPrefix(a, "-T"), strings.HasPrefix(a, "--script"),
			strings.HasPrefix(a, "-dT"), strings.HasPrefix(a, "--default-script"),
			strings.HasPrefix(a, "@"), !strings.HasPrefix(a, "-"):
			return false
		}
	}
	return true
}

// driverCommands asks tool what it would run for args (-###) and returns
// the commands, each split into words. It fails unless tool is the driver
// itself: a wrapper script, ccache or distcc in front of it would answer
// with the driver's commands, and running those would skip the wrapper.
// A script is not asked; any other program is, and the driver names
// itself in COLLECT_GCC as it was started, so a wrapper that runs `gcc`
// or `/usr/bin/gcc` does not pass for it.
func (b *build) driverCommands(tool compiler, args []string) ([][]string, error) {
	if isScript(tool.path) {
		// Not even asked: a wrapper script may count or time its runs.
		return nil, fmt.Errorf("%s is a script, not the driver", tool.path)
	}
	out, err := b.runQuiet(identifyTimeout, tool.path, append(slices.Clip(args), "-###")...)
	if err != nil {
		return nil, fmt.Errorf("%s -###: %w", tool.path, err)
	}
	var cmds [][]string
	self := false
	for _, line := range strings.Split(out, "\n") {
		if words, ok := splitDriverLine(line); ok && len(words) > 0 {
			cmds = append(cmds, words)
		}
		if v, ok := strings.CutPrefix(line, "COLLECT_GCC="); ok {
			self = v == tool.path
		}
	}
	if !self {
		return nil, fmt.Errorf("%s is not the driver (a wrapper?): its -### does not name it in COLLECT_GCC", tool.path)
	}
	return cmds, nil
}

// isScript reports whether the file at path starts with "#!".
func isScript(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [2]byte
	n, _ := f.Read(magic[:])
	return n == 2 && string(magic[:]) == "#!"
}

// runQuiet runs prog with args in the project's root and the build's
// environment, for at most limit (0: no limit but the build's), and
// returns what it printed (stdout and stderr, interleaved as written).
func (b *build) runQuiet(limit time.Duration, prog string, args ...string) (string, error) {
	ctx := b.ctx
	if limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	cmd := b.command(ctx, prog, args)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := proc.Run(cmd)
	return out.String(), err
}

// command is prog with args, to run in the root with the build's
// environment, killed with its children when ctx ends.
func (b *build) command(ctx context.Context, prog string, args []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = b.root
	cmd.Env = b.environ
	cmd.WaitDelay = waitDelay
	proc.KillGroupOnCancel(cmd)
	return cmd
}

// splitDriverLine splits a command line as the driver's -### prints it:
// words separated by spaces, each in double quotes when it needs them,
// with \" and \\ inside. ok is false for a line that is not one.
func splitDriverLine(line string) (words []string, ok bool) {
	if !strings.HasPrefix(line, " ") {
		return nil, false // -###'s commands are indented; the rest is talk
	}
	var w strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\\' && i+1 < len(line):
			i++
			w.WriteByte(line[i])
		case c == '"':
			quoted, inWord = !quoted, true
		case c == ' ' && !quoted:
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		return nil, false
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, true
}

// proveDirect links objs again with the shape's direct command into a temp
// file beside dst, which the driver has just written, and returns the
// shape's state: proven if the two are equal byte for byte.
func (b *build) proveDirect(shape *directShape, dst string, objs []string) int32 {
	tmp := b.tmpName(dst)
	defer os.Remove(tmp)
	argv, cleanup, err := b.withRspFile(dst, shape.argv(b.rel(tmp), objs))
	if err != nil {
		return directUnproven // try again with the next link
	}
	defer cleanup()
	out, err := b.runQuiet(0, shape.prog, argv...)
	if err != nil {
		if b.ctx.Err() != nil {
			return directUnproven
		}
		b.e.log.Info("linking through the driver: the linker run directly failed", "linker", shape.prog, "output", dst, "err", err, "says", strings.TrimSpace(out))
		return directRefused
	}
	want, err1 := os.ReadFile(dst)
	got, err2 := os.ReadFile(tmp)
	if err1 != nil || err2 != nil {
		return directUnproven
	}
	if !bytes.Equal(got, want) {
		b.e.log.Info("linking through the driver: the linker run directly wrote other bytes", "linker", shape.prog, "output", dst)
		return directRefused
	}
	return directProven
}
