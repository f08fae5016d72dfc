package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/rollbook/rollbook/site"
)

func init() {
	extraCommands = append(extraCommands, func(root *cobra.Command, g *globals) { root.AddCommand(bundleCmd(g)) })
}

// bundleCmd writes the offline copy of the site (site.Bundle): a zip to
// unzip on the on-call laptop and open from disk, with search.
func bundleCmd(g *globals) *cobra.Command {
	var (
		opts site.Options
		out  string
	)
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Write an offline copy of the site, with search, as a zip to open from disk",
		Long: `Write an offline copy of the site as a zip archive. Unzip it and open
runbooks/index.html in a browser: every page, the search and the
checklists work from disk, with no server and no network.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Root, opts.Logger = g.dir, g.logger()
			// Written beside the target and renamed: a failed bundle
			// leaves the last good one.
			tmp, err := os.CreateTemp(filepath.Dir(out), ".rollbook-bundle-*.zip")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			res, err := site.Bundle(cmd.Context(), opts, tmp)
			if fe, ok := site.IsFindings(err); ok {
				_ = tmp.Close()
				_ = fe.Findings.WriteText(os.Stderr)
				fmt.Fprintf(os.Stderr, "bundle failed: %d error(s), %d warning(s)\n", len(fe.Findings.Errors()), len(fe.Findings.Warnings()))
				return exitError{1}
			}
			if err == nil {
				err = tmp.Close()
			} else {
				_ = tmp.Close()
			}
			if err != nil {
				return err
			}
			if err := os.Rename(tmp.Name(), out); err != nil {
				return err
			}
			_ = res.Findings.WriteText(os.Stderr)
			st, _ := os.Stat(out)
			fmt.Fprintf(cmd.OutOrStdout(), "bundled %d pages into %s (%d kB): unzip it and open %s/index.html\n", res.Pages, out, st.Size()/1024, site.BundleDir)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "runbooks.zip", "the zip file to write")
	cmd.Flags().BoolVar(&opts.Drafts, "drafts", false, "include pages marked draft: true")
	cmd.Flags().BoolVar(&opts.Strict, "strict", false, "fail on warnings too")
	return cmd
}
