// Package buildapi holds the shapes of a build on the wire: the request
// `jmake build` sends the orchestrator, the progress events it streams back
// and the reply that ends the stream. The orchestrator (which names them
// through aliases), the full program and the small `jmake` client all use
// these, so the three cannot drift; the package imports nothing heavier
// than toolenv, so the small client stays small.
package buildapi

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/jmake/jmake/internal/toolenv"
)

// ProjectFile is the name of a project's file.
const ProjectFile = "jmake.toml"

// ProjectArgs splits a command's [dir] [name...]: the first argument is the
// project directory when it is a path (it holds a "/"), a directory holding
// a jmake.toml, or a directory while the current one holds none; otherwise
// every argument is a target's name and the project is the current
// directory. So `jmake build app` in a project with an app/ directory
// builds the target app, and `jmake build ./app` the project in app/. The
// directory comes back absolute.
func ProjectArgs(args []string) (string, []string, error) {
	dir := "."
	if len(args) > 0 {
		st, err := os.Stat(args[0])
		isDir := err == nil && st.IsDir()
		_, ownErr := os.Stat(filepath.Join(args[0], ProjectFile))
		_, cwdErr := os.Stat(ProjectFile)
		if strings.ContainsRune(args[0], os.PathSeparator) || isDir && (ownErr == nil || cwdErr != nil) {
			dir, args = args[0], args[1:]
		}
	}
	abs, err := filepath.Abs(dir)
	return abs, args, err
}

// Event is a progress event of a build, as streamed to the CLI.
type Event struct {
	Event string `json:"event"`           // "stage", "compile", "cache", "link", "rebuild", "warning"
	Stage string `json:"stage,omitempty"` // for "stage"
	Unit  string `json:"unit,omitempty"`
	Done  int    `json:"done,omitempty"`
	Total int    `json:"total,omitempty"`
	Msg   string `json:"msg,omitempty"`
	// Output is what the compiler printed for Unit ("compile", "cache")
	// or the linker for the output ("link"), as it finished.
	Output string `json:"output,omitempty"`
}

// BuildRequest is one build.
type BuildRequest struct {
	Path           string `json:"path"`
	ForceDiscovery bool   `json:"force_discovery,omitempty"`
	ForceCompile   bool   `json:"force_compile,omitempty"` // a clean build
	Quick          bool   `json:"quick,omitempty"`         // reuse the last discovery
	Jobs           int    `json:"jobs,omitempty"`
	Explain        bool   `json:"explain,omitempty"`
	Color          bool   `json:"color,omitempty"`  // coloured diagnostics, for a terminal
	Strict         bool   `json:"strict,omitempty"` // unknown keys in jmake.toml are errors
	// Env is the caller's tool environment (toolenv): the daemons find
	// and run the tools with it, so a build picks what the caller's shell
	// would, with or without the daemons.
	Env toolenv.Env `json:"env,omitzero"`
	Select
}

// Select says which targets of a project a build is for, and how.
type Select struct {
	// Targets names the targets to build (and what they link); none means
	// every library and program (and test, with Tests).
	Targets []string `json:"targets,omitempty"`
	Tests   bool     `json:"tests,omitempty"`
	// Profile is "", "debug" or "release"; Sanitize lists sanitizers
	// (-fsanitize=…). Each combination builds in a directory of its own.
	Profile  string   `json:"profile,omitempty"`
	Sanitize []string `json:"sanitize,omitempty"`
}

// TargetOutcome is one target of a build.
type TargetOutcome struct {
	Name     string   `json:"name"`
	Kind     string   `json:"kind"`             // shared, static, program or test
	Output   string   `json:"output,omitempty"` // absolute
	Symlinks []string `json:"symlinks,omitempty"`
	Dir      string   `json:"dir,omitempty"` // a test's working directory, absolute
	Counts
	// Linker is what the target links with: "lld", "gold", "mold", "bfd",
	// "default" (the compiler driver's choice) or a -fuse-ld= of its link
	// flags; "" for a static library.
	Linker string `json:"linker,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Counts are the units of a build, or of one target of it, and what
// became of them; on the wire their fields stand among the embedder's.
type Counts struct {
	Units    int  `json:"units"`
	Compiled int  `json:"compiled"`
	Cached   int  `json:"cached"`
	UpToDate int  `json:"up_to_date"`
	Linked   bool `json:"linked"`
}

// Add counts o into c: the sums, and linked when either linked.
func (c *Counts) Add(o Counts) {
	c.Units += o.Units
	c.Compiled += o.Compiled
	c.Cached += o.Cached
	c.UpToDate += o.UpToDate
	c.Linked = c.Linked || o.Linked
}

// StageTime is how long one stage took.
type StageTime struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	Cached  bool    `json:"cached"`
}

// BuildResult is the orchestrator's reply to a build.
type BuildResult struct {
	Path   string `json:"path"`
	Output string `json:"output"`
	Counts
	ElapsedSeconds float64     `json:"elapsed_seconds"`
	Stages         []StageTime `json:"stages"`
	Warnings       []string    `json:"warnings,omitempty"`
	Explain        []string    `json:"explain,omitempty"`
	Diagnostics    string      `json:"diagnostics,omitempty"`
	// Targets has one entry per target built, the totals above summing
	// them.
	Targets []TargetOutcome `json:"targets,omitempty"`
	// Failure, on a failed build, says why in a person's words.
	Failure *Failure `json:"failure,omitempty"`
}

// Kinds of Failure: what a person has to do about a failed build, and the
// exit status the CLI gives it.
const (
	FailBuild   = "build"   // a unit did not compile, or the link failed: fix the code
	FailProject = "project" // no project at the path, or its jmake.toml is wrong: fix the file
	FailDaemon  = "daemon"  // a daemon did not answer: start it
)

// Failure says why a build failed, for people: Msg is one or two lines
// naming the thing (a unit, a file, a daemon) and what to do. The layered
// error, with every stage's prefix, stays in the reply's "error" and in the
// daemons' logs.
type Failure struct {
	Kind string `json:"kind"`
	Msg  string `json:"message"`
}
