package export

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/rollbook/rollbook/internal/golden"
	"github.com/rollbook/rollbook/internal/plan"
)

func load(t *testing.T, rel string) Input {
	t.Helper()
	file := filepath.Join("..", "..", "content", filepath.FromSlash(rel))
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p, ds := plan.Parse("content/"+rel, "content/"+rel, src)
	if len(ds.Errors()) > 0 {
		t.Fatal(ds)
	}
	return Input{Plan: p, Dir: filepath.Dir(file)}
}

// docs splits exported YAML into generic documents.
func docs(t *testing.T, y []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, part := range bytes.Split(y, []byte("\n---\n")) {
		var m map[string]any
		if err := yaml.Unmarshal(part, &m); err != nil {
			t.Fatalf("exported YAML does not parse: %v\n%s", err, part)
		}
		if m != nil {
			out = append(out, m)
		}
	}
	return out
}

func TestGoldenExports(t *testing.T) {
	for _, tt := range []struct{ plan, controller string }{
		{"payments/api-2-4-canary.md", "argo"},
		{"payments/api-2-4-canary.md", "flagger"},
		{"checkout/drop-legacy-status-rollback.md", "argo"},
		{"platform/automated-rollback-design.md", "flagger"},
	} {
		t.Run(tt.plan+"."+tt.controller, func(t *testing.T) {
			in := load(t, tt.plan)
			var res *Result
			var err error
			if tt.controller == "argo" {
				res, err = Argo(in)
			} else {
				res, err = Flagger(in)
			}
			if err != nil {
				t.Fatal(err)
			}
			docs(t, res.YAML)
			name := strings.ReplaceAll(strings.TrimSuffix(tt.plan, ".md"), "/", "-") + "." + tt.controller + ".yaml"
			golden.Check(t, filepath.Join("testdata", name), res.YAML)
		})
	}
}

// The exported thresholds, steps and interval read back equal the plan's.
func TestRoundTripArgo(t *testing.T) {
	in := load(t, "payments/api-2-4-canary.md")
	res, err := Argo(in)
	if err != nil {
		t.Fatal(err)
	}
	ds := docs(t, res.YAML)
	var weights []uint64
	for _, st := range ds[0]["spec"].(map[string]any)["strategy"].(map[string]any)["canary"].(map[string]any)["steps"].([]any) {
		if w, ok := st.(map[string]any)["setWeight"]; ok {
			weights = append(weights, w.(uint64))
		}
	}
	if len(weights) != len(in.Plan.Strategy.Steps) {
		t.Fatalf("steps %v", weights)
	}
	for i, s := range in.Plan.Strategy.Steps {
		if int(weights[i]) != s.Weight {
			t.Errorf("step %d weight %d, plan %d", i, weights[i], s.Weight)
		}
	}
	found := 0
	for _, d := range ds[1:] {
		for _, m := range d["spec"].(map[string]any)["metrics"].([]any) {
			mm := m.(map[string]any)
			for _, tr := range in.Plan.Triggers {
				if tr.Metric != mm["name"] {
					continue
				}
				found++
				var limit float64
				if _, err := fmtSscan(mm["failureCondition"].(string), &limit); err != nil || limit != threshold(tr) {
					t.Errorf("%s: failureCondition %q, plan threshold %g", tr.Metric, mm["failureCondition"], threshold(tr))
				}
				if mm["interval"] != promDuration(in.Plan.Analysis.Interval.D()) || int(mm["failureLimit"].(uint64)) != tr.Consecutives()-1 {
					t.Errorf("%s: interval %v failureLimit %v", tr.Metric, mm["interval"], mm["failureLimit"])
				}
				if !strings.Contains(mm["provider"].(map[string]any)["prometheus"].(map[string]any)["query"].(string), "["+promDuration(tr.Window.D())+"]") {
					t.Errorf("%s: query does not use the window %s", tr.Metric, tr.Window)
				}
			}
		}
	}
	if found != 2 {
		t.Errorf("%d triggers exported, want 2 (health stays with the readiness probe)", found)
	}
}

// A plan with a contract migration never yields an analysis that aborts
// (and so reverts) on its own.
func TestContractNeverAutoAborts(t *testing.T) {
	in := load(t, "checkout/drop-legacy-status-rollback.md")
	res, err := Argo(in)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(res.YAML, []byte("failureCondition:")) {
		t.Error("a contract plan exported a failureCondition")
	}
	if !bytes.Contains(res.YAML, []byte("inconclusiveLimit")) || !bytes.Contains(res.YAML, []byte("NOT exported")) {
		t.Error("the output does not say what was mapped")
	}
	// Automatic plans turn contract when their SQL does, whatever they declare.
	auto := load(t, "payments/api-2-4-canary.md")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "drop.sql"), []byte("ALTER TABLE orders RENAME COLUMN note TO memo;"), 0o644); err != nil {
		t.Fatal(err)
	}
	auto.Dir = dir
	auto.Plan.Migrations = []plan.Migration{{ID: "drop", File: "drop.sql", Phase: "expand"}}
	res, err = Argo(auto)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(res.YAML, []byte("failureCondition:")) {
		t.Error("a plan whose SQL is contract exported a failureCondition")
	}
	if _, err := Flagger(in); err == nil || !strings.Contains(err.Error(), "not exported to Flagger") {
		t.Errorf("Flagger export of a contract plan: %v", err)
	}
}

func fmtSscan(cond string, v *float64) (int, error) {
	return fmtSscanf(strings.TrimPrefix(cond, "result[0] > "), v)
}

func fmtSscanf(s string, v *float64) (int, error) {
	return fmt.Sscan(s, v)
}

// TestTargets: each target is found by its key, its export warns with its
// own controller's name and stuck phase, and an unknown key finds none.
func TestTargets(t *testing.T) {
	in := load(t, "payments/api-2-4-canary.md")
	seen := map[string]bool{}
	for _, tg := range Targets {
		if seen[tg.Key] || tg.Controller == "" || tg.StuckPhase == "" {
			t.Errorf("target %+v: duplicate key or a field left empty", tg)
		}
		seen[tg.Key] = true
		if got, ok := TargetFor(tg.Key); !ok || got.Controller != tg.Controller {
			t.Errorf("TargetFor(%q) = %+v, %v", tg.Key, got, ok)
		}
		res, err := tg.Export(in)
		if err != nil {
			t.Fatalf("%s: %v", tg.Key, err)
		}
		want := tg.Controller + " does not page when a rollback is stuck: alert on " + tg.StuckPhase
		if !slices.Contains(res.Warnings, want) {
			t.Errorf("%s warnings %q lack %q", tg.Key, res.Warnings, want)
		}
	}
	if _, ok := TargetFor("spinnaker"); ok {
		t.Error("TargetFor found an unknown target")
	}
}
