// Package buildapi holds the shapes of a build on the wire: the request
// `jmake build` sends the orchestrator, the progress events it streams back
// and the reply that ends the stream. The orchestrator (which names them
// through aliases), the full program and the small `jmake` client all use
// these, so the three cannot drift; the package imports nothing heavier
// than toolenv, so the small client stays small.
package buildapi

import "github.com/jmake/jmake/internal/toolenv"

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
}

// StageTime is how long one stage took.
type StageTime struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	Cached  bool    `json:"cached"`
}

// BuildResult is the orchestrator's reply to a build.
type BuildResult struct {
	Path           string      `json:"path"`
	Output         string      `json:"output"`
	Units          int         `json:"units"`
	Compiled       int         `json:"compiled"`
	Cached         int         `json:"cached"`
	UpToDate       int         `json:"up_to_date"`
	Linked         bool        `json:"linked"`
	ElapsedSeconds float64     `json:"elapsed_seconds"`
	Stages         []StageTime `json:"stages"`
	Warnings       []string    `json:"warnings,omitempty"`
	Explain        []string    `json:"explain,omitempty"`
	Diagnostics    string      `json:"diagnostics,omitempty"`
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
