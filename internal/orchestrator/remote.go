package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/jmake/jmake/internal/client"
	"github.com/jmake/jmake/internal/toolenv"
)

// Remote satisfies the pipeline's interfaces by calling the other daemons
// over HTTP, so each of them can be restarted on its own.
type Remote struct {
	Discovery, Setup, Compilation *client.Client
}

// Pipeline returns a pipeline that calls the daemons.
func (r *Remote) Pipeline() *Pipeline {
	return &Pipeline{Discovery: remoteDiscovery{r.Discovery}, Setup: remoteSetup{r.Setup}, Compilation: remoteCompiler{r.Compilation}}
}

type remoteDiscovery struct{ c *client.Client }

func (r remoteDiscovery) ScanFiles(ctx context.Context, root string, force bool, known string) (Files, error) {
	var f Files
	err := r.c.Call(ctx, "scan_files", map[string]any{"path": root, "force": force, "known": known, "sources_only": true}, &f)
	return f, err
}

type remoteSetup struct{ c *client.Client }

func (r remoteSetup) ValidateConfig(ctx context.Context, root string, env toolenv.Env) (Validation, error) {
	var v Validation
	err := r.c.Call(ctx, "validate_config", map[string]any{"path": root, "env": env}, &v)
	return v, err
}

type remoteCompiler struct{ c *client.Client }

func (r remoteCompiler) Compile(ctx context.Context, req CompileRequest, progress func(Event)) (CompileResult, error) {
	var res CompileResult
	err := r.c.CallStream(ctx, "compile", req, func(line json.RawMessage) {
		var ev Event
		if json.Unmarshal(line, &ev) == nil && progress != nil {
			progress(ev)
		}
	}, &res)
	var ce *client.CallError
	if errors.As(err, &ce) && res.Diagnostics != "" {
		return res, &CompileFailed{Msg: ce.Msg, Summary: res.Summary, Diagnostics: res.Diagnostics}
	}
	if errors.As(err, &ce) && ce.Status == http.StatusConflict {
		return res, ErrUnknownSources
	}
	if err == nil && res.NotNoop {
		return res, ErrNotNoop
	}
	return res, err
}

// CompileFailed is a compilation that ran and failed: the compiler's
// diagnostics are in Diagnostics, verbatim; Summary names the units that
// failed (or the link) in one line.
type CompileFailed struct {
	Msg         string
	Summary     string
	Diagnostics string
}

func (e *CompileFailed) Error() string { return e.Msg }
