package orchestrator

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/jmake/jmake/internal/buildapi"
	"github.com/jmake/jmake/internal/client"
	"github.com/jmake/jmake/internal/project"
)

// Kinds of Failure, as buildapi defines them.
const (
	FailBuild   = buildapi.FailBuild
	FailProject = buildapi.FailProject
	FailDaemon  = buildapi.FailDaemon
)

// Failure says why a build failed, for people (buildapi.Failure).
type Failure = buildapi.Failure

// ConfigError is a stage's error that the project's files or the caller's
// environment cause (a compiler they name is missing): the caller's to
// fix.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// CheckRoot reports a build path that is not a project, in the words a
// person needs: a missing directory, or one without a jmake.toml.
func CheckRoot(root string) *Failure {
	st, err := os.Stat(root)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return &Failure{Kind: FailProject, Msg: fmt.Sprintf("%s does not exist: pass the directory that holds jmake.toml", root)}
	case err != nil:
		return &Failure{Kind: FailProject, Msg: err.Error()}
	case !st.IsDir():
		return &Failure{Kind: FailProject, Msg: fmt.Sprintf("%s is not a directory: pass the directory that holds jmake.toml", root)}
	}
	if _, err := os.Stat(filepath.Join(root, project.FileName)); errors.Is(err, os.ErrNotExist) {
		return &Failure{Kind: FailProject, Msg: fmt.Sprintf("No jmake.toml in %s: run `jmake init` there, or pass the project directory.", root)}
	}
	return nil
}

// invalidConfig is the failure of a jmake.toml with errors: each error on
// its own line, as file:line:col: error: message.
func invalidConfig(errs []string) *Failure {
	return &Failure{Kind: FailProject, Msg: strings.Join(errs, "\n")}
}

// classify turns a stage's error into a Failure.
func classify(stage string, err error) *Failure {
	var down *client.DownError
	if errors.As(err, &down) {
		return &Failure{Kind: FailDaemon, Msg: fmt.Sprintf("the %s daemon at %s is not running: start it with `jmake start %s`", down.Name, down.Addr, down.Name)}
	}
	var ce *client.CallError
	if errors.As(err, &ce) && ce.Status == http.StatusServiceUnavailable {
		return &Failure{Kind: FailDaemon, Msg: ce.Msg}
	}
	var ie *client.InterruptedError
	if errors.As(err, &ie) {
		return &Failure{Kind: FailDaemon, Msg: fmt.Sprintf("the %s daemon at %s stopped during the build, and sending the call again did not succeed: see `jmake status` and `jmake logs %s`", ie.Name, ie.Addr, ie.Name)}
	}
	var cf *CompileFailed
	if errors.As(err, &cf) {
		return &Failure{Kind: FailBuild, Msg: cf.Summary}
	}
	var cfe *ConfigError
	if stage != "compilation" || errors.As(err, &cfe) || (errors.As(err, &ce) && ce.Status == http.StatusBadRequest) {
		return &Failure{Kind: FailProject, Msg: lastLayer(err)}
	}
	return &Failure{Kind: FailBuild, Msg: lastLayer(err)}
}

// lastLayer is an error's message without the "stage: function: " prefixes
// each layer added on the way, which say where in jmake it failed, not what
// is wrong: the part after the last prefix that is a plain word.
func lastLayer(err error) string {
	msg := err.Error()
	for {
		head, rest, ok := strings.Cut(msg, ": ")
		if !ok || !isLayerName(head) {
			return msg
		}
		msg = rest
	}
}

// isLayerName reports a prefix that names a part of jmake (discovery,
// scan_files, validate_config), not a file, unit or daemon address.
func isLayerName(s string) bool {
	switch s {
	case "discovery", "setup", "compilation", "orchestrator", "compile", "validate",
		"scan", "scan_files", "validate_config", "build_project":
		return true
	}
	return false
}
