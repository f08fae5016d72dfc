package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// --cpuprofile writes a CPU profile of any command and --memprofile its
// allocations (go tool pprof reads both): the way to see where a build on
// one's own content spends its time and its memory.
func init() {
	extraCommands = append(extraCommands, func(root *cobra.Command, _ *globals) {
		var cpuFile, memFile string
		var f *os.File
		root.PersistentFlags().StringVar(&cpuFile, "cpuprofile", "", "write a CPU profile of the command to this file")
		root.PersistentFlags().StringVar(&memFile, "memprofile", "", "write the command's allocations (a heap profile) to this file")
		_ = root.PersistentFlags().MarkHidden("cpuprofile")
		_ = root.PersistentFlags().MarkHidden("memprofile")
		root.PersistentPreRunE = func(*cobra.Command, []string) error {
			if cpuFile == "" {
				return nil
			}
			var err error
			if f, err = os.Create(cpuFile); err != nil {
				return fmt.Errorf("--cpuprofile: %w", err)
			}
			return pprof.StartCPUProfile(f)
		}
		root.PersistentPostRunE = func(*cobra.Command, []string) error {
			if f != nil {
				pprof.StopCPUProfile()
				if err := f.Close(); err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
			}
			if memFile == "" {
				return nil
			}
			m, err := os.Create(memFile)
			if err != nil {
				return fmt.Errorf("--memprofile: %w", err)
			}
			if err := pprof.Lookup("allocs").WriteTo(m, 0); err != nil {
				m.Close()
				return fmt.Errorf("--memprofile: %w", err)
			}
			return m.Close()
		}
	})
}
