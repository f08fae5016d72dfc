package main

import (
	"fmt"
	"net"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/rollbook/rollbook/internal/devserver"
)

func serveCmd(g *globals) *cobra.Command {
	var opts devserver.Options
	var port int
	var cacheDir func() string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Build the site, serve it on 127.0.0.1 and rebuild as plans change",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Root, opts.Logger, opts.CacheDir = g.dir, g.logger(), cacheDir()
			opts.Addr = net.JoinHostPort(opts.Bind, strconv.Itoa(port))
			opts.Ready = func(url string) {
				fmt.Fprintf(cmd.OutOrStdout(), "serving %s on %s (Ctrl-C to stop)\n", opts.Root, url)
			}
			opts.Rebuilt = func(r devserver.Rebuild) { fmt.Fprintln(cmd.OutOrStdout(), r) }
			return devserver.Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Bind, "bind", "127.0.0.1", "address to listen on (127.0.0.1 keeps the preview private)")
	cmd.Flags().IntVarP(&port, "port", "p", 1313, "port to listen on (0 picks a free one)")
	cmd.Flags().BoolVar(&opts.Drafts, "drafts", true, "include pages marked draft: true")
	cmd.Flags().BoolVar(&opts.Open, "open", false, "open the site in a browser")
	cmd.Flags().DurationVar(&opts.Poll, "poll", 0, "poll for changes at this interval instead of using inotify (for Docker, WSL2, network shares)")
	cacheDir = cacheDirFlag(cmd)
	return cmd
}
