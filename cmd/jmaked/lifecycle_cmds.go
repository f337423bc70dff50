package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/jmake/jmake/internal/controller"
	"github.com/jmake/jmake/internal/lifecycle"
)

func startCmd(g *globals) *cobra.Command {
	var noPersist, noSupervise bool
	cmd := &cobra.Command{
		Use:   "start [name...]",
		Short: "Start the daemons detached under a supervisor; returns when each answers /healthz",
		RunE: g.onDaemons(func(cmd *cobra.Command, names []string, env lifecycle.Env) error {
			opts := lifecycle.StartOptions{NoPersist: noPersist}
			var c controller.Controller = controller.Supervise(env, opts)
			if noSupervise {
				c = controller.Direct{Env: env, Options: opts}
			}
			return c.Start(cmd.Context(), cmd.OutOrStdout(), names)
		}),
	}
	cmd.Flags().BoolVar(&noPersist, "no-persist", false, "keep caches in memory only")
	cmd.Flags().BoolVar(&noSupervise, "no-supervise", false, "start the daemons alone, without a supervisor to restart them")
	return cmd
}

func stopCmd(g *globals) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "stop [name...]",
		Short: "Stop the daemons gracefully (SIGKILL of the process group after --timeout)",
		RunE: g.onDaemons(func(cmd *cobra.Command, names []string, env lifecycle.Env) error {
			return controller.For(env).Stop(cmd.Context(), cmd.OutOrStdout(), names, timeout)
		}),
	}
	cmd.Flags().DurationVar(&timeout, "timeout", lifecycle.StopTimeout, "how long to wait for a graceful stop before SIGKILL")
	return cmd
}

func statusCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [name...]",
		Short: "Show each daemon: RUNNING, STOPPED, STALE or FOREIGN (its port held by another state dir's daemon); exit 3 unless all run",
		RunE: g.onDaemons(func(cmd *cobra.Command, names []string, env lifecycle.Env) error {
			st := env.Status(cmd.Context(), names)
			w := cmd.OutOrStdout()
			if asJSON {
				b, _ := json.Marshal(map[string]any{"daemons": st})
				fmt.Fprintln(w, string(b))
			} else {
				printStatus(w, st)
			}
			for _, s := range st {
				if s.State != lifecycle.Running {
					return &exitError{code: 3}
				}
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printStatus(w io.Writer, st []lifecycle.DaemonStatus) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	supervised := false
	for _, s := range st {
		supervised = supervised || s.Supervisor != ""
	}
	if supervised {
		fmt.Fprintln(tw, "DAEMON\tSTATE\tPID\tPORT\tUPTIME\tREQUESTS\tHIT RATE\tSUPERVISOR\tRESTARTS\tLAST EXIT\tNOTE")
	} else {
		fmt.Fprintln(tw, "DAEMON\tSTATE\tPID\tPORT\tUPTIME\tREQUESTS\tHIT RATE\tNOTE")
	}
	for _, s := range st {
		pid, up, req, rate := "-", "-", "-", "-"
		if s.State == lifecycle.Foreign {
			pid = fmt.Sprint(s.PID)
		}
		if s.State == lifecycle.Running {
			pid = fmt.Sprint(s.PID)
			up = (time.Duration(s.UptimeSeconds) * time.Second).String()
			req = fmt.Sprint(s.Requests)
			rate = fmt.Sprintf("%.1f%%", s.CacheHitRate*100)
		}
		if supervised {
			exit := s.LastExit
			if exit == "" {
				exit = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.Name, strings.ToUpper(s.State), pid, s.Port, up, req, rate,
				strings.ToUpper(s.Supervisor), s.Restarts, exit, s.Reason)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", s.Name, strings.ToUpper(s.State), pid, s.Port, up, req, rate, s.Reason)
	}
	tw.Flush()
}

func restartCmd(g *globals) *cobra.Command {
	var clean, rolling bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "restart [name...]",
		Short: "Stop and start the daemons; caches are kept unless --clean; --rolling: no failed request",
		RunE: g.onDaemons(func(cmd *cobra.Command, names []string, env lifecycle.Env) error {
			if rolling && clean {
				return fmt.Errorf("restart: --rolling keeps caches warm; it does not go with --clean")
			}
			c := controller.For(env)
			if rolling {
				return c.Rolling(cmd.Context(), cmd.OutOrStdout(), names, timeout)
			}
			return c.Restart(cmd.Context(), cmd.OutOrStdout(), names, clean, timeout)
		}),
	}
	cmd.Flags().BoolVar(&clean, "clean", false, "delete the daemons' caches before starting them again")
	cmd.Flags().BoolVar(&rolling, "rolling", false, "start each new instance on the same port before the old one drains (zero downtime)")
	cmd.Flags().DurationVar(&timeout, "timeout", lifecycle.StopTimeout, "how long to wait for a graceful stop before SIGKILL")
	return cmd
}

func logsCmd(g *globals) *cobra.Command {
	var follow bool
	var lines int
	cmd := &cobra.Command{
		Use:   "logs [name]",
		Short: "Print a daemon's log (all four, one after another, without a name); -f follows",
		Args:  cobra.MaximumNArgs(1),
		RunE: g.onDaemons(func(cmd *cobra.Command, names []string, env lifecycle.Env) error {
			w := cmd.OutOrStdout()
			if follow {
				if len(names) != 1 {
					return fmt.Errorf("logs -f follows one daemon: name it")
				}
				return followFile(cmd.Context(), w, env.LogFile(names[0]), lines)
			}
			for _, n := range names {
				if len(names) > 1 {
					fmt.Fprintf(w, "==> %s <==\n", env.LogFile(n))
				}
				if err := printTail(w, env.LogFile(n), lines); err != nil {
					return err
				}
			}
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing as the log grows")
	cmd.Flags().IntVarP(&lines, "lines", "n", 50, "how many of the last lines to print")
	return cmd
}

// printTail prints the last n lines of path and returns the size printed up to.
func printTail(w io.Writer, path string, n int) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	ls := strings.SplitAfter(string(data), "\n")
	if ls[len(ls)-1] == "" {
		ls = ls[:len(ls)-1]
	}
	if n >= 0 && len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	_, err = io.WriteString(w, strings.Join(ls, ""))
	return err
}

// followFile prints the tail of path, then what is appended, until ctx ends
// (Ctrl-C). A rotated log (a new, smaller file) is followed from its start.
func followFile(ctx context.Context, w io.Writer, path string, n int) error {
	if err := printTail(w, path, n); err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	off := fi.Size()
	// A quarter second is below what a person notices in a scrolling log
	// and costs one stat per tick.
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		fi, err := os.Stat(path)
		if err != nil {
			continue
		}
		if fi.Size() < off {
			off = 0
		}
		if fi.Size() == off {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		f.Seek(off, io.SeekStart)
		m, _ := io.Copy(w, f)
		f.Close()
		off += m
	}
}
