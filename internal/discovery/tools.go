package discovery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmake/jmake/internal/change"
)

// Tool is a compiler or build tool found on this machine.
type Tool struct {
	Name     string    `json:"name"`      // as asked for: "cc", "llvm-link-14"
	Path     string    `json:"path"`      // where it was found; run it by this path (clang++ and clang differ only by argv[0])
	RealPath string    `json:"real_path"` // Path with symlinks resolved
	Version  string    `json:"version"`   // first line of its version output; "" if it printed none
	Size     int64     `json:"size"`      // of the file at RealPath
	ModTime  time.Time `json:"mod_time"`  // of the file at RealPath
}

// knownTools are the tools GetTool looks for; Tools lists those found.
var knownTools = []string{
	"cc", "c++", "gcc", "g++", "clang", "clang++",
	"ar", "ranlib", "nm",
	// The linkers the compilation daemon can choose among (-fuse-ld=).
	"ld", "ld.bfd", "ld.gold", "ld.lld", "ld.mold",
	"llvm-link", "opt", "llc", "llvm-ar", "llvm-nm", "llvm-ranlib", "llvm-config",
	"pkg-config", "distcc", "ccache", "sccache", "ninja", "make",
}

// versionedTools are the known tools that distributions install with a
// version suffix (gcc-12, clang-14, llvm-link-14); Tools looks for those too.
var versionedTools = []string{"gcc", "g++", "clang", "clang++", "ld.lld", "llvm-link", "opt", "llc", "llvm-ar", "llvm-nm", "llvm-ranlib", "llvm-config"}

// toolNameRE accepts a known tool's name, optionally with a target prefix
// (x86_64-linux-gnu-gcc) and a version suffix (clang-14, gcc-12.2).
// Anything else is refused, so that a request cannot make the daemon run
// an arbitrary program found on PATH.
var toolNameRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:[A-Za-z0-9_]+-)*(` + quoteAlt(knownTools) + `)(?:-[0-9]+(?:\.[0-9]+)*)?$`)
})

var versionedRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(` + quoteAlt(versionedTools) + `)-[0-9]+(?:\.[0-9]+)*$`)
})

func quoteAlt(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = regexp.QuoteMeta(n)
	}
	return strings.Join(q, "|")
}

// versionArgs are tried in order until one makes the tool exit 0 with some
// output. Most tools answer --version; some only -V or a version word. make
// and ninja are given --version only: to them any other word names a target.
func versionArgs(base string) [][]string {
	switch base {
	case "make", "ninja":
		return [][]string{{"--version"}}
	}
	return [][]string{{"--version"}, {"-V"}, {"version"}}
}

// versionTimeout bounds one version probe. Every tool on the list answers
// in well under a second here (gcc ~2 ms, LLVM tools ~20 ms); the bound
// only keeps a wedged tool (a wrapper waiting on a network licence or a
// distcc host) from holding a request forever.
const versionTimeout = 10 * time.Second

// ErrUnknownTool is wrapped by GetTool's error for a name it will not look up.
var ErrUnknownTool = errors.New("unknown tool")

// ToolNotFoundError is GetTool's error for a known tool found nowhere.
type ToolNotFoundError struct {
	Name     string
	Searched []string // directories searched, in order
}

func (e *ToolNotFoundError) Error() string {
	return fmt.Sprintf("discovery: tool %q not found in %s", e.Name, strings.Join(e.Searched, ", "))
}

// DefaultToolDirs are the directories searched after the search path when
// Options.ExtraToolDirs is nil: every /usr/lib/llvm-N/bin, newest first,
// where Debian and Ubuntu install unsuffixed LLVM tools (opt, llc) that are
// not on PATH.
func DefaultToolDirs() []string {
	dirs, _ := filepath.Glob("/usr/lib/llvm-*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return compareVersions(llvmVersion(b), llvmVersion(a)) })
	return dirs
}

func llvmVersion(dir string) string {
	return strings.TrimPrefix(filepath.Base(filepath.Dir(dir)), "llvm-")
}

// compareVersions orders dotted numeric versions ("9" < "14" < "14.1").
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return strings.Compare(a, b)
}

// searchDirs is the search path followed by the extra directories, without
// duplicates and without relative entries (a "." on PATH would let the
// project being built choose our compiler).
func (d *Discovery) searchDirs() []string {
	path := d.searchPath
	if path == "" {
		path = os.Getenv("PATH")
	}
	extra := d.extraDirs
	if extra == nil {
		extra = DefaultToolDirs()
	}
	var dirs []string
	for _, dir := range append(filepath.SplitList(path), extra...) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		dir = filepath.Clean(dir)
		if !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
	}
	return dirs
}

// toolRecord is the tools cache's value, keyed by the path the tool was
// found at.
type toolRecord struct {
	Tool Tool      `json:"tool"`
	ID   change.ID `json:"id"` // identity of RealPath when Version was read
}

// toolCall is a version probe in flight, shared by concurrent callers.
type toolCall struct {
	done    chan struct{}
	version string // set before done is closed
	err     error
}

// GetTool finds a tool by name (or an absolute path whose base name is a
// tool's) and reports its version. cached is true when the version came
// from the cache: the tool's file is unchanged since it was last run. The
// search itself is a few stat calls and is always redone, so a tool
// installed earlier on the path, or removed, is noticed at once.
func (d *Discovery) GetTool(name string) (Tool, bool, error) {
	path, err := d.findTool(name)
	if err != nil {
		return Tool{}, false, err
	}
	id, fi, err := change.Stat(path)
	if err != nil {
		return Tool{}, false, fmt.Errorf("discovery: tool %s: %w", path, err)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return Tool{}, false, fmt.Errorf("discovery: tool %s: %w", path, err)
	}
	rec, ok := d.cachedTool(path, real, id)
	if ok {
		d.toolStats.hit(true)
		rec.Tool.Name = name
		return rec.Tool, true, nil
	}
	d.toolStats.hit(false)
	if rec.Tool.Path != "" {
		d.log.Debug("discovery: tool changed", "path", path, "was", rec.ID, "now", id)
	}
	t := Tool{Name: name, Path: path, RealPath: real, Size: fi.Size(), ModTime: fi.ModTime().UTC()}
	if t.Version, err = d.probeVersion(toolRecord{Tool: t, ID: id}); err != nil {
		return Tool{}, false, err
	}
	return t, false, nil
}

// cachedTool returns the tools cache's record for path if it is still
// current: same file identity, same symlink target.
func (d *Discovery) cachedTool(path, real string, id change.ID) (toolRecord, bool) {
	var rec toolRecord
	ok := getJSON(d.tools, toolKey(path), &rec) && rec.ID == id && rec.Tool.RealPath == real
	return rec, ok
}

func toolKey(path string) string { return "tool:" + path }

// findTool returns the path of the first executable called name in the
// search directories.
func (d *Discovery) findTool(name string) (string, error) {
	if strings.ContainsRune(name, '/') {
		if !filepath.IsAbs(name) || !toolNameRE().MatchString(filepath.Base(name)) {
			return "", fmt.Errorf("discovery: %w %q: want a tool name or an absolute path to one of %s", ErrUnknownTool, name, strings.Join(knownTools, ", "))
		}
		p := filepath.Clean(name)
		if isExecutable(p) {
			return p, nil
		}
		return "", &ToolNotFoundError{Name: filepath.Base(p), Searched: []string{filepath.Dir(p)}}
	}
	if !toolNameRE().MatchString(name) {
		return "", fmt.Errorf("discovery: %w %q: known tools are %s, optionally with a target prefix or version suffix", ErrUnknownTool, name, strings.Join(knownTools, ", "))
	}
	dirs := d.searchDirs()
	for _, dir := range dirs {
		if p := filepath.Join(dir, name); isExecutable(p) {
			return p, nil
		}
	}
	return "", &ToolNotFoundError{Name: name, Searched: dirs}
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// probeVersion runs the tool rec describes to read its version and
// caches the result, once for all concurrent callers asking about the same
// file. The cache is written before the probe leaves toolInflight, so a
// caller that finds no probe under toolMu finds its result in the cache.
func (d *Discovery) probeVersion(rec toolRecord) (string, error) {
	flight := rec.Tool.Path + "\x00" + fmt.Sprint(rec.ID)
	d.toolMu.Lock()
	if c, ok := d.toolInflight[flight]; ok {
		d.toolMu.Unlock()
		<-c.done
		return c.version, c.err
	}
	if done, ok := d.cachedTool(rec.Tool.Path, rec.Tool.RealPath, rec.ID); ok {
		d.toolMu.Unlock() // a probe finished since the caller looked
		return done.Tool.Version, nil
	}
	c := &toolCall{done: make(chan struct{})}
	d.toolInflight[flight] = c
	d.toolMu.Unlock()

	c.version, c.err = d.runVersion(rec.Tool.Path)
	if c.err == nil {
		rec.Tool.Version = c.version
		d.putJSON(d.tools, toolKey(rec.Tool.Path), rec)
	}

	d.toolMu.Lock()
	delete(d.toolInflight, flight)
	d.toolMu.Unlock()
	close(c.done)
	return c.version, c.err
}

// runVersion returns the first non-empty line a version command prints.
// A tool that prints nothing useful for any of them gets version "": it is
// still the tool, and rerunning it would not help.
func (d *Discovery) runVersion(path string) (string, error) {
	var lastErr error
	for _, args := range versionArgs(baseToolName(filepath.Base(path))) {
		ctx, cancel := context.WithTimeout(context.Background(), versionTimeout)
		cmd := exec.CommandContext(ctx, path, args...)
		// "/" as the working directory: no build files there for a tool
		// that takes an unknown word as a target, and nothing writable.
		cmd.Dir = "/"
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		cmd.WaitDelay = time.Second
		err := cmd.Run()
		timedOut := ctx.Err() == context.DeadlineExceeded
		cancel()
		if timedOut {
			return "", fmt.Errorf("discovery: %s %s: no answer within %v", path, strings.Join(args, " "), versionTimeout)
		}
		if err == nil {
			if line := firstLine(out.Bytes()); line != "" {
				return line, nil
			}
			if line := firstLine(errOut.Bytes()); line != "" {
				return line, nil
			}
		}
		lastErr = err
	}
	d.log.Warn("discovery: tool printed no version", "path", path, "err", lastErr)
	return "", nil
}

// baseToolName strips a target prefix and version suffix: the name a
// tool is known by in versionArgs.
func baseToolName(name string) string {
	if m := toolNameRE().FindStringSubmatch(name); m != nil {
		return m[1]
	}
	return name
}

// maxVersionLen bounds a version string; real ones are under 100 bytes.
const maxVersionLen = 200

func firstLine(b []byte) string {
	for line := range strings.SplitSeq(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			if len(line) > maxVersionLen {
				line = line[:maxVersionLen]
			}
			return line
		}
	}
	return ""
}

// toolProbeParallelism bounds the version probes Tools runs at once: enough
// to hide process start-up, few enough not to swamp a 2-core machine.
const toolProbeParallelism = 8

// Tools lists every known tool found on this machine, including versioned
// names (clang-14, llvm-link-14) present in the search directories, sorted
// by name. Tools that cannot be probed are left out and logged.
func (d *Discovery) Tools() []Tool {
	names := slices.Clone(knownTools)
	for _, dir := range d.searchDirs() {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if versionedRE().MatchString(e.Name()) && !slices.Contains(names, e.Name()) {
				names = append(names, e.Name())
			}
		}
	}
	slices.Sort(names)
	found := make([]*Tool, len(names))
	sem := make(chan struct{}, toolProbeParallelism)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			t, _, err := d.GetTool(name)
			var nf *ToolNotFoundError
			switch {
			case err == nil:
				found[i] = &t
			case !errors.As(err, &nf):
				d.log.Warn("discovery: tool probe failed", "tool", name, "err", err)
			}
		})
	}
	wg.Wait()
	out := make([]Tool, 0, len(names))
	for _, t := range found {
		if t != nil {
			out = append(out, *t)
		}
	}
	return out
}
