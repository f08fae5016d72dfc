// Command rollbook compiles Markdown rollout and rollback plans into a
// searchable static runbook site, previews it live, and drills each plan's
// rollback policy against real containers.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// exitError carries a process exit code without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string) int {
	root := rootCmd()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintln(os.Stderr, "rollbook:", err)
		return 1
	}
}

type globals struct {
	dir     string
	verbose bool
}

func (g *globals) logger() *slog.Logger {
	level := slog.LevelWarn
	if g.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func rootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "rollbook",
		Short:         "Write, publish and prove rollout and rollback plans",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVarP(&g.dir, "source", "s", ".", "project folder holding rollbook.yaml and content/")
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log progress")
	root.AddCommand(buildCmd(g), checkCmd(g), newCmd(g), serveCmd(g))
	addExtraCommands(root, g)
	return root
}

// extraCommands lets other files of the binary register commands.
var extraCommands []func(*cobra.Command, *globals)

func addExtraCommands(root *cobra.Command, g *globals) {
	for _, f := range extraCommands {
		f(root, g)
	}
}
