package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/jmake/jmake/internal/client"
	"github.com/jmake/jmake/internal/lifecycle"
)

func callCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "call <daemon> <function> [json-args]",
		Short: "Call a daemon function and print its JSON reply (exit 1 when success is false)",
		Args:  cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := lifecycle.CheckNames(args[:1]); err != nil {
				return err
			}
			env, err := g.env()
			if err != nil {
				return err
			}
			body := []byte("{}")
			if len(args) == 3 {
				body = []byte(args[2])
				if !json.Valid(body) {
					return fmt.Errorf("arguments %q are not valid JSON", args[2])
				}
			}
			raw, err := env.Client(args[0]).CallRaw(cmd.Context(), args[1], body)
			var ce *client.CallError
			if errors.As(err, &ce) && len(ce.Reply) > 0 {
				fmt.Fprint(cmd.OutOrStdout(), string(ce.Reply))
				return &exitError{code: 1, msg: ce.Msg}
			}
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), string(raw))
			return nil
		},
	}
}

func metricsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "metrics [name]",
		Short: "Print a daemon's Prometheus metrics (all four without a name)",
		Args:  cobra.MaximumNArgs(1),
		RunE: g.onDaemons(func(cmd *cobra.Command, names []string, env lifecycle.Env) error {
			for _, n := range names {
				text, err := env.Client(n).Metrics(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprint(cmd.OutOrStdout(), text)
			}
			return nil
		}),
	}
}
