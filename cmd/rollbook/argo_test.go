//go:build argo

// The Argo engine's drill with the real controller: behind the argo build
// tag, because the cluster's programs take a cold build of about 24
// minutes (`make argo-test` builds them, then runs this).

package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/drillenv"
	"github.com/rollbook/rollbook/internal/drillreport"
)

// Gate 3 of issue 26: `rollbook gameday run --engine argo` on the
// payments plan runs bad-canary-errors and healthy-canary with the real
// Argo Rollouts controller, and both pass.
func TestArgoEngineDrillsPayments(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if err := drillenv.CheckDocker(ctx); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	bin := filepath.Join(t.TempDir(), "rollbook-agent")
	if err := drillenv.BuildAgentBinary(ctx, "../..", bin); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	code, log := runCLI(t, "gameday", "run", "-s", "../..", "--engine", "argo", "--agent", bin, "--out", out,
		"--scenario", "bad-canary-errors", "--scenario", "healthy-canary", "../../content/payments/api-2-4-canary.md")
	t.Logf("gameday run --engine argo: exit %d in %s\n%s", code, time.Since(began).Round(time.Second), log)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	reports, bad := drillreport.ReadDir(out)
	if len(bad) > 0 {
		t.Fatal(bad)
	}
	seen := map[string]*drillreport.Report{}
	for _, r := range reports {
		seen[r.Scenario] = r
	}
	for sc, final := range map[string]drillreport.State{"bad-canary-errors": drillreport.RolledBack, "healthy-canary": drillreport.Promoted} {
		r := seen[sc]
		if r == nil {
			t.Errorf("no report of %s", sc)
			continue
		}
		if r.EngineOf() != drillreport.EngineArgo || r.Argo == nil || !r.Passed || r.FinalState != final {
			t.Errorf("%s: engine %s, passed %v, final %s; want argo, passed, %s", sc, r.EngineOf(), r.Passed, r.FinalState, final)
		}
		t.Logf("%s: wall %s, cluster start %s, TTD %v TTR %v", sc, r.Finished.Sub(r.Started).Round(time.Millisecond), r.Argo.Startup.Round(time.Millisecond), deref(r.TTD), deref(r.TTR))
	}
	if r := seen["bad-canary-errors"]; r != nil && !strings.Contains(firstTrigger(r), "error_rate") {
		t.Errorf("bad-canary-errors: Argo's first failed metric %q, want error_rate", firstTrigger(r))
	}
}

func firstTrigger(r *drillreport.Report) string {
	for _, e := range r.Timeline {
		if e.Type == drillreport.EventTrigger {
			return e.Trigger
		}
	}
	return ""
}

func deref(f *float64) any {
	if f == nil {
		return "-"
	}
	return *f
}

// SIGINT during a drill on Argo stops the cluster (its processes and its
// pods' containers) and removes every drill object: exit 130, nothing left.
func TestArgoEngineInterrupt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := t.TempDir()
	for _, b := range []string{"rollbook", "rollbook-agent"} {
		goBuild(ctx, t, filepath.Join(bin, b), "../../cmd/"+b)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "rollbook"), "gameday", "run", "-s", "../..", "--engine", "argo", "--agent", filepath.Join(bin, "rollbook-agent"),
		"--scenario", "healthy-canary", "--out", t.TempDir(), "../../content/payments/api-2-4-canary.md")
	interruptDrill(ctx, t, cmd, "canary ReplicaSet")
	// The cluster's processes went with it.
	out, _ := exec.CommandContext(ctx, "ps", "-eo", "args").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "rollbook-argo-") && (strings.Contains(line, "kube-apiserver") || strings.Contains(line, "rollouts-controller") || strings.Contains(line, "etcd")) {
			t.Errorf("still running after SIGINT: %.200s", line)
		}
	}
}
