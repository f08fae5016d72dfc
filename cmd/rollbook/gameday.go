package main

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rollbook/rollbook/gameday"
	"github.com/rollbook/rollbook/internal/config"
	"github.com/rollbook/rollbook/internal/drillagent"
	"github.com/rollbook/rollbook/internal/drillenv"
	"github.com/rollbook/rollbook/internal/plan"
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
	cmd.AddCommand(gamedayRunCmd(g))
	return cmd
}

func gamedayRunCmd(g *globals) *cobra.Command {
	var (
		scenarios []string
		out       string
		agent     string
		dbImage   string
		scale     float64
		rate      float64
		timeout   time.Duration
		quiet     bool
	)
	cmd := &cobra.Command{
		Use:   "run PLAN",
		Short: "Drill one plan: start the service in containers, ship a bad canary, check the policy",
		Long: "Drill one plan's rollback policy. PLAN is the plan's file (content/payments/api.md).\n" +
			"Scenarios default to the plan's gameday.scenarios, or all of: " + strings.Join(gameday.Scenarios, ", ") + ".\n" +
			"Reports are written to --out as JSON and JUnit XML; the exit code is 1 when any assertion fails.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			w := cmd.OutOrStdout()
			p, dir, err := loadPlan(args[0])
			if err != nil {
				return err
			}
			if len(scenarios) == 0 {
				scenarios = p.Gameday.Scenarios
			}
			if len(scenarios) == 0 {
				scenarios = gameday.Scenarios
			}
			pol, err := gameday.PolicyFromPlan(p, dir, scale, rate)
			if err != nil {
				return err
			}
			if err := drillenv.CheckDocker(ctx); err != nil {
				return err
			}
			bin, err := agentBinary(ctx, agent)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "building drill images (cached by content)...\n")
			agentImg, dbImg, err := gameday.Images(ctx, bin, dbImage)
			if err != nil {
				return err
			}
			if out == "" {
				cfg, err := config.Load(g.dir)
				if err != nil {
					return err
				}
				out = cfg.Path(cfg.DrillsDir)
			}
			fmt.Fprintf(w, "drilling %s: %d scenario(s), time scale %.0fx, load %.0f req/s\n", p.Path, len(scenarios), pol.Scale, pol.Rate)
			failed := 0
			ledger := &gameday.Ledger{}
			for _, sc := range scenarios {
				fmt.Fprintf(w, "\n== %s\n", sc)
				opts := gameday.RunOptions{Policy: pol, Scenario: sc, AgentImage: agentImg, DBImage: dbImg, Timeout: timeout, Ledger: ledger, Log: g.logger()}
				if !quiet {
					opts.OnEvent = progress(w)
				}
				// Each scenario is its own release of the service: the cap
				// counts across releases, so drills get a fresh ledger.
				opts.Ledger = &gameday.Ledger{}
				rep, err := gameday.Run(ctx, opts)
				if err != nil && rep == nil {
					if errors.Is(ctx.Err(), context.Canceled) {
						fmt.Fprintln(w, "interrupted: drill containers removed")
						return exitError{130}
					}
					return err
				}
				if rep == nil {
					continue
				}
				jp, xp, werr := rep.Write(out)
				if werr != nil {
					return werr
				}
				for _, a := range rep.Assertions {
					mark := "ok  "
					if !a.Passed {
						mark = "FAIL"
					}
					fmt.Fprintf(w, "  %s %s: %s\n", mark, a.Name, a.Message)
				}
				status := "PASS"
				if !rep.Passed {
					status = "FAIL"
					failed++
				}
				fmt.Fprintf(w, "%s %s: %s (TTD %s, TTR %s) report %s, %s\n", status, sc, rep.FinalState, secs(rep.TTD, rep.TTDPlan), secs(rep.TTR, rep.TTRPlan), jp, filepath.Base(xp))
				if errors.Is(ctx.Err(), context.Canceled) {
					fmt.Fprintln(w, "interrupted: drill containers removed")
					return exitError{130}
				}
			}
			if failed > 0 {
				fmt.Fprintf(w, "\n%d of %d scenario(s) failed\n", failed, len(scenarios))
				return exitError{1}
			}
			fmt.Fprintf(w, "\nall %d scenario(s) passed\n", len(scenarios))
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&scenarios, "scenario", nil, "scenario to run (repeatable); default: the plan's gameday.scenarios")
	cmd.Flags().StringVar(&out, "out", "", "folder for reports (default: drills_dir from rollbook.yaml, or drills)")
	cmd.Flags().StringVar(&agent, "agent", "", "static rollbook-agent binary for the drill images (default: found or built)")
	cmd.Flags().StringVar(&dbImage, "db-image", "", "database image to use instead of building one from the local PostgreSQL (for example postgres:16)")
	cmd.Flags().Float64Var(&scale, "time-scale", 0, "divide plan durations by this (default: the whole canary in about 15 s)")
	cmd.Flags().Float64Var(&rate, "rate", gameday.DefaultRate, "load generator requests per second")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Minute, "limit per scenario")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only results")
	return cmd
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
		case "analysis":
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

// agentBinary finds a static agent: the flag, rollbook-agent beside this
// binary or on PATH, or a fresh build from the module source.
func agentBinary(ctx context.Context, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	exe, _ := os.Executable()
	var candidates []string
	if exe != "" {
		candidates = append(candidates, filepath.Join(filepath.Dir(exe), "rollbook-agent"))
	}
	if p, err := exec.LookPath("rollbook-agent"); err == nil {
		candidates = append(candidates, p)
	}
	for _, c := range candidates {
		if isStatic(c) {
			return c, nil
		}
	}
	if root := moduleRoot(); root != "" {
		out := filepath.Join(os.TempDir(), "rollbook-agent-build", "rollbook-agent")
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return "", err
		}
		if err := drillenv.BuildAgentBinary(ctx, root, out); err != nil {
			return "", err
		}
		return out, nil
	}
	return "", errors.New("no static drill agent: install one with CGO_ENABLED=0 go install github.com/rollbook/rollbook/cmd/rollbook-agent@latest, or pass --agent")
}

func isStatic(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// moduleRoot finds the rollbook source tree from the working directory.
func moduleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/rollbook/rollbook\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
