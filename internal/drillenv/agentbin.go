package drillenv

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// FindAgentBinary returns a static drill agent: flag when set, else
// rollbook-agent beside the running executable or on PATH, else a fresh
// build from the rollbook source tree the working folder is in.
func FindAgentBinary(ctx context.Context, flag string) (string, error) {
	if flag != "" {
		return flag, checkStatic(flag)
	}
	var candidates []string
	if exe, _ := os.Executable(); exe != "" {
		candidates = append(candidates, filepath.Join(filepath.Dir(exe), "rollbook-agent"))
	}
	if p, err := exec.LookPath("rollbook-agent"); err == nil {
		candidates = append(candidates, p)
	}
	for _, c := range candidates {
		if checkStatic(c) == nil {
			return c, nil
		}
	}
	if root := sourceRoot(); root != "" {
		out := filepath.Join(os.TempDir(), "rollbook-agent-build", "rollbook-agent")
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return "", err
		}
		if err := BuildAgentBinary(ctx, root, out); err != nil {
			return "", err
		}
		return out, nil
	}
	return "", errors.New("no static drill agent: install one with CGO_ENABLED=0 go install github.com/rollbook/rollbook/cmd/rollbook-agent@latest, or pass --agent")
}

// sourceRoot finds the rollbook source tree from the working folder up.
func sourceRoot() string {
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
