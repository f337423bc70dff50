package compile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jmake/jmake/internal/depfile"
	"github.com/jmake/jmake/internal/proc"
)

// Compiling without the driver.
//
// `gcc -pipe -c unit.c -o unit.o` runs three programs: the driver, which
// works out the command lines of the compiler proper and the assembler
// from its specs, then cc1 (cc1plus for C++) piped into as. The driver's
// share is about 2 ms of CPU a unit here (gcc 12, generated units, `go
// run ./bench/drivercost`: 53.6 ms a unit through the driver, 51.8 ms
// running cc1 and as directly), 3-5% of every compile: on two cores, the
// whole difference between a cold build and ninja's. Units of one shape (the driver, its arguments
// but the unit's own names, the environment, the source's suffix) get the
// same two command lines, so the driver is asked for them once (-###) and
// cc1 and as are run directly from then on, piped as the driver pipes
// them.
//
// Only once it is proven, as for links (direct.go): the first compile of
// each shape runs through the driver, then directly into a second temp
// object, and the direct commands are used only if the objects are equal
// byte for byte, the compiler printed the same and the depfiles name the
// same files. A difference (an object that records its own file name, as
// with --coverage), a failure, a command line other than "cc1 | as", a
// wrapper in front of the driver, or LTO keeps the shape on the driver for
// the daemon's life. A direct compile that fails is run again through the
// driver, so that a unit's errors read as the driver prints them.

// Stand-ins for one compile's own names in a shape's command lines. No
// argument can hold a NUL byte, so none is taken for one.
const (
	ccSrc  = "\x00src"
	ccObj  = "\x00obj"
	ccDep  = "\x00dep"
	ccStem = "\x00stem" // within an argument: the object's name less its suffix
)

// ccNames are the names that are a compile's own: the source, the object
// and the depfile, as passed to the driver.
type ccNames struct{ src, obj, dep string }

// stem is the object's file name without its suffix, which the driver
// makes other names of (-dumpbase, -MD's file).
func (n ccNames) stem() string {
	base := filepath.Base(n.obj)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// ccShape is the two commands the driver runs for the compiles of one
// shape.
type ccShape struct {
	once  sync.Once
	progs [2]string   // the compiler proper and the assembler, absolute
	args  [2][]string // their arguments, with ccSrc, ccObj, ccDep and ccStem
	state atomic.Int32
}

// argv is the arguments of command i (0 the compiler, 1 the assembler)
// for the compile n.
func (s *ccShape) argv(i int, n ccNames) []string {
	stem := n.stem()
	args := make([]string, len(s.args[i]))
	for j, a := range s.args[i] {
		switch a {
		case ccSrc:
			a = n.src
		case ccObj:
			a = n.obj
		case ccDep:
			a = n.dep
		default:
			if strings.Contains(a, ccStem) {
				a = strings.ReplaceAll(a, ccStem, stem)
			}
		}
		args[j] = a
	}
	return args
}

// ccShapeOf returns the shape of compiling n with tc's driver given args,
// its commands worked out on first use; nil when the compile must go
// through the driver.
func (b *build) ccShapeOf(tc *toolchain, args []string, n ccNames) *ccShape {
	if !tc.comp.gccLike || b.gccLTO() {
		return nil
	}
	for _, a := range args {
		if strings.HasPrefix(a, "-flto") || strings.HasPrefix(a, "@") || strings.HasPrefix(a, "-fcompare-debug") {
			return nil
		}
	}
	k := newKeyHasher("direct-compile")
	k.hash(tc.comp.id)
	k.str(tc.comp.path)
	k.str(b.root)
	k.strs(templateArgs(args, n))
	k.str(filepath.Ext(n.src))
	k.str(filepath.Dir(n.obj))
	k.strs(b.environ)
	v, _ := b.e.ccShapes.LoadOrStore(k.sum(), new(ccShape))
	shape := v.(*ccShape)
	shape.once.Do(func() {
		if err := b.driverCompileCommands(shape, tc.comp, args, n); err != nil {
			b.e.log.Debug("compiles through the driver", "driver", tc.comp.path, "why", err)
			shape.state.Store(directRefused)
		}
	})
	if shape.state.Load() == directRefused {
		return nil
	}
	return shape
}

// templateArgs is args with n's names replaced by their stand-ins.
func templateArgs(args []string, n ccNames) []string {
	stem := n.stem()
	out := make([]string, len(args))
	for i, a := range args {
		switch a {
		case n.src:
			a = ccSrc
		case n.obj:
			a = ccObj
		case n.dep:
			a = ccDep
		default:
			a = strings.ReplaceAll(a, stem, ccStem)
		}
		out[i] = a
	}
	return out
}

// driverCompileCommands asks tool for the commands of compiling n with
// args and fills in shape. Only GCC's "compiler proper | assembler" is
// taken, and only if the compile's own names appear where the shape can
// put another compile's: whole, or the object's stem within a word.
func (b *build) driverCompileCommands(shape *ccShape, tool compiler, args []string, n ccNames) error {
	cmds, err := b.driverCommands(tool, args)
	if err != nil {
		return err
	}
	if len(cmds) != 2 || len(cmds[0]) < 2 || cmds[0][len(cmds[0])-1] != "|" || cmds[1][len(cmds[1])-1] == "|" {
		return errors.New("its -### is not a compiler piped into an assembler")
	}
	cmds[0] = cmds[0][:len(cmds[0])-1]
	if name := filepath.Base(cmds[0][0]); name != "cc1" && name != "cc1plus" {
		return fmt.Errorf("its -### runs %s, not cc1 or cc1plus", name)
	}
	srcBase := filepath.Base(n.src)
	for i, cmd := range cmds {
		prog := cmd[0]
		if !filepath.IsAbs(prog) {
			if strings.ContainsRune(prog, '/') {
				prog = absPath(b.root, prog)
			} else if prog, err = b.req.Env.LookPath(prog); err != nil {
				return err
			}
		}
		shape.progs[i] = prog
		shape.args[i] = templateArgs(cmd[1:], n)
		for _, a := range shape.args[i] {
			if strings.Contains(a, srcBase) || strings.Contains(a, filepath.Base(n.obj)) || strings.Contains(a, filepath.Base(n.dep)) {
				return fmt.Errorf("%s's argument %q is made from the unit's names", filepath.Base(prog), a)
			}
		}
	}
	if !slices.Contains(shape.args[0], ccSrc) || !slices.Contains(shape.args[0], ccDep) || !slices.Contains(shape.args[1], ccObj) {
		return errors.New("its -### does not name the source, the depfile and the object where expected")
	}
	return nil
}

// runDirect runs shape's compiler piped into its assembler for n, what
// they print to out: the compiler's, then the assembler's.
func (b *build) runDirect(shape *ccShape, n ccNames, out *bytes.Buffer) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	var asOut bytes.Buffer
	cc := b.command(b.ctx, shape.progs[0], shape.argv(0, n))
	cc.Stdout, cc.Stderr = w, out
	as := b.command(b.ctx, shape.progs[1], shape.argv(1, n))
	as.Stdin, as.Stdout, as.Stderr = r, &asOut, &asOut
	errCC := cc.Start()
	var errAS error
	asStarted := false
	if errCC == nil {
		errAS = as.Start()
		asStarted = errAS == nil
	}
	// The two ends are the children's now: the assembler sees the end of
	// its input when the compiler exits, and the compiler a broken pipe
	// if the assembler does.
	w.Close()
	r.Close()
	if errCC == nil {
		errCC = proc.Wait(cc)
	}
	if asStarted {
		errAS = proc.Wait(as)
	}
	out.Write(asOut.Bytes())
	if errCC != nil {
		return fmt.Errorf("%s: %w", shape.progs[0], errCC)
	}
	if errAS != nil {
		return fmt.Errorf("%s: %w", shape.progs[1], errAS)
	}
	return nil
}

// proveCC compiles n again with shape's commands, into a second object
// and depfile, after the driver has compiled it (printing want), and
// returns the shape's state: proven if the two compiles are the same.
func (b *build) proveCC(shape *ccShape, n ccNames, want []byte) int32 {
	objAbs := absPath(b.root, n.obj)
	tmpObj := b.tmpName(filepath.Join(filepath.Dir(objAbs), "prove.o"))
	defer os.Remove(tmpObj)
	tmpDep, err := b.depfiles.take(b)
	if err != nil {
		return directUnproven
	}
	defer b.depfiles.put(tmpDep)
	var out bytes.Buffer
	if err := b.runDirect(shape, ccNames{src: n.src, obj: b.rel(tmpObj), dep: b.rel(tmpDep)}, &out); err != nil {
		if b.ctx.Err() != nil {
			return directUnproven
		}
		b.e.log.Info("compiling through the driver: its compiler and assembler run directly failed", "compiler", shape.progs[0], "unit", n.src, "err", err, "says", strings.TrimSpace(out.String()))
		return directRefused
	}
	wantObj, err1 := os.ReadFile(objAbs)
	gotObj, err2 := os.ReadFile(tmpObj)
	wantDeps, err3 := depPrereqs(absPath(b.root, n.dep))
	gotDeps, err4 := depPrereqs(tmpDep)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return directUnproven
	}
	if !bytes.Equal(gotObj, wantObj) || !bytes.Equal(out.Bytes(), want) || !slices.Equal(gotDeps, wantDeps) {
		b.e.log.Info("compiling through the driver: its compiler and assembler run directly made another object, output or depfile", "compiler", shape.progs[0], "unit", n.src)
		return directRefused
	}
	return directProven
}

// depPrereqs is the files a depfile names as prerequisites.
func depPrereqs(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rules, err := depfile.ParseDepfile(path, data)
	if err != nil {
		return nil, err
	}
	return depfile.Merge(rules).Prereqs, nil
}
