package main

import (
	"github.com/spf13/cobra"

	"github.com/rollbook/rollbook/internal/buildcache"
)

// cacheDirFlag adds --cache-dir; resolve gives the folder to use.
func cacheDirFlag(cmd *cobra.Command) (resolve func() string) {
	var dir string
	cmd.Flags().StringVar(&dir, "cache-dir", "", "build cache folder: highlighted code, rendered pages and migration analyses of earlier builds (default $"+buildcache.Env+", else rollbook/build in the user cache folder; off turns it off)")
	return func() string { return buildcache.Dir(dir) }
}
