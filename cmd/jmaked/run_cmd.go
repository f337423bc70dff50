package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/jmake/jmake/internal/buildapi"
	"github.com/jmake/jmake/internal/orchestrator"
	"github.com/jmake/jmake/internal/project"
	"github.com/jmake/jmake/internal/render"
	"github.com/jmake/jmake/internal/server"
	"github.com/jmake/jmake/internal/toolenv"
)

// projectArgs splits [dir] [name...] as buildapi.ProjectArgs does (the
// small client splits a build's arguments with it too).
func projectArgs(args []string) (string, []string, error) { return buildapi.ProjectArgs(args) }

// profileFlags adds --profile and --sanitize.
func profileFlags(cmd *cobra.Command, sel *orchestrator.Select) {
	cmd.Flags().StringVar(&sel.Profile, "profile", "", "build profile: debug (-O0 -g) or release (-O2 -DNDEBUG), each in build/<profile>")
	cmd.Flags().StringSliceVar(&sel.Sanitize, "sanitize", nil, "sanitizers for compiles and links, e.g. address,undefined")
}

// buildQuiet builds for run, test and install: progress and the summary
// go to stderr, so stdout is the program's.
func buildQuiet(ctx context.Context, g *globals, req orchestrator.BuildRequest, noDaemon bool, stderr io.Writer) (*orchestrator.BuildResult, error) {
	env, err := g.env()
	if err != nil {
		return nil, err
	}
	// The caller's tools, as a build from the same shell would use.
	req.Env, req.Color = toolenv.FromOS(), render.NewPalette(stderr).On
	status := render.NewStatusLine(stderr, false)
	var res *orchestrator.BuildResult
	if noDaemon {
		p, closeFn, perr := server.LocalPipeline(env, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
		if perr != nil {
			return nil, perr
		}
		defer closeFn()
		res, err = p.Build(ctx, req, status.Event)
	} else {
		res, _, err = buildViaDaemons(ctx, env, req, status, stderr)
	}
	status.Finish()
	if rerr := render.Report(res, nil, err, true, status, stderr, stderr); rerr != nil {
		return nil, rerr
	}
	if res == nil {
		return nil, errors.New("build failed: no result")
	}
	return res, nil
}

// targetOf finds a built target by name.
func targetOf(res *orchestrator.BuildResult, name string) (orchestrator.TargetOutcome, bool) {
	for _, t := range res.Targets {
		if t.Name == name {
			return t, true
		}
	}
	return orchestrator.TargetOutcome{}, false
}

func runCmd(g *globals) *cobra.Command {
	var sel orchestrator.Select
	var noDaemon bool
	cmd := &cobra.Command{
		Use:   "run [dir] <program> [-- args...]",
		Short: "Build a program of the project if needed, then run it with the given arguments; exits with its status",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			own := args
			var progArgs []string
			if n := cmd.ArgsLenAtDash(); n >= 0 {
				own, progArgs = args[:n], args[n:]
			}
			dir, names, err := projectArgs(own)
			if err != nil {
				return err
			}
			if len(names) != 1 {
				return fmt.Errorf("run: name one program (got %q)", names)
			}
			sel.Targets = names
			res, err := buildQuiet(cmd.Context(), g, orchestrator.BuildRequest{Path: dir, Select: sel}, noDaemon, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			t, ok := targetOf(res, names[0])
			if !ok || (t.Kind != project.KindProgram && t.Kind != project.KindTest) {
				return fmt.Errorf("run: %s: target %q is not a program", filepath.Join(dir, project.FileName), names[0])
			}
			return runProgram(cmd.Context(), t.Output, progArgs, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	profileFlags(cmd, &sel)
	cmd.Flags().BoolVar(&noDaemon, "no-daemon", false, "build in-process, without the daemons")
	return cmd
}

// runProgram runs path with the caller's streams and returns its exit
// status as an *exitError (nil for 0).
func runProgram(ctx context.Context, path string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := exec.CommandContext(ctx, path, args...)
	c.Stdin, c.Stdout, c.Stderr = stdin, stdout, stderr
	err := c.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code := ee.ExitCode()
		if code < 0 {
			// Killed by a signal: the shell's convention, 128+signal.
			code = 128 + signalOf(ee)
		}
		return &exitError{code: code}
	}
	if err != nil {
		return fmt.Errorf("run %s: %w", path, err)
	}
	return nil
}

// signalOf is the signal that ended a process, or 0.
func signalOf(ee *exec.ExitError) int {
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return int(ws.Signal())
	}
	return 0
}
