package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rollbook/rollbook/internal/config"
	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/scaffold"
	"github.com/rollbook/rollbook/site"
)

func buildCmd(g *globals) *cobra.Command {
	var opts site.Options
	var cacheDir func() string
	var external func() *site.External
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Check the plans and build the site into public/",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Root, opts.Logger, opts.CacheDir, opts.External = g.dir, g.logger(), cacheDir(), external()
			batchGC()
			res, err := site.Build(cmd.Context(), opts)
			if fe, ok := site.IsFindings(err); ok {
				_ = fe.Findings.WriteText(os.Stderr)
				fmt.Fprintf(os.Stderr, "build failed: %d error(s), %d warning(s); the last good site was left as it was\n", len(fe.Findings.Errors()), len(fe.Findings.Warnings()))
				return exitError{1}
			}
			if err != nil {
				return err
			}
			_ = res.Findings.WriteText(os.Stderr)
			if res.UpToDate {
				fmt.Fprintf(cmd.OutOrStdout(), "%s is up to date (%s)\n", res.Out, res.Duration.Round(time.Millisecond))
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "built %d pages into %s in %s\n", res.Pages, res.Out, res.Duration.Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().BoolVar(&opts.Drafts, "drafts", false, "include pages marked draft: true")
	cmd.Flags().BoolVar(&opts.Strict, "strict", false, "fail on warnings too")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "rebuild even if nothing changed")
	cmd.Flags().StringVarP(&opts.OutDir, "out", "o", "", "output folder (default: public_dir from rollbook.yaml, or public)")
	cacheDir = cacheDirFlag(cmd)
	external = externalFlags(cmd)
	return cmd
}

// externalFlags adds --external and --external-max-age; resolve gives
// what site.Options.External takes (nil without --external).
func externalFlags(cmd *cobra.Command) (resolve func() *site.External) {
	var on bool
	var maxAge time.Duration
	cmd.Flags().BoolVar(&on, "external", false, "check http(s) links too: a few requests per host at a time, results cached in the cache folder (external_links: in rollbook.yaml lists hosts to skip)")
	cmd.Flags().DurationVar(&maxAge, "external-max-age", 0, "reuse a cached link result checked within this age (default external_links.max_age, 24h; 0 checks every link again)")
	return func() *site.External {
		if !on {
			return nil
		}
		return &site.External{MaxAge: maxAge, MaxAgeSet: cmd.Flags().Changed("external-max-age")}
	}
}

func checkCmd(g *globals) *cobra.Command {
	var (
		strict   bool
		drafts   bool
		format   string
		cacheDir func() string
		external func() *site.External
		since    string
	)
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check every plan against the rules and report file:line:col findings",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return fmt.Errorf("--format %q: use text or json", format)
			}
			ds, err := site.Check(cmd.Context(), site.Options{Root: g.dir, Drafts: drafts, Logger: g.logger(), CacheDir: cacheDir(), External: external(), Since: since})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				if err := ds.WriteJSON(out); err != nil {
					return err
				}
			} else {
				if err := ds.WriteText(out); err != nil {
					return err
				}
				fmt.Fprintf(out, "%d error(s), %d warning(s)\n", len(ds.Errors()), len(ds.Warnings()))
			}
			if len(ds.Errors()) > 0 || strict && len(ds) > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&strict, "strict", false, "fail on warnings too")
	cmd.Flags().BoolVar(&drafts, "drafts", false, "check pages marked draft: true too")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	cmd.Flags().StringVar(&since, "since", "", "git ref (main, v1.4, HEAD~20): report every page URL and alias the site had there that reaches nothing now, with the alias to add")
	cacheDir = cacheDirFlag(cmd)
	external = externalFlags(cmd)
	return cmd
}

func newCmd(g *globals) *cobra.Command {
	var service string
	cmd := &cobra.Command{
		Use:   "new KIND NAME",
		Short: "Write a plan skeleton with every section of its kind",
		Long:  "Write content/NAME.md (NAME may hold folders: payments/api-canary) with the front matter and every section of KIND:\nrollout, deployment, rollback, automated-rollback, process or alert (NAME's file name is the alert's name; its severity and expression come from the alert_rules files).",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, name := args[0], strings.TrimSuffix(args[1], ".md")
			cfg, err := config.Load(g.dir)
			if err != nil {
				return err
			}
			clean := filepath.Clean(filepath.FromSlash(name))
			if filepath.IsAbs(clean) || strings.HasPrefix(clean, "..") {
				return fmt.Errorf("name %q must stay inside %s", name, cfg.ContentDir)
			}
			if service == "" {
				service = filepath.Base(filepath.Dir(clean))
				if service == "." {
					service = filepath.Base(clean)
				}
			}
			title := strings.ReplaceAll(filepath.Base(clean), "-", " ")
			title = strings.ToUpper(title[:1]) + title[1:]
			var src []byte
			if kind == plan.KindAlert {
				// NAME's file name is the alert's name (KubePodCrashLooping).
				src, err = alertSkeleton(cfg, filepath.Base(clean), service)
			} else {
				src, err = scaffold.Skeleton(kind, title, service, time.Now())
			}
			if err != nil {
				return err
			}
			file := filepath.Join(cfg.Path(cfg.ContentDir), clean+".md")
			if _, err := os.Stat(file); err == nil {
				return fmt.Errorf("%s already exists", file)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(file, src, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", file)
			return nil
		},
	}
	cmd.Flags().StringVar(&service, "service", "", "service the plan is for (default: the folder name)")
	return cmd
}

// batchGC lets a build's heap grow to three times what is live before
// collecting (GOGC=200), unless GOGC is set. A build is a batch job whose
// allocations die with it, so collecting less often is CPU saved for
// memory that is given back at exit; `make bench` shows both sides, the
// peak RSS next to Hugo's.
func batchGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
}
