package export

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/rollbook/rollbook/internal/golden"
	"github.com/rollbook/rollbook/internal/metricquery"
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
	checks, _, err := metricquery.Render(in.Plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, d := range ds[1:] {
		spec := d["spec"].(map[string]any)
		args := metricquery.Args{}
		for _, a := range spec["args"].([]any) {
			am := a.(map[string]any)
			v, _ := am["value"].(string)
			args[am["name"].(string)] = v
		}
		for _, m := range spec["metrics"].([]any) {
			mm := m.(map[string]any)
			for _, c := range checks {
				if c.Trigger != mm["name"] {
					continue
				}
				found++
				q := mm["provider"].(map[string]any)["prometheus"].(map[string]any)["query"].(string)
				// The stable release's watch halts the drill; in Argo it
				// pauses: it never fails, a breach is Inconclusive.
				failure := c.Failure
				if c.Stable {
					failure = metricquery.Never
					if mm["inconclusiveLimit"].(uint64) != uint64(c.Consecutive-1) {
						t.Errorf("%s: inconclusiveLimit %v, want %d (pause at the consecutive count)", c.Trigger, mm["inconclusiveLimit"], c.Consecutive-1)
					}
					if c.Baseline == 0 || !strings.Contains(q, "["+metricquery.Duration(c.Baseline)+"] offset "+metricquery.Duration(c.Window)) {
						t.Errorf("%s: the query does not hold the check's baseline %s before its window", c.Trigger, c.Baseline)
					}
				}
				if mm["successCondition"] != c.Success || mm["failureCondition"] != failure || q != c.Ranged() {
					t.Errorf("%s: exported %q / %q / %q, the drill evaluates %q / %q / %q", c.Trigger, mm["successCondition"], mm["failureCondition"], q, c.Success, failure, c.Ranged())
				}
				for _, cond := range []string{mm["successCondition"].(string), mm["failureCondition"].(string)} {
					if err := metricquery.CompileCondition(cond); err != nil {
						t.Errorf("%s: %v", c.Trigger, err)
					}
				}
				if mm["interval"] != metricquery.Duration(in.Plan.Analysis.Interval.D()) || int(mm["failureLimit"].(uint64)) != c.Consecutive-1 {
					t.Errorf("%s: interval %v failureLimit %v", c.Trigger, mm["interval"], mm["failureLimit"])
				}
				// One analysis run flattens every template's arguments:
				// a window or baseline argument per template would clash
				// (2m, 3m), so the ranges are in the query.
				if _, ok := args[metricquery.ArgWindow]; ok || args[metricquery.ArgBaseline] != "" || !strings.Contains(q, "["+metricquery.Duration(c.Window)+"]") {
					t.Errorf("%s: arguments %v; want the window %s in the query, not an argument", c.Trigger, args, c.Window)
				}
				args[metricquery.ArgCanary], args[metricquery.ArgStable] = "abc123", "def456"
				if _, err := metricquery.Validate(c.Resolve(args)); err != nil {
					t.Errorf("%s: %v", c.Trigger, err)
				}
			}
		}
	}
	if found != 3 {
		t.Errorf("%d checks exported, want 3: error_rate, latency_p99 and stable_error_rate (health stays with the readiness probe)", found)
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
	neverFails(t, res.YAML)
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
	neverFails(t, res.YAML)
	if _, err := Flagger(in); err == nil || !strings.Contains(err.Error(), "not exported to Flagger") {
		t.Errorf("Flagger export of a contract plan: %v", err)
	}
}

// neverFails checks that every metric of an Argo export has a success
// condition and a failure condition that no measurement meets: Argo
// counts a measurement that misses its successCondition as Failed (and
// aborts) when there is no failureCondition, so only both, the failure
// one never true, make a breach Inconclusive, which pauses the rollout.
func neverFails(t *testing.T, y []byte) {
	t.Helper()
	n := 0
	for _, d := range docs(t, y)[1:] {
		for _, m := range d["spec"].(map[string]any)["metrics"].([]any) {
			mm := m.(map[string]any)
			n++
			if mm["failureCondition"] != metricquery.Never || mm["successCondition"] == nil {
				t.Errorf("%s: successCondition %v failureCondition %v; a breach must not abort", mm["name"], mm["successCondition"], mm["failureCondition"])
			}
		}
	}
	if n == 0 {
		t.Error("no metrics exported")
	}
}

// The stable release's watch (metricquery.StableRegression) pauses the
// rollout in Argo, never aborts it, and the exports say why and what
// the controllers cannot do.
func TestStableWatchExported(t *testing.T) {
	in := load(t, "payments/api-2-4-canary.md")
	res, err := Argo(in)
	if err != nil {
		t.Fatal(err)
	}
	var stable map[string]any
	for _, d := range docs(t, res.YAML)[1:] {
		for _, m := range d["spec"].(map[string]any)["metrics"].([]any) {
			if mm := m.(map[string]any); mm["name"] == "stable_error_rate" {
				stable = mm
			}
		}
	}
	if stable == nil {
		t.Fatal("no stable_error_rate metric")
	}
	if stable["failureCondition"] != metricquery.Never || stable["inconclusiveLimit"].(uint64) != 1 {
		t.Errorf("stable metric %v", stable)
	}
	for _, want := range []string{"watches the STABLE release", "failureCondition is \"false\"", "pause the rollout for a human", "cannot pin the instant"} {
		if !bytes.Contains(res.YAML, []byte(want)) {
			t.Errorf("the Argo export does not say %q", want)
		}
	}
	if !slices.ContainsFunc(res.Warnings, func(w string) bool {
		return strings.Contains(w, "stable_error_rate") && strings.Contains(w, "aborts on a failed metric")
	}) {
		t.Errorf("warnings %q", res.Warnings)
	}
	fl, err := Flagger(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ROLLS THE CANARY BACK", "[32m] offset {{ interval }}", "name: stable_error_rate"} {
		if !bytes.Contains(fl.YAML, []byte(want)) {
			t.Errorf("the Flagger export does not say %q", want)
		}
	}
	if !slices.ContainsFunc(fl.Warnings, func(w string) bool {
		return strings.Contains(w, "stable_error_rate") && strings.Contains(w, "no pause without rollback")
	}) {
		t.Errorf("warnings %q", fl.Warnings)
	}
}

// No data is never a pass: a query without a value is inconclusive in
// Argo, and no_data: rollback adds a metric that fails on it.
func TestNoDataMapping(t *testing.T) {
	in := load(t, "payments/api-2-4-canary.md")
	in.Plan.Analysis.NoData = plan.NoData{After: 4, Then: "rollback"}
	res, err := Argo(in)
	if err != nil {
		t.Fatal(err)
	}
	// after: 4 windows of 2m (error_rate) and 3m (latency_p99), measured
	// every 30s: 16 and 24 measurements.
	after := map[string]uint64{"error_rate": 16, "latency_p99": 24}
	var names []string
	for _, d := range docs(t, res.YAML)[1:] {
		for _, m := range d["spec"].(map[string]any)["metrics"].([]any) {
			mm := m.(map[string]any)
			name := mm["name"].(string)
			names = append(names, name)
			if name == "stable_error_rate" {
				// The stable release's watch never rolls back: no no-data
				// metric, a pause at the consecutive count.
				if mm["inconclusiveLimit"].(uint64) != 1 || mm["failureCondition"] != metricquery.Never {
					t.Errorf("%s: %v", name, mm)
				}
			} else if base, ok := strings.CutSuffix(name, "-no-data"); ok {
				if mm["failureCondition"] != metricquery.NoData || mm["failureLimit"].(uint64) != after[base]-1 {
					t.Errorf("no-data metric %s: failureLimit %v, want %d", name, mm["failureLimit"], after[base]-1)
				}
			} else if mm["inconclusiveLimit"].(uint64) != after[name] {
				t.Errorf("%s: inconclusiveLimit %v, want %d (the no-data metric fails first)", name, mm["inconclusiveLimit"], after[name])
			}
		}
	}
	if strings.Join(names, ",") != "error_rate,error_rate-no-data,latency_p99,latency_p99-no-data,stable_error_rate" {
		t.Errorf("metrics %v", names)
	}
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
