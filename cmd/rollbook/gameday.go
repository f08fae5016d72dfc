package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/rollbook/rollbook/gameday"
	"github.com/rollbook/rollbook/internal/argoengine"
	"github.com/rollbook/rollbook/internal/config"
	"github.com/rollbook/rollbook/internal/drillagent"
	"github.com/rollbook/rollbook/internal/drillreport"
	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/scenario"
)

func init() {
	extraCommands = append(extraCommands, func(root *cobra.Command, g *globals) {
		root.AddCommand(gamedayCmd(g), agentCmd())
	})
}

func agentCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "agent ROLE [flags]",
		Short:              "Run a drill container role (used inside drill images)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := drillagent.Main(cmd.Context(), args); code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
}

func gamedayCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "gameday", Short: "Drill plans' rollback policies against real containers"}
	cmd.AddCommand(gamedayRunCmd(g), gamedayDueCmd(g), gamedayBacktestCmd(g))
	return cmd
}

func gamedayRunCmd(g *globals) *cobra.Command {
	var (
		scenarios []string
		f         drillFlags
	)
	cmd := &cobra.Command{
		Use:   "run PLAN",
		Short: "Drill one plan: start the service in containers, ship a bad canary, check the policy",
		Long: "Drill one plan's rollback policy. PLAN is the plan's file (content/payments/api.md).\n" +
			"Scenarios default to the plan's gameday.scenarios, or all of them:\n" + scenario.Help() +
			"Reports are written to --out as JSON and JUnit XML; the exit code is 1 when any assertion fails.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			p, dir, err := loadPlan(args[0])
			if err != nil {
				return err
			}
			cfg, err := config.Load(g.dir)
			if err != nil {
				return err
			}
			s := f.session(g, cfg, w)
			if s.Engine, err = gameday.ParseEngine(f.engine); err != nil {
				return err
			}
			if s.Engine == gameday.EngineArgo {
				if s.ArgoBin, err = argoengine.FindBin(f.argoBin, cfg.Root); err != nil {
					return err
				}
				if !cmd.Flags().Changed("timeout") {
					s.Timeout = 0 // the Argo engine's own default, which holds its cluster's start
				}
			}
			t, err := s.Drill(cmd.Context(), p, dir, scenarios)
			if err != nil {
				return drillError(w, err)
			}
			if t.Failed > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&scenarios, "scenario", nil, "scenario to run (repeatable); default: the plan's gameday.scenarios")
	cmd.Flags().StringVar(&f.out, "out", "", "folder for reports (default: drills_dir from rollbook.yaml, or drills)")
	cmd.Flags().StringVar(&f.agent, "agent", "", "static rollbook-agent binary for the drill images (default: found or built)")
	cmd.Flags().StringVar(&f.dbImage, "db-image", "", "database image to use instead of building one from the local PostgreSQL (for example postgres:16)")
	cmd.Flags().StringVar(&f.promImage, "prometheus-image", "", "Prometheus image to use instead of building one from the local Prometheus (for example prom/prometheus:v2.53.0)")
	cmd.Flags().Float64Var(&f.scale, "time-scale", 0, "divide plan durations by this (default: the whole canary in about 15 s)")
	cmd.Flags().Float64Var(&f.rate, "rate", gameday.DefaultRate, "load generator requests per second")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 3*time.Minute, "limit per scenario")
	cmd.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "print only results")
	cmd.Flags().StringVar(&f.engine, "engine", string(gameday.EngineBuiltin), "what runs the rollout: builtin (rollbook's controller) or argo (the Argo Rollouts controller on the plan's export; make argo-controlplane first)")
	cmd.Flags().StringVar(&f.argoBin, "argo-bin", "", "folder of the Argo engine's cluster programs (default: $ROLLBOOK_ARGO_BIN, else internal/argo/controlplane/bin of the project)")
	return cmd
}

// drillFlags are the flags of the commands that drill.
type drillFlags struct {
	out, agent         string
	dbImage, promImage string
	scale, rate        float64
	timeout            time.Duration
	quiet              bool
	engine, argoBin    string
}

// session is a drill session with the flags and rollbook.yaml's settings,
// printing its progress to w.
func (f drillFlags) session(g *globals, cfg *config.Config, w io.Writer) *gameday.Session {
	out := f.out
	if out == "" {
		out = cfg.Path(cfg.DrillsDir)
	}
	return &gameday.Session{
		Root: cfg.Root, Reports: out,
		AgentBinary: f.agent, DBImage: f.dbImage, PrometheusImage: f.promImage,
		Scale: f.scale, Rate: f.rate, Timeout: f.timeout,
		PromQL: cfg.PromQL, LockBudget: cfg.LockBudget(),
		Log: g.logger(), Trace: trace(w, f.quiet),
	}
}

// trace prints a session's progress: every event of each timeline unless
// quiet, and each scenario's report.
func trace(w io.Writer, quiet bool) *gameday.Trace {
	t := &gameday.Trace{
		OrphansRemoved: func(n int) { fmt.Fprintf(w, "removed %d object(s) left by a killed drill\n", n) },
		BuildingImages: func() { fmt.Fprintf(w, "building drill images (cached by content)...\n") },
		Drilling: func(p *plan.Plan, pol gameday.Policy, scenarios []string) {
			fmt.Fprintf(w, "drilling %s: %d scenario(s), time scale %.0fx, load %.0f req/s\n", p.Path, len(scenarios), pol.Scale, pol.Rate)
		},
		Scenario: func(name string) { fmt.Fprintf(w, "\n== %s\n", name) },
		Report:   func(rep *gameday.Report, jp, xp string) { printReport(w, rep, jp, xp) },
		Drilled: func(_ *plan.Plan, t gameday.Tally) {
			if t.Failed > 0 {
				fmt.Fprintf(w, "\n%d of %d scenario(s) failed\n", t.Failed, t.Scenarios)
			} else {
				fmt.Fprintf(w, "\nall %d scenario(s) passed\n", t.Scenarios)
			}
		},
		Due: func(s gameday.Scheduled) {
			mark := "not due"
			if s.Due {
				mark = "DUE"
			}
			over := ""
			if s.Overdue {
				over = " (overdue)"
			}
			fmt.Fprintf(w, "%-8s %s%s: %s\n", mark, s.File, over, s.Reason)
		},
		Busy: func(s gameday.Scheduled) { fmt.Fprintf(w, "         %s is being drilled by another runner\n", s.File) },
	}
	if !quiet {
		t.Event = progress(w)
	}
	return t
}

// drillError is a session's error as the command ends on it: an
// interrupted drill exits 130, as a shell does on Ctrl-C.
func drillError(w io.Writer, err error) error {
	if errors.Is(err, gameday.ErrInterrupted) {
		fmt.Fprintln(w, gameday.ErrInterrupted)
		return exitError{130}
	}
	return err
}

// printReport prints one scenario's report: what users saw, each
// assertion, each migration and the verdict with the report's files.
func printReport(w io.Writer, rep *gameday.Report, jp, xp string) {
	if rep.Headline != "" {
		fmt.Fprintf(w, "  OUTAGE: %s\n", rep.Headline)
	}
	for _, a := range rep.Assertions {
		mark := "ok  "
		if !a.Passed {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s %s: %s\n", mark, a.Name, a.Message)
		for _, f := range a.Failures {
			fmt.Fprintf(w, "         users got: %s\n", f)
		}
	}
	for _, m := range rep.Migrations {
		state := "applied"
		if !m.Applied {
			state = "not applied"
		}
		if m.Error != "" {
			state += " (" + m.Error + ")"
		}
		fmt.Fprintf(w, "  migration %s (%s, %s): %s", m.ID, m.Runs, m.When, state)
		for _, v := range m.Guard {
			fmt.Fprintf(w, "; %s smoke %s at %d%%", v.Release, map[bool]string{true: "pass", false: "FAIL"}[v.Passed], v.Share)
		}
		fmt.Fprintln(w)
	}
	for _, im := range rep.Impact {
		fmt.Fprintf(w, "  users %-14s %7.0f requests %6.0f failed (%5.1f%%) p99 %4.0f ms\n", im.Phase, im.Requests, im.Failed, 100*im.ErrorRate, 1000*im.P99)
	}
	if rep.BlastRadius != nil {
		fmt.Fprintf(w, "  blast radius: %.0f requests failed before the rollback completed (or the drill ended)\n", *rep.BlastRadius)
	}
	for _, im := range rep.Images {
		fmt.Fprintf(w, "  image %s: %s (%.19s) %s\n", im.Release, im.Ref, im.ID, im.Built)
	}
	if rep.Guard != "" {
		fmt.Fprintf(w, "  guard: %s\n", rep.Guard)
	}
	if a := rep.Argo; a != nil {
		fmt.Fprintf(w, "  argo: Rollout %s, cluster up in %s\n", a.Rollout, a.Startup.Round(time.Millisecond))
		for _, c := range a.Changes {
			fmt.Fprintf(w, "  argo: %s\n", c)
		}
	}
	for _, d := range rep.Disagreements {
		fmt.Fprintf(w, "  DISAGREE with %s (%s) on the %s: %s here, %s there\n", d.OtherEngine, d.OtherRunID, d.What, d.This, d.Other)
	}
	status := "PASS"
	if !rep.Passed {
		status = "FAIL"
	}
	fmt.Fprintf(w, "%s %s [%s]: %s (TTD %s, TTR %s) report %s, %s\n", status, rep.Scenario, rep.EngineOf(), rep.FinalState, secs(rep.TTD, rep.TTDPlan), secs(rep.TTR, rep.TTRPlan), jp, filepath.Base(xp))
}

func secs(drill, planTime *float64) string {
	if drill == nil {
		return "-"
	}
	return fmt.Sprintf("%.2fs, %s in plan time", *drill, time.Duration(*planTime*float64(time.Second)).Round(time.Second))
}

func progress(w io.Writer) func(gameday.Event) {
	return func(e gameday.Event) {
		switch e.Type {
		case drillreport.EventAnalysis:
			fmt.Fprintf(w, "  %7s  [%s] %s\n", e.AtText, e.State, e.Message)
		default:
			fmt.Fprintf(w, "  %7s  %-9s %s\n", e.AtText, e.Type, e.Message)
		}
	}
}

func loadPlan(file string) (*plan.Plan, string, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, "", err
	}
	p, ds := plan.Parse(file, filepath.ToSlash(file), src)
	if errs := ds.Errors(); len(errs) > 0 {
		return nil, "", errs
	}
	return p, filepath.Dir(file), nil
}

func gamedayDueCmd(g *globals) *cobra.Command {
	var (
		since  string
		dryRun bool
		f      = drillFlags{rate: gameday.DefaultRate, timeout: 3 * time.Minute}
	)
	cmd := &cobra.Command{
		Use:   "due",
		Short: "Run every drill whose gameday.schedule is due since its last recorded run",
		Long: "Read every plan's gameday.schedule (cron), compare it with the reports in drills/, and run the\n" +
			"drills that are due. Several runners (a CI schedule, a Kubernetes CronJob) may start at once:\n" +
			"each due drill is claimed atomically in drills/.claims, and a crashed run is re-run next time.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			w := cmd.OutOrStdout()
			cfg, err := config.Load(g.dir)
			if err != nil {
				return err
			}
			o := gameday.DueOptions{Now: time.Now(), DryRun: dryRun}
			if since != "" {
				if o.Since, err = time.Parse(time.RFC3339, since); err != nil {
					return fmt.Errorf("--since %q: write an RFC 3339 time such as 2026-11-24T00:00:00Z", since)
				}
			}
			plans, err := scheduledPlans(ctx, cfg)
			if err != nil {
				return err
			}
			t, err := f.session(g, cfg, w).Due(ctx, plans, o)
			if err != nil {
				return drillError(w, err)
			}
			if t.Failed > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "count schedule activations only after this time (RFC 3339)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what is due without running it")
	cmd.Flags().StringVar(&f.out, "out", "", "folder of reports (default: drills_dir)")
	cmd.Flags().StringVar(&f.agent, "agent", "", "static rollbook-agent binary")
	cmd.Flags().StringVar(&f.dbImage, "db-image", "", "database image to use instead of building one")
	cmd.Flags().StringVar(&f.promImage, "prometheus-image", "", "Prometheus image to use instead of building one")
	cmd.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "print only results")
	return cmd
}

// scheduledPlans reads the plans with a gameday schedule
// (gameday.ScheduledPlans), naming on stderr the files that do not parse.
func scheduledPlans(ctx context.Context, cfg *config.Config) (map[string]*plan.Plan, error) {
	plans, ds, err := gameday.ScheduledPlans(ctx, cfg.Path(cfg.ContentDir), filepath.ToSlash(cfg.ContentDir))
	if err != nil {
		return nil, err
	}
	for _, f := range ds {
		fmt.Fprintf(os.Stderr, "skipping %s\n", f)
	}
	return plans, nil
}
