package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rollbook/rollbook/internal/config"
	"github.com/rollbook/rollbook/internal/export"
)

func init() {
	extraCommands = append(extraCommands, func(root *cobra.Command, g *globals) {
		root.AddCommand(exportCmd(g))
	})
}

func exportCmd(g *globals) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export " + strings.Join(export.TargetKeys(), "|") + " PLAN",
		Short: "Export a plan's drilled rollback policy as Argo Rollouts or Flagger manifests",
		Long: "Write the plan's canary steps, analysis interval and triggers as an Argo Rollouts strategy with\n" +
			"AnalysisTemplates, or a Flagger Canary with MetricTemplates (YAML to stdout, or files in -o DIR).\n" +
			"What the controller cannot express is listed on stderr. A plan whose rollback must not be automatic\n" +
			"(a contract migration, or rollback.automatic: false) never yields a manifest that auto-reverts.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, dir, err := loadPlan(args[1])
			if err != nil {
				return err
			}
			cfg, err := config.Load(g.dir)
			if err != nil {
				return err
			}
			in := export.Input{Plan: p, Dir: dir, PromQL: cfg.PromQL}
			target, ok := export.TargetFor(args[0])
			if !ok {
				keys := export.TargetKeys()
				return fmt.Errorf("unknown controller %q: use %s or %s", args[0], strings.Join(keys[:len(keys)-1], ", "), keys[len(keys)-1])
			}
			res, err := target.Export(in)
			if err != nil {
				return err
			}
			for _, w := range res.Warnings {
				fmt.Fprintln(os.Stderr, "warning:", w)
			}
			if out == "" {
				_, err = cmd.OutOrStdout().Write(res.YAML)
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			file := filepath.Join(out, strings.TrimSuffix(filepath.Base(args[1]), ".md")+target.Suffix())
			if err := os.WriteFile(file, res.YAML, 0o644); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "wrote", file)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "folder to write the manifests to (default: stdout)")
	return cmd
}
