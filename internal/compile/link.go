package compile

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jmake/jmake/internal/proc"
	"github.com/jmake/jmake/internal/project"
)

// link links the library or program when anything it depends on changed:
// an object (a unit's action id), the set of units, a link setting, or the
// output itself (missing or modified since the last link). It reports
// whether it linked.
func (b *build) link() (bool, error) {
	st := b.st
	tool, err := b.linkTool()
	if err != nil {
		return false, err
	}
	if b.cfg.Binary.LibraryType != project.Static {
		if b.ld, err = b.chooseLinker(); err != nil {
			return false, err
		}
	}
	settings := b.linkSettings(tool)
	unitsSame := st.lastUnits != nil && slices.Equal(st.lastUnits, b.units)
	var key Hash
	if !st.linkStale && unitsSame && settings == st.proj.linkSettings {
		key = st.proj.linkKey // nothing that goes into it changed
	} else {
		key = b.linkKey(settings)
	}
	var reason string
	switch {
	case st.proj.linkKey.IsZero():
		reason = "no previous link"
	case settings != st.proj.linkSettings:
		reason = "link settings changed"
	case key != st.proj.linkKey && st.lastUnits != nil && !unitsSame:
		reason = "set of units changed"
	case key != st.proj.linkKey:
		reason = "objects changed"
	default:
		if ost, err := statPath(b.outAbs); err != nil {
			reason = "output missing"
		} else if ost != st.proj.linkOut {
			reason = "output modified"
		}
	}
	// From here on (if the link succeeds), linkKey is the key of b.units
	// with their records as they are.
	settled := func() {
		st.linkStale = false
		if !unitsSame {
			st.lastUnits = slices.Clone(b.units)
		}
	}
	if reason == "" {
		settled()
		return false, nil
	}
	if b.req.Explain {
		b.explain = append(b.explain, "link: "+reason)
		if b.ld.name != "" {
			b.explain = append(b.explain, "link: linker "+b.ld.String())
		}
	}
	if err := b.runLink(tool); err != nil {
		return false, err
	}
	ost, err := statPath(b.outAbs)
	if err != nil {
		return true, fmt.Errorf("compile: link %s: %w", b.outAbs, err)
	}
	st.proj.linkSettings, st.proj.linkKey, st.proj.linkOut = settings, key, ost
	settled()
	b.saveProject()
	b.e.links.Add(1)
	b.emit(Event{Kind: "link", Unit: b.rel(b.outAbs), Done: len(b.units), Total: len(b.units), Output: b.linkOutput})
	return true, nil
}

// linkTool is the program that makes the output: ar for a static library,
// else the compiler driver (C++ if any unit is C++).
func (b *build) linkTool() (compiler, error) {
	if b.cfg.Binary.LibraryType == project.Static {
		return b.e.resolveTool(b.ctx, b.req.Env, "ar", false)
	}
	return b.linker.comp, nil
}

// linkSettings hashes everything the output depends on except the objects.
func (b *build) linkSettings(tool compiler) Hash {
	k := newKeyHasher("link")
	k.hash(tool.id)
	k.str(tool.path)
	// The linker: its -fuse-ld= is among the arguments, its version is not.
	k.str(b.ld.name)
	k.hash(b.ld.tool.id)
	k.strs(b.linkArgs("", nil))
	if vars := b.req.Env.ToolVars(); len(vars) > 0 {
		// LIBRARY_PATH and the like: where the driver looks for -l.
		k.str("\x00vars")
		k.strs(vars)
	}
	k.str(b.outAbs)
	k.str(b.objDir)
	for _, f := range b.req.LinkInputs {
		// A library of the project relinked, or a script edited: its
		// stat changed. A missing one is left to the linker to report.
		st, _ := statPath(f)
		k.str(f)
		k.str(string(appendStat(nil, st)))
	}
	return k.sum()
}

// linkKey is linkSettings plus every unit and its action id.
func (b *build) linkKey(settings Hash) Hash {
	k := newKeyHasher("linkkey")
	k.hash(settings)
	k.int(int64(len(b.units)))
	for _, u := range b.units {
		k.str(u)
		if r := b.st.units[u]; r != nil {
			k.hash(Hash(r.action))
		}
	}
	return k.sum()
}

// linkArgs is the link command's arguments, writing to out (relative to the
// root) from objs.
func (b *build) linkArgs(out string, objs []string) []string {
	cfg := b.cfg
	var args []string
	switch cfg.Binary.LibraryType {
	case project.Static:
		args = append(args, "rcs", out)
		return append(args, objs...)
	case project.Shared:
		args = append(args, "-shared")
	}
	if b.ld.flag != "" {
		args = append(args, b.ld.flag)
	}
	args = append(args, "-o", out)
	args = append(args, objs...)
	if cfg.Binary.LibraryType == project.Shared && cfg.Binary.Soname != "" {
		args = append(args, "-Wl,-soname,"+cfg.Binary.Soname)
	}
	if cfg.Target.LTO {
		// The optimisation of an LTO build happens at link time.
		args = append(args, "-flto")
		if cfg.Target.OptLevel != "" {
			args = append(args, "-O"+cfg.Target.OptLevel)
		}
	}
	args = append(args, b.req.Env.LinkFlags()...)
	args = append(args, cfg.Compile.LinkFlags...)
	for _, l := range cfg.Compile.LinkLibraries {
		args = append(args, libArg(l))
	}
	return args
}

// libArg turns a [compile] link_libraries entry into an argument: a flag or
// a path is passed as is, a name becomes -l<name>.
func libArg(l string) string {
	switch {
	case strings.HasPrefix(l, "-"),
		strings.ContainsRune(l, '/'),
		strings.HasSuffix(l, ".a"), strings.HasSuffix(l, ".so"), strings.Contains(l, ".so."):
		return l
	}
	return "-l" + l
}

// runLink links the output, from link groups when it may (group.go), else
// from the units' objects. A link from groups that fails is run again from
// the objects, so that its diagnostics name the units' objects; should that
// one succeed, groups are not used again for these settings.
func (b *build) runLink(tool compiler) error {
	if err := b.mkdirFor(b.outAbs); err != nil {
		return fmt.Errorf("compile: link %s: %w", b.outAbs, err)
	}
	settings := b.groupSettings(tool)
	groups := b.groupObjects(tool, settings)
	if groups == nil {
		b.dropGroups()
		return b.linkFrom(tool, b.unitObjects())
	}
	err := b.linkFrom(tool, groups)
	if err == nil || b.ctx.Err() != nil {
		return err
	}
	if err := b.linkFrom(tool, b.unitObjects()); err != nil {
		return err
	}
	b.e.log.Warn("link from partial links failed, from the objects it worked; linking directly from now on", "root", b.root, "output", b.outAbs)
	b.st.groupsOff = settings
	return nil
}

// unitObjects are the units' objects, relative to the root.
func (b *build) unitObjects() []string {
	objs := make([]string, len(b.units))
	for i, u := range b.units {
		objs[i] = b.rel(b.st.units[u].objAbs)
	}
	return objs
}

// linkFrom links objs into the output.
func (b *build) linkFrom(tool compiler, objs []string) error {
	var out string
	var err error
	if b.cfg.Binary.LibraryType == project.Static {
		out, err = b.runInto(tool, b.outAbs, func(tmp string) []string { return b.linkArgs(tmp, objs) })
	} else {
		out, err = b.linkInto(tool, b.outAbs, objs, b.linkArgs)
	}
	if err != nil {
		if b.ctx.Err() != nil {
			return fmt.Errorf("compile: link %s: %w", b.outAbs, b.ctx.Err())
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			err = fmt.Errorf("run %s: %w", tool.path, err)
		}
		return &BuildError{Root: b.root, Link: true, LinkErr: err, Diagnostics: out}
	}
	b.linkOutput = out
	return nil
}

// runInto runs tool with args(tmp), which write dst's content to tmp, a
// temp file beside dst (relative to the root), then renames tmp to dst, so
// that dst is never half written. It returns the tool's output.
func (b *build) runInto(tool compiler, dst string, args func(tmp string) []string) (string, error) {
	sweepLinkTmp(dst)
	tmpAbs := b.tmpName(dst)
	os.Remove(tmpAbs) // ar adds to an existing archive
	argv, cleanup, err := b.withRspFile(dst, args(b.rel(tmpAbs)))
	if err != nil {
		return "", err
	}
	defer cleanup()
	out, err := b.runQuiet(0, tool.path, argv...)
	if err == nil {
		err = os.Rename(tmpAbs, dst)
	}
	if err != nil {
		os.Remove(tmpAbs)
	}
	return out, err
}

// tmpName is a temp file name for this daemon's next write of path:
// path.<pid>-<seq>.tmp, which tmpOwner reads back, so that a later start
// can remove what a killed daemon left.
func (b *build) tmpName(path string) string {
	return path + fmt.Sprintf(".%d-%d.tmp", os.Getpid(), b.e.tmpSeq.Add(1))
}

// sweepLinkTmp removes the temp files beside dst that a daemon killed
// while linking it left (dst.<pid>-<seq>.tmp of a dead PID). A live
// process's stay: the other instance of the daemon during a rolling
// restart may be linking. Such a file exists only when that link did not
// finish, so the next build links dst again and comes here.
func sweepLinkTmp(dst string) {
	dir, base := filepath.Split(dst)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, ent := range ents {
		name := ent.Name()
		if !strings.HasPrefix(name, base+".") || !strings.HasSuffix(name, ".tmp") {
			continue
		}
		if pid := tmpOwner(name); pid > 0 && pid != os.Getpid() && !proc.Exists(pid) {
			os.Remove(filepath.Join(dir, name))
		}
	}
}

// saveProject writes the project record to Builds.
func (b *build) saveProject() {
	if err := b.e.builds.Put(projectKey(b.key), b.st.proj.encode()); err != nil {
		b.e.log.Warn("build state not saved", "root", b.root, "err", err)
	}
}
