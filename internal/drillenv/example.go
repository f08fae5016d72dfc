package drillenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// exampleVersions are the stable releases of the example service
// (cmd/example-orders) that the example plans name by tag; their canaries
// are built from its Dockerfile during the drill.
var exampleVersions = []string{"5.9.2", "2.3.1", "2.4.0"}

// ExampleImages does what `make example-images` does, for tests that run
// from a clean clone: the example service's static binary beside its
// Dockerfile in moduleDir/cmd/example-orders, and example-orders:VERSION
// for each of exampleVersions.
func ExampleImages(ctx context.Context, moduleDir string) error {
	dir, err := filepath.Abs(filepath.Join(moduleDir, "cmd", "example-orders"))
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, fmt.Sprintf(".example-orders.%d", os.Getpid()))
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", tmp, ".")
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the example service (CGO_ENABLED=0 go build ./cmd/example-orders): %w\n%s", err, tail(string(out), 2000))
	}
	// Renamed into place, so a concurrent build never sees half a binary.
	if err := os.Rename(tmp, filepath.Join(dir, "example-orders")); err != nil {
		return err
	}
	for _, v := range exampleVersions {
		if _, err := ReleaseImage(ctx, ReleaseSpec{Release: "stable", Context: dir, Args: map[string]string{"VERSION": v}, Tag: "example-orders:" + v}); err != nil {
			return err
		}
	}
	return nil
}
