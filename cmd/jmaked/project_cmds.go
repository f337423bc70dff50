package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/jmake/jmake/internal/client"
	"github.com/jmake/jmake/internal/controller"
	"github.com/jmake/jmake/internal/daemon"
	"github.com/jmake/jmake/internal/lifecycle"
	"github.com/jmake/jmake/internal/orchestrator"
	"github.com/jmake/jmake/internal/project"
	"github.com/jmake/jmake/internal/render"
	"github.com/jmake/jmake/internal/server"
	"github.com/jmake/jmake/internal/settings"
	"github.com/jmake/jmake/internal/toolenv"
)

// addProjectCommands adds init, build, clean, stats, run, test and install.
func addProjectCommands(root *cobra.Command, g *globals) {
	root.AddCommand(initCmd(g), buildCmd(g), cleanCmd(g), statsCmd(g), runCmd(g), testCmd(g), installCmd(g))
}

type buildFlags struct {
	clean, quick, watch, asJSON, noDaemon, explain, strict bool
	jobs                                                   int
	sel                                                    orchestrator.Select
}

func buildCmd(g *globals) *cobra.Command {
	var f buildFlags
	cmd := &cobra.Command{
		Use:   "build [dir] [target...]",
		Short: "Build the project in dir (default .), or the named targets, through the daemons, starting them if none run",
		RunE: onProject(func(cmd *cobra.Command, abs string, names []string) error {
			f.sel.Targets = names
			return runBuild(cmd.Context(), g, abs, f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		}),
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.clean, "clean", false, "remove build outputs first (the object cache stays)")
	fl.BoolVar(&f.quick, "quick", false, "reuse the last discovery of the project")
	fl.BoolVar(&f.watch, "watch", false, "rebuild whenever a file changes, until interrupted")
	fl.BoolVar(&f.asJSON, "json", false, "print the orchestrator's reply as the last line of stdout")
	fl.BoolVar(&f.noDaemon, "no-daemon", false, "build in-process, without the daemons (same pipeline, same results)")
	fl.BoolVar(&f.explain, "explain", false, "say why each unit was rebuilt")
	fl.BoolVar(&f.strict, "strict", false, "fail on unknown keys in jmake.toml instead of warning")
	fl.IntVarP(&f.jobs, "jobs", "j", 0, "compilers to run at once (default: core count)")
	fl.BoolVar(&f.sel.Tests, "tests", false, "build the tests too (jmake test builds and runs them)")
	profileFlags(cmd, &f.sel)
	return cmd
}

func runBuild(ctx context.Context, g *globals, dir string, f buildFlags, stdout, stderr io.Writer) error {
	env, err := g.env()
	if err != nil {
		return err
	}
	req := orchestrator.BuildRequest{Path: dir, ForceCompile: f.clean, Quick: f.quick, Jobs: f.jobs, Explain: f.explain,
		Color: !f.asJSON && render.NewPalette(stderr).On, Env: toolenv.FromOS(), Strict: f.strict, Select: f.sel}
	status := render.NewStatusLine(stderr, f.asJSON)
	var res *orchestrator.BuildResult
	var raw json.RawMessage
	switch {
	case f.watch:
		return runWatch(ctx, env, req, status, stdout)
	case f.noDaemon:
		p, closeFn, err := server.LocalPipeline(env, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
		if err != nil {
			return err
		}
		defer closeFn()
		res, err = p.Build(ctx, req, status.Event)
		status.Finish()
		if res != nil {
			raw, _ = json.Marshal(withSuccess(res, err))
		}
		return render.Report(res, raw, err, f.asJSON, status, stdout, stderr)
	default:
		res, raw, err = buildViaDaemons(ctx, env, req, status, stderr)
		status.Finish()
		return render.Report(res, raw, err, f.asJSON, status, stdout, stderr)
	}
}

// withSuccess renders a result as the orchestrator daemon would.
func withSuccess(res *orchestrator.BuildResult, err error) map[string]any {
	b, _ := json.Marshal(res)
	var m map[string]any
	json.Unmarshal(b, &m)
	m["success"] = err == nil
	if err != nil {
		m["error"] = err.Error()
	}
	return m
}

// buildViaDaemons calls the orchestrator; when it or a daemon it needs is
// down, it starts what is missing (and says so) and tries once more.
func buildViaDaemons(ctx context.Context, env lifecycle.Env, req orchestrator.BuildRequest, status *render.StatusLine, stderr io.Writer) (*orchestrator.BuildResult, json.RawMessage, error) {
	for attempt := 0; ; attempt++ {
		var res orchestrator.BuildResult
		var raw json.RawMessage
		err := env.Client(settings.Orchestrator).CallStream(ctx, "build_project", req, func(line json.RawMessage) {
			var ev orchestrator.Event
			if json.Unmarshal(line, &ev) == nil {
				status.Event(ev)
			}
		}, &raw)
		if raw != nil {
			json.Unmarshal(raw, &res)
		}
		if attempt == 0 && refusedToken(err) {
			// Our token refused: the daemon on the port is another state
			// dir's (say whose), or one of a state dir removed at our path
			// (start waits for it to go, then starts ours).
			if _, _, oerr := env.PortOwner(ctx, settings.Orchestrator); oerr != nil {
				var held *daemon.PortHeldError
				if !errors.As(oerr, &held) || !held.Replaced {
					return nil, nil, fmt.Errorf("%s: %w", settings.Orchestrator, oerr)
				}
				err = &client.DownError{Name: settings.Orchestrator, Addr: env.Addr(settings.Orchestrator), Err: oerr}
			}
		}
		if attempt == 0 && daemonDown(err) {
			status.Finish()
			// Started as `jmake start` starts them: under a supervisor.
			fmt.Fprintln(stderr, "jmake: starting the daemons (not all were running)")
			if serr := controller.Supervise(env, lifecycle.StartOptions{}).Start(ctx, stderr, settings.Names()); serr != nil {
				return nil, nil, &daemonsUnavailable{serr}
			}
			continue
		}
		if raw == nil {
			return nil, nil, err
		}
		return &res, raw, err
	}
}

// refusedToken reports whether a daemon answered 401: it does not know
// our token.
func refusedToken(err error) bool {
	var ce *client.CallError
	return errors.As(err, &ce) && ce.Status == 401
}

// daemonDown reports an error that starting the daemons may cure: the
// orchestrator not answering, or the orchestrator saying that another
// daemon does not (503).
func daemonDown(err error) bool {
	var de *client.DownError
	var ce *client.CallError
	return errors.As(err, &de) || (errors.As(err, &ce) && ce.Status == 503)
}

func runWatch(ctx context.Context, env lifecycle.Env, req orchestrator.BuildRequest, status *render.StatusLine, stdout io.Writer) error {
	err := env.Client(settings.Orchestrator).CallStream(ctx, "watch_and_build", req, func(line json.RawMessage) {
		var ev orchestrator.Event
		if json.Unmarshal(line, &ev) != nil {
			return
		}
		if ev.Event == "rebuild" {
			status.Finish()
			fmt.Fprintln(stdout, "jmake:", ev.Msg)
			return
		}
		status.Event(ev)
	}, nil)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func cleanCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "clean [dir]",
		Short: "Remove the project's build outputs (the object cache stays)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			if f := orchestrator.CheckRoot(abs); f != nil {
				return &projectError{errors.New(f.Msg)}
			}
			removed, err := project.Clean(dir)
			if err != nil {
				return &projectError{err}
			}
			fmt.Fprintln(cmd.OutOrStdout(), "removed", removed)
			return nil
		},
	}
}
