package compile

// Linking in two levels.
//
// GNU ld spends about 80 ms linking a shared library from a thousand small
// objects here, most of it opening, reading and resolving a thousand inputs,
// and an edit of one source pays all of it again. So a shared library or a
// program of many units is linked in two levels, as the Linux kernel long did
// with its built-in.o files: the units are split into link groups of about
// groupSpan, each group is partially linked (`cc -r`) into one relocatable
// object, and the output is linked from the groups. An edit relinks one
// group (a few ms) and then the output from N/groupSpan inputs (about 20 ms
// at N=1000).
//
// The faster linkers (linker.go) leave less to save, but still some: a
// one-unit change at N=10,000 through the daemons (the object restored
// from the cache, then the relink; 2 cores, median of 5), groups on / off:
// lld 0.30 / 0.43 s, gold 0.25 / 0.94 s, mold 0.30 / 2.15 s, GNU ld 0.35 /
// 3.32 s (docs/benchmarks.md). They save time with every linker, so they
// stay.
//
// A group ends after a unit whose name hashes to a multiple of groupSpan, so
// the groups depend on the unit list alone: adding or removing a unit changes
// the group it falls in, not every group after it, and an incremental build
// links the very groups a clean build would. A group's key covers the partial
// link's settings and every member's action id; its object is kept in the
// object cache under that key, like a unit's object, so a clean tree with a
// warm cache restores groups instead of relinking them.
//
// A partial link merges the members' sections of the same name, which
// matters to link options that work per input file or section: a linker
// script (-T), --gc-sections, --icf, and LTO (whose objects hold compiler
// IR). With any of those, with fewer than groupMinUnits units, or with
// `[binary] partial_link = false`, the output is linked from the objects
// directly. If a partial link fails, or the link from groups fails, the
// output is linked from the objects: the diagnostics then name the units'
// objects, and if that link succeeds groups are not tried again for these
// settings while the daemon runs.

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/jmake/jmake/internal/project"
)

const (
	groupSpan     = 32            // the mean number of units in a link group
	groupMax      = 4 * groupSpan // a group is cut here even without a boundary
	groupMinUnits = 2 * groupSpan // fewer units are linked directly
)

// linkGroup is one group of a build's units.
type linkGroup struct {
	units []string // the members, a window of build.units
	abs   string   // the group's relocatable object
	key   Hash     // the partial link's settings and every member's action id
}

// groupRec is what the last partial link (or restore) of a group left.
type groupRec struct {
	key Hash
	st  fileStat
}

// groupable reports whether b's output may be linked from link groups.
func (b *build) groupable() bool {
	env := b.req.Env
	envFlags := slices.Concat(env.LinkFlags(), env.CompileFlags(false), env.CompileFlags(true))
	return groupable(b.cfg, envFlags, len(b.units))
}

// groupable reports whether cfg's output may be linked from link groups.
func groupable(cfg *project.Config, envFlags []string, units int) bool {
	if units < groupMinUnits || cfg.Target.LTO {
		return false
	}
	if cfg.Binary.PartialLink != nil && !*cfg.Binary.PartialLink {
		return false
	}
	switch cfg.Binary.LibraryType {
	case project.Shared, project.Executable:
	default:
		return false
	}
	for _, flags := range [][]string{cfg.Compile.Flags, cfg.Compile.CFlags, cfg.Compile.CXXFlags, cfg.Compile.LinkFlags, envFlags} {
		for _, f := range flags {
			if perInputLinkFlag(f) {
				return false
			}
		}
	}
	return true
}

// perInputLinkFlag reports whether f asks the linker for something that
// works per input object or section, or makes objects hold LTO IR.
func perInputLinkFlag(f string) bool {
	if strings.HasPrefix(f, "-flto") || strings.HasPrefix(f, "-ffat-lto-objects") {
		return true
	}
	opts := []string{f}
	if rest, ok := strings.CutPrefix(f, "-Wl,"); ok {
		opts = strings.Split(rest, ",")
	}
	for _, o := range opts {
		switch {
		case strings.HasPrefix(o, "-T"), strings.HasPrefix(o, "--script"),
			strings.HasPrefix(o, "-dT"), strings.HasPrefix(o, "--default-script"),
			strings.Contains(o, "gc-sections"), strings.HasPrefix(o, "--icf"),
			o == "-r", o == "--relocatable", o == "-i":
			return true
		}
	}
	return false
}

// partialLinkArgs are the partial link's arguments besides its output and
// inputs: the link flags that choose the linker or the target travel along.
func (b *build) partialLinkArgs() []string {
	args := []string{"-r", "-nostdlib"}
	if b.ld.flag != "" {
		args = append(args, b.ld.flag)
	}
	for _, f := range append(b.req.Env.LinkFlags(), b.cfg.Compile.LinkFlags...) {
		if strings.HasPrefix(f, "-fuse-ld=") || strings.HasPrefix(f, "-B") ||
			f == "-m32" || f == "-m64" || f == "-mx32" || strings.HasPrefix(f, "--target=") {
			args = append(args, f)
		}
	}
	return args
}

// splitGroups cuts units into link groups (see the top of this file).
func splitGroups(units []string) [][]string {
	var out [][]string
	start := 0
	for i, u := range units {
		if i+1-start >= groupMax || groupCut(u) {
			out = append(out, units[start:i+1])
			start = i + 1
		}
	}
	if start < len(units) {
		out = append(out, units[start:])
	}
	return out
}

func groupCut(unit string) bool {
	h := fnv.New64a()
	h.Write([]byte(unit))
	return h.Sum64()%groupSpan == 0
}

// groupPath is where the group starting with unit keeps its object.
func (b *build) groupPath(unit string) string {
	h := fnv.New64a()
	h.Write([]byte(unit))
	return filepath.Join(b.buildDir, "link", filepath.Base(unit)+"."+strconv.FormatUint(h.Sum64(), 16)+".o")
}

// groupSettings is the key of the partial links' settings.
func (b *build) groupSettings(tool compiler) Hash {
	k := newKeyHasher("group")
	k.hash(tool.id)
	k.str(tool.path)
	k.strs(b.partialLinkArgs())
	return k.sum()
}

// groupObjects brings every link group's object up to date and returns
// their paths relative to the root, or nil when the output is to be linked
// from the units' objects.
func (b *build) groupObjects(tool compiler, settings Hash) []string {
	st := b.st
	if !b.groupable() || st.groupsOff == settings {
		return nil
	}

	parts := splitGroups(b.units)
	groups := make([]linkGroup, len(parts))
	var todo []*linkGroup
	for i, members := range parts {
		g := &groups[i]
		g.units, g.abs = members, b.groupPath(members[0])
		k := newKeyHasher("groupkey")
		k.hash(settings)
		k.int(int64(len(members)))
		for _, u := range members {
			k.str(u)
			k.hash(Hash(st.units[u].action))
		}
		g.key = k.sum()
		if rec, ok := st.groups[g.abs]; ok && rec.key == g.key {
			if cur, err := statPath(g.abs); err == nil && cur == rec.st {
				continue
			}
		}
		todo = append(todo, g)
	}
	b.sweepGroups(groups)

	recs := make([]groupRec, len(todo))
	whys := make([]string, len(todo))
	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(b.jobs, len(todo)) {
		wg.Go(func() {
			for i := range next {
				recs[i], whys[i], errs[i] = b.makeGroup(tool, todo[i])
			}
		})
	}
	for i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()

	if st.groups == nil {
		st.groups = make(map[string]groupRec, len(groups))
	}
	if err := errors.Join(errs...); err != nil {
		if b.ctx.Err() == nil {
			b.e.log.Warn("partial link failed; linking the objects directly", "root", b.root, "err", err)
			st.groupsOff = settings
		}
		if b.req.Explain {
			b.explain = append(b.explain, "link: partial link failed, linking the objects directly")
		}
		return nil
	}
	for i, g := range todo {
		st.groups[g.abs] = recs[i]
		if b.req.Explain {
			b.explain = append(b.explain, fmt.Sprintf("link group %s (%d units from %s): %s", b.rel(g.abs), len(g.units), g.units[0], whys[i]))
		}
	}
	paths := make([]string, len(groups))
	for i := range groups {
		paths[i] = b.rel(groups[i].abs)
	}
	return paths
}

// makeGroup restores g's object from the object cache or partially links
// it from its members' objects; why says which.
func (b *build) makeGroup(tool compiler, g *linkGroup) (rec groupRec, why string, err error) {
	if err := b.mkdirFor(g.abs); err != nil {
		return rec, "", fmt.Errorf("link group %s: %w", g.abs, err)
	}
	id := g.key.String()
	why = "restored from the cache"
	restored := false
	if b.cache && b.e.objects.Has(id) {
		_, err := b.e.objects.CopyToReusing(id, g.abs, b.spares.take())
		if err != nil {
			b.cacheReadFailed(b.rel(g.abs), err)
		}
		restored = err == nil
	}
	if !restored {
		why = "linked"
		if err := b.partialLink(tool, g); err != nil {
			return rec, "", err
		}
		if b.cache {
			if _, err := b.e.objects.PutFile(id, g.abs); err != nil {
				b.writeFailed("object cache", err)
			}
		}
		b.e.groupLinks.Add(1)
	}
	cur, err := statPath(g.abs)
	if err != nil {
		return rec, "", fmt.Errorf("link group %s: %w", g.abs, err)
	}
	return groupRec{key: g.key, st: cur}, why, nil
}

// partialLink runs `cc -r` for g's members into g's object.
func (b *build) partialLink(tool compiler, g *linkGroup) error {
	objs := make([]string, len(g.units))
	for i, u := range g.units {
		objs[i] = b.rel(b.st.units[u].objAbs)
	}
	out, err := b.linkInto(tool, g.abs, objs, func(tmp string, objs []string) []string {
		return append(append(b.partialLinkArgs(), "-o", tmp), objs...)
	})
	if err != nil {
		return fmt.Errorf("partial link %s: %w: %s", b.rel(g.abs), err, strings.TrimSpace(out))
	}
	return nil
}

// dropGroups removes the link groups' objects of a project now linked from
// its units' objects (it shrank below groupMinUnits, or its settings
// changed), so that no stale group lies in the build directory.
func (b *build) dropGroups() {
	if err := os.RemoveAll(filepath.Join(b.buildDir, "link")); err != nil {
		b.e.log.Warn("stale link groups not removed", "dir", filepath.Join(b.buildDir, "link"), "err", err)
	}
	b.st.groups = nil
}

// sweepGroups removes the objects of groups that are no longer among
// groups: those this daemon made, or, the first time it links the project,
// every object in the group directory.
func (b *build) sweepGroups(groups []linkGroup) {
	want := make(map[string]bool, len(groups))
	for _, g := range groups {
		want[g.abs] = true
	}
	var stale []string
	if b.st.groups == nil {
		dir := filepath.Join(b.buildDir, "link")
		ents, _ := os.ReadDir(dir) // none yet is fine
		for _, e := range ents {
			if p := filepath.Join(dir, e.Name()); strings.HasSuffix(p, ".o") && !want[p] {
				stale = append(stale, p)
			}
		}
	} else {
		for p := range b.st.groups {
			if !want[p] {
				stale = append(stale, p)
				delete(b.st.groups, p)
			}
		}
	}
	for _, p := range stale {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			b.e.log.Warn("stale link group not removed", "file", p, "err", err)
		}
	}
}
