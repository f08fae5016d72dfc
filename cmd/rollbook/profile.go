package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// --cpuprofile writes a CPU profile of any command (go tool pprof reads
// it): the way to see where a build on one's own content spends its time.
func init() {
	extraCommands = append(extraCommands, func(root *cobra.Command, _ *globals) {
		var file string
		var f *os.File
		root.PersistentFlags().StringVar(&file, "cpuprofile", "", "write a CPU profile of the command to this file")
		_ = root.PersistentFlags().MarkHidden("cpuprofile")
		root.PersistentPreRunE = func(*cobra.Command, []string) error {
			if file == "" {
				return nil
			}
			var err error
			if f, err = os.Create(file); err != nil {
				return fmt.Errorf("--cpuprofile: %w", err)
			}
			return pprof.StartCPUProfile(f)
		}
		root.PersistentPostRunE = func(*cobra.Command, []string) error {
			if f == nil {
				return nil
			}
			pprof.StopCPUProfile()
			return f.Close()
		}
	})
}
