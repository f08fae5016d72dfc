package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/drillenv"
)

func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	root := rootCmd()
	root.SetOut(&out)
	root.SetErr(&out)
	stderr := os.Stderr
	r, w, _ := os.Pipe()
	os.Stderr = w
	code := 0
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	w.Close()
	os.Stderr = stderr
	var errOut bytes.Buffer
	_, _ = errOut.ReadFrom(r)
	if ee, ok := err.(exitError); ok {
		code = ee.code
	} else if err != nil {
		code = 1
		errOut.WriteString(err.Error())
	}
	return code, out.String() + errOut.String()
}

func TestCheckExampleContentIsClean(t *testing.T) {
	code, out := runCLI(t, "check", "--strict", "-s", "../..")
	if code != 0 || !strings.Contains(out, "0 error(s), 0 warning(s)") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	code, out = runCLI(t, "check", "--format", "json", "-s", "../..")
	var findings []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &findings) != nil || len(findings) != 0 {
		t.Fatalf("json check: exit %d: %s", code, out)
	}
}

func TestBuildAndNew(t *testing.T) {
	dir := t.TempDir()
	code, out := runCLI(t, "new", "rollback", "payments/db-failover", "-s", dir)
	if code != 0 || !strings.Contains(out, "db-failover.md") {
		t.Fatalf("new: %d %s", code, out)
	}
	src, err := os.ReadFile(filepath.Join(dir, "content", "payments", "db-failover.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"## Rollback classification", "## Go / no-go criteria", "## Rollback triggers", "## Step-by-step rollback procedure", "## Data recovery", "## Canary and progressive rollout", "## Communication plan"} {
		if !bytes.Contains(src, []byte(h)) {
			t.Errorf("skeleton lacks %s", h)
		}
	}
	if code, out := runCLI(t, "new", "rollback", "payments/db-failover", "-s", dir); code == 0 {
		t.Errorf("new over an existing plan succeeded: %s", out)
	}
	if code, out := runCLI(t, "new", "nonsense", "x", "-s", dir); code == 0 || !strings.Contains(out, "unknown kind") {
		t.Errorf("unknown kind: %d %s", code, out)
	}
	code, out = runCLI(t, "build", "-s", dir)
	if code != 0 || !strings.Contains(out, "built") {
		t.Fatalf("build of a fresh skeleton: %d %s", code, out)
	}
	// Break it: the build fails with a positioned finding and keeps the site.
	bad := filepath.Join(dir, "content", "payments", "broken.md")
	if err := os.WriteFile(bad, []byte("---\nkind: rollout\nrisk: extreme\n---\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out = runCLI(t, "build", "-s", dir)
	if code != 1 || !strings.Contains(out, "content/payments/broken.md:3:7: error enum") {
		t.Fatalf("broken build: %d %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "public", "payments", "db-failover", "index.html")); err != nil {
		t.Error("the last good site was lost")
	}
}

// SIGINT during a drill removes every drill object.
// goBuild builds the static binary of package pkg at out, as the drills
// need it (CGO_ENABLED=0).
func goBuild(ctx context.Context, t *testing.T, out, pkg string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, msg)
	}
}

func TestGamedayInterrupt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	requireDocker(ctx, t)
	bin := t.TempDir()
	for _, b := range []string{"rollbook", "rollbook-agent"} {
		goBuild(ctx, t, filepath.Join(bin, b), "../../cmd/"+b)
	}
	// The payments plan drills the example service's images.
	if err := drillenv.ExampleImages(ctx, "../.."); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "rollbook"), "gameday", "run", "../../content/payments/api-2-4-canary.md", "--scenario", "healthy-canary", "--out", t.TempDir())
	interruptDrill(ctx, t, cmd, "baking")
}

// interruptDrill starts a drill's command, sends it SIGINT once a line
// of its output holds until, and fails unless it exits 130 with every
// object of the drill removed.
func interruptDrill(ctx context.Context, t *testing.T, cmd *exec.Cmd, until string) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var runID string
	var seen strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		seen.WriteString(line + "\n")
		if i := strings.Index(line, "drill "); i >= 0 && strings.Contains(line, "started: containers up") {
			fmt.Sscanf(line[i:], "drill %s started", &runID)
		}
		if runID != "" && strings.Contains(line, until) {
			break
		}
	}
	if runID == "" {
		t.Fatalf("the drill never reached %q:\n%s", until, seen.String())
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Errorf("exit after SIGINT: %v\n%s", err, seen.String())
	}
	if left, err := drillenv.Leftovers(ctx, runID); err != nil || len(left) > 0 {
		t.Errorf("SIGINT left %v (%v)", left, err)
	}
}

// One scheduled drill runs end to end through `gameday due` and shows on
// the built site.
func TestScheduledDrillShowsOnSite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	requireDocker(ctx, t)
	dir := t.TempDir()
	src, err := os.ReadFile("../../content/payments/api-2-4-canary.md")
	if err != nil {
		t.Fatal(err)
	}
	// Keep the drill short: one scenario.
	plan := strings.Replace(string(src), "scenarios: [bad-canary-errors, bad-canary-latency, healthy-canary, incompatible-migration, stuck-rollback, freeze]", "scenarios: [bad-canary-errors]", 1)
	if plan == string(src) {
		t.Fatal("fixture: scenarios line not found")
	}
	// The drill of the built-in demo service: the plan's own service
	// (cmd/example-orders) is drilled in gameday's tests.
	svc := regexp.MustCompile(`(?s)\n  # Drilled on the example.*?\n  database: \{name: payments\}`)
	if plan = svc.ReplaceAllString(plan, ""); strings.Contains(plan, "service:\n") {
		t.Fatal("fixture: gameday.service block not removed")
	}
	write := func(rel, body string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("content/payments/api-2-4-canary.md", plan)
	sql, _ := os.ReadFile("../../content/payments/migrations/0042_add_ledger_ref.sql")
	write("content/payments/migrations/0042_add_ledger_ref.sql", string(sql))
	write("content/platform/automated-rollback-design.md", "# Design\n\nSee the [payments canary](../payments/api-2-4-canary.md).\n")

	bin := filepath.Join(t.TempDir(), "rollbook-agent")
	if err := drillenv.BuildAgentBinary(ctx, "../..", bin); err != nil {
		t.Fatal(err)
	}
	code, out := runCLI(t, "gameday", "due", "-s", dir, "--agent", bin, "-q")
	if code != 0 || !strings.Contains(out, "DUE") || !strings.Contains(out, "PASS bad-canary-errors") {
		t.Fatalf("gameday due: exit %d\n%s", code, out)
	}
	// Drilled now: not due again.
	if code, out := runCLI(t, "gameday", "due", "-s", dir, "--dry-run"); code != 0 || strings.Contains(out, "DUE") {
		t.Errorf("still due after the drill: %s", out)
	}
	if code, out := runCLI(t, "build", "-s", dir); code != 0 {
		t.Fatalf("build: %s", out)
	}
	page, err := os.ReadFile(filepath.Join(dir, "public", "payments", "api-2-4-canary", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"last drill: pass", "bad-canary-errors", "drill-chart"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("plan page lacks %q after the drill", want)
		}
	}
}

// requireDocker skips without a Docker engine, unless the run demands one.
func requireDocker(ctx context.Context, t *testing.T) {
	t.Helper()
	if err := drillenv.CheckDocker(ctx); err != nil {
		if os.Getenv("ROLLBOOK_REQUIRE_DOCKER") == "1" {
			t.Fatalf("ROLLBOOK_REQUIRE_DOCKER=1 but: %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
}
