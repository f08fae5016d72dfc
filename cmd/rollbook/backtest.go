package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rollbook/rollbook/gameday"
	"github.com/rollbook/rollbook/internal/analysis"
	"github.com/rollbook/rollbook/internal/config"
)

// gamedayBacktestCmd answers "would this policy have rolled back during
// last Tuesday's incident, and when?" from a Prometheus's history.
func gamedayBacktestCmd(g *globals) *cobra.Command {
	var (
		prom, from, to, out string
		canary, stable      string
		step                time.Duration
	)
	cmd := &cobra.Command{
		Use:   "backtest PLAN --prometheus URL --from T --to T",
		Short: "Evaluate a plan's exported analysis over a past time range of a Prometheus",
		Long: "Sends each trigger's exported query (the text rollbook export writes) to --prometheus as a range query\n" +
			"and decides every step with the exported conditions, as the controller would have: the report has a\n" +
			"drill's timeline, marked as a backtest, and says when the policy would have fired, or that it would not.\n" +
			"Times are RFC 3339 (2026-11-24T14:00:00Z) or now; --canary-hash and --stable-hash are the two releases'\n" +
			"rollouts_pod_template_hash values in that range.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			if prom == "" {
				return fmt.Errorf("--prometheus is required: the URL of the Prometheus to read (for example http://prometheus.monitoring:9090)")
			}
			start, err := parseTime("--from", from)
			if err != nil {
				return err
			}
			end, err := parseTime("--to", to)
			if err != nil {
				return err
			}
			p, dir, err := loadPlan(args[0])
			if err != nil {
				return err
			}
			cfg, err := config.Load(g.dir)
			if err != nil {
				return err
			}
			pol, err := gameday.PolicyFromPlan(p, dir, 1, 0)
			if err != nil {
				return err
			}
			// A real Prometheus has the site's own series: its promql:
			// queries are the ones exported.
			if pol.Checks, err = analysis.Checks(p, cfg.PromQL); err != nil {
				return err
			}
			rep, err := gameday.Backtest(cmd.Context(), gameday.BacktestOptions{Policy: pol, Prometheus: prom, From: start, To: end, Step: step, Canary: canary, Stable: stable})
			if err != nil {
				return err
			}
			for _, e := range rep.Timeline {
				fmt.Fprintf(w, "%s %s %s\n", start.Add(e.At).UTC().Format(time.RFC3339), e.Type, e.Message)
			}
			if out == "" {
				out = cfg.Path(cfg.DrillsDir)
			}
			jp, _, err := gameday.WriteReport(rep, out)
			if err != nil {
				return err
			}
			verdict := "no trigger would have fired"
			if rep.Backtest.FiredAt != nil {
				verdict = fmt.Sprintf("%s at %s", rep.FinalState, rep.Backtest.FiredAt.UTC().Format(time.RFC3339))
			}
			fmt.Fprintf(w, "backtest: %s; report %s\n", verdict, jp)
			return nil
		},
	}
	cmd.Flags().StringVar(&prom, "prometheus", "", "URL of the Prometheus to read")
	cmd.Flags().StringVar(&from, "from", "", "start of the range (RFC 3339)")
	cmd.Flags().StringVar(&to, "to", "now", "end of the range (RFC 3339, or now)")
	cmd.Flags().DurationVar(&step, "step", 0, "time between two analyses (default: the plan's analysis.interval)")
	cmd.Flags().StringVar(&canary, "canary-hash", "canary", "the canary's rollouts_pod_template_hash in the range")
	cmd.Flags().StringVar(&stable, "stable-hash", "stable", "the stable release's rollouts_pod_template_hash in the range")
	cmd.Flags().StringVar(&out, "out", "", "folder for the report (default: drills_dir from rollbook.yaml, or drills)")
	return cmd
}

func parseTime(flag, s string) (time.Time, error) {
	if strings.EqualFold(s, "now") {
		return time.Now(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: write a time such as 2026-11-24T14:00:00Z, or now", flag, s)
	}
	return t, nil
}
