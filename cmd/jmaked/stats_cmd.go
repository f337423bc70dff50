package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/jmake/jmake/internal/client"
	"github.com/jmake/jmake/internal/lifecycle"
	"github.com/jmake/jmake/internal/server"
	"github.com/jmake/jmake/internal/settings"
)

func statsCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Print the four daemons' statistics as a table (--json: the orchestrator's aggregate)",
		Args:  cobra.NoArgs,
		RunE: g.onEnv(func(cmd *cobra.Command, args []string, env lifecycle.Env) error {
			raw, err := env.Client(settings.Orchestrator).CallRaw(cmd.Context(), "get_stats", []byte("{}"))
			if err != nil {
				return err
			}
			if asJSON {
				fmt.Fprint(cmd.OutOrStdout(), string(raw))
				return nil
			}
			var st statsReply
			if err := json.Unmarshal(raw, &st); err != nil {
				return fmt.Errorf("orchestrator: get_stats: %w", err)
			}
			st.write(cmd.OutOrStdout())
			return nil
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the orchestrator's reply as JSON")
	return cmd
}

// statsReply is the orchestrator's get_stats reply. A daemon that did not
// answer has only Error.
type statsReply struct {
	Daemons map[string]struct {
		client.Stats
		Error string `json:"error"`
	} `json:"daemons"`
	CacheHits    int64                `json:"cache_hits"`
	CacheMisses  int64                `json:"cache_misses"`
	CacheHitRate float64              `json:"cache_hit_rate"`
	Builds       []server.BuildRecord `json:"builds"`
}

// write prints the reply as ccache -s does: a table a person reads, one
// row per daemon cache, then the totals and the last build of each
// project.
func (st statsReply) write(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DAEMON\tPID\tUPTIME\tREQUESTS\tERRORS\tCACHE\tENTRIES\tSIZE\tHITS\tMISSES\tHIT RATE")
	for _, name := range settings.Names() {
		d, ok := st.Daemons[name]
		switch {
		case !ok:
			continue
		case d.Error != "":
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t(%s)\n", name, d.Error)
			continue
		}
		head := fmt.Sprintf("%s\t%d\t%s\t%d\t%d", name, d.PID, round(d.UptimeSeconds), d.Requests, d.Errors)
		caches := slices.Sorted(maps.Keys(d.Caches))
		if len(caches) == 0 {
			fmt.Fprintf(tw, "%s\t-\t\t\t\t\t\n", head)
		}
		for i, c := range caches {
			cs := d.Caches[c]
			if i > 0 {
				head = "\t\t\t\t"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%s\n", head, c, cs.Entries, size(cs.Bytes), cs.Hits, cs.Misses, rate(cs.Hits, cs.Misses))
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\nall daemons: %d hits, %d misses, hit rate %s\n", st.CacheHits, st.CacheMisses, rate(st.CacheHits, st.CacheMisses))
	if len(st.Builds) == 0 {
		return
	}
	slices.SortFunc(st.Builds, func(a, b server.BuildRecord) int { return b.Time.Compare(a.Time) })
	fmt.Fprintln(w, "\nlast build of each project:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECT\tWHEN\tRESULT\tUNITS\tCOMPILED\tFROM CACHE\tSECONDS")
	for _, b := range st.Builds {
		result := "ok"
		if !b.Success {
			result = "failed"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%.3f\n", b.Path, b.Time.Local().Format(time.DateTime), result, b.Units, b.Compiled, b.Cached, b.ElapsedSeconds)
	}
	tw.Flush()
}

// rate is hits/(hits+misses) as a percentage, "-" with no lookups.
func rate(hits, misses int64) string {
	if hits+misses == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(hits)/float64(hits+misses))
}

// size is a byte count in binary units, as ccache -s prints it.
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, suffix := float64(n), ""
	for _, s := range []string{"KiB", "MiB", "GiB", "TiB"} {
		v /= unit
		suffix = s
		if v < unit {
			break
		}
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}

// round is an uptime to the second.
func round(sec float64) string {
	return (time.Duration(sec) * time.Second).String()
}
