package gameday

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/rollbook/rollbook/internal/analysis"
	"github.com/rollbook/rollbook/internal/export"
	"github.com/rollbook/rollbook/internal/metricquery"
	"github.com/rollbook/rollbook/internal/plan"
)

// exportedMetric is one AnalysisTemplate metric as rollbook export wrote
// it, with the template's argument defaults.
type exportedMetric struct {
	Query, Success, Failure string
	Args                    map[string]string
}

// argoMetrics exports rel (a plan under content/) to Argo Rollouts and
// reads back every AnalysisTemplate metric by name.
func argoMetrics(t *testing.T, rel string) map[string]exportedMetric {
	t.Helper()
	p, file := examplePlan(t, rel)
	res, err := export.Argo(export.Input{Plan: p, Dir: filepath.Dir(file)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]exportedMetric{}
	for _, part := range bytes.Split(res.YAML, []byte("\n---\n")) {
		var doc struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Args []struct {
					Name  string `yaml:"name"`
					Value string `yaml:"value"`
				} `yaml:"args"`
				Metrics []struct {
					Name             string `yaml:"name"`
					SuccessCondition string `yaml:"successCondition"`
					FailureCondition string `yaml:"failureCondition"`
					Provider         struct {
						Prometheus struct {
							Query string `yaml:"query"`
						} `yaml:"prometheus"`
					} `yaml:"provider"`
				} `yaml:"metrics"`
			} `yaml:"spec"`
		}
		if err := yaml.Unmarshal(part, &doc); err != nil {
			t.Fatalf("exported YAML: %v", err)
		}
		if doc.Kind != "AnalysisTemplate" {
			continue
		}
		args := map[string]string{}
		for _, a := range doc.Spec.Args {
			args[a.Name] = a.Value
		}
		for _, m := range doc.Spec.Metrics {
			out[m.Name] = exportedMetric{Query: m.Provider.Prometheus.Query, Success: m.SuccessCondition, Failure: m.FailureCondition, Args: args}
		}
	}
	return out
}

// argo fills a query's {{args.NAME}} references as Argo Rollouts does,
// written here independently of metricquery.Resolve.
func argo(q string, args map[string]string) string {
	for k, v := range args {
		q = strings.ReplaceAll(q, "{{args."+k+"}}", v)
	}
	return q
}

// evaluatedExported checks that every analysis on the drill's timeline
// sent exactly the exported query (with the drill's release labels and
// compressed window and baseline range as the template's arguments) and
// was decided as the exported conditions decide; it returns how many had
// a verdict.
func evaluatedExported(t *testing.T, pol Policy, rep *Report, exported map[string]exportedMetric) int {
	t.Helper()
	n := 0
	for _, e := range rep.Timeline {
		for _, r := range e.Results {
			if r.Unit == "probes" {
				continue
			}
			m, ok := exported[r.Trigger]
			if !ok {
				t.Errorf("trigger %s evaluated in the drill but not exported", r.Trigger)
				continue
			}
			c, ok := drillCheck(pol, r.Trigger)
			if !ok {
				t.Errorf("trigger %s evaluated in the drill but not in its policy", r.Trigger)
				continue
			}
			if r.Stable != c.Stable || r.Stable != strings.HasPrefix(r.Trigger, metricquery.StablePrefix) {
				t.Errorf("%s: result stable %v, check stable %v", r.Trigger, r.Stable, c.Stable)
			}
			// After a post-deploy promotion the drill judges the promoted
			// release as the stable one: its label fills stable-hash.
			// The export holds the plan-time ranges in its query, the drill
			// sends the same template with its drill-time ones.
			hashes := map[string]string{metricquery.ArgCanary: "canary", metricquery.ArgStable: "stable"}
			if got, exp := c.Resolve(hashes), argo(m.Query, hashes); got != exp {
				t.Errorf("%s: the drill's check in plan time is\n%s\nthe export runs\n%s", r.Trigger, got, exp)
			}
			var want string
			for _, stable := range []string{"stable", "canary"} {
				if want = argo(c.Query, drillArgs(pol, c, stable)); r.Query == want {
					break
				}
			}
			if r.Query != want {
				t.Errorf("%s: the drill sent\n%s\nits template in drill time is\n%s", r.Trigger, r.Query, want)
			}
			sameDecision(t, r.Trigger, r.Success, r.Failure, m)
			if r.Verdict != metricquery.Inconclusive {
				n++
			}
		}
	}
	return n
}

// drillCheck is the policy's check of trigger (a "stable_" one included).
func drillCheck(pol Policy, trigger string) (metricquery.Check, bool) {
	for _, c := range pol.Checks {
		if c.Trigger == trigger {
			return c, true
		}
	}
	return metricquery.Check{}, false
}

// drillArgs are the template arguments as the drill fills them, written
// here independently of analysis.Analyzer.Args: its release labels, and
// the window and a Stable check's baseline range in drill time.
func drillArgs(pol Policy, c metricquery.Check, stable string) map[string]string {
	args := map[string]string{metricquery.ArgCanary: "canary", metricquery.ArgStable: stable, metricquery.ArgWindow: metricquery.Duration(pol.D(c.Window))}
	if c.Baseline > 0 {
		args[metricquery.ArgBaseline] = metricquery.Duration(pol.D(c.Baseline))
	}
	return args
}

// sameDecision checks that the exported conditions of a metric decide
// every measurement as the drill's conditions do. They are the same
// strings, except where the drill answers a breach without a rollback (a
// plan whose rollback is not automatic, and the stable release's watch,
// which halts): there the export's failure condition is metricquery.Never,
// and Argo (a failed condition first, then the success one, else
// Inconclusive) must pass what the drill passes and find everything else
// Inconclusive, which pauses the rollout: never Failed, which aborts it.
func sameDecision(t *testing.T, what, success, failure string, m exportedMetric) {
	t.Helper()
	if m.Success != success {
		t.Errorf("%s: the drill decides with success %q, the export with %q", what, success, m.Success)
		return
	}
	if m.Failure == failure {
		return
	}
	if m.Failure != metricquery.Never {
		t.Errorf("%s: the drill decides with failure %q, the export with %q", what, failure, m.Failure)
		return
	}
	drill := metricquery.Check{Success: success, Failure: failure}
	controller := metricquery.Check{Success: m.Success, Failure: m.Failure}
	nan := math.NaN()
	for _, result := range [][]float64{nil, {}, {nan}, {-1}, {0}, {0.001}, {0.005}, {0.01}, {0.02}, {0.021}, {0.5}, {0.8}, {1.2}, {3.5}, {3.6}, {1e9}} {
		d, err := drill.Evaluate(result)
		if err != nil {
			t.Fatal(err)
		}
		a, err := controller.Evaluate(result)
		if err != nil {
			t.Fatal(err)
		}
		if a == metricquery.Fail || (d == metricquery.Pass) != (a == metricquery.Pass) {
			t.Errorf("%s on %v: the drill finds %s, the exported analysis %s (want pass for pass, else inconclusive: a pause)", what, result, d, a)
		}
	}
}

// Every trigger of every example plan, and the watch on its stable
// release: what the drill's analyzer sends and decides with is, string
// for string, what rollbook export writes.
func TestExportedAnalysisIsDrilled(t *testing.T) {
	plans, _ := filepath.Glob(filepath.Join(moduleRoot(), "content", "*", "*.md"))
	seen, stable := 0, 0
	for _, file := range plans {
		rel, _ := filepath.Rel(filepath.Join(moduleRoot(), "content"), file)
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := plan.Parse(file, filepath.ToSlash(rel), src)
		if !p.IsPlan() || len(p.Triggers) == 0 || p.Service == "" {
			continue
		}
		pol, err := PolicyFromPlan(p, filepath.Dir(file), 0, 0)
		if err != nil {
			// A trigger without a query is refused by the drill (and not
			// exported): nothing to compare.
			if strings.Contains(err.Error(), "no PromQL mapping") {
				t.Logf("%s: %v", rel, err)
				continue
			}
			t.Fatal(err)
		}
		exported := argoMetrics(t, filepath.ToSlash(rel))
		a := analysis.New(pol.Checks, pol.Triggers, pol.NoData, pol.Scale)
		if len(exported) != len(a.Checks) {
			t.Errorf("%s: %d metrics exported, %d checks drilled", rel, len(exported), len(a.Checks))
		}
		for _, c := range a.Checks {
			m, ok := exported[c.Trigger]
			if !ok {
				t.Errorf("%s: %s is drilled but not exported", rel, c.Trigger)
				continue
			}
			// The export writes the check's ranges in plan time into its
			// query (one analysis run has one flat list of arguments), the
			// drill fills the same template with them in drill time: the
			// same query at each one's clock.
			hashes := map[string]string{metricquery.ArgCanary: "canary", metricquery.ArgStable: "stable"}
			if got, want := c.Resolve(hashes), argo(m.Query, hashes); got != want {
				t.Errorf("%s %s: drill %s, export %s", rel, c.Trigger, got, want)
			}
			if got, want := c.Resolve(a.Args(c)), argo(c.Query, drillArgs(pol, c, "stable")); got != want {
				t.Errorf("%s %s: the drill sends %s, its template filled in drill time is %s", rel, c.Trigger, got, want)
			}
			if strings.Contains(c.Resolve(a.Args(c)), "{{") {
				t.Errorf("%s %s: an argument the drill does not fill: %s", rel, c.Trigger, c.Resolve(a.Args(c)))
			}
			sameDecision(t, rel+" "+c.Trigger, c.Success, c.Failure, m)
			if _, ok := m.Args[metricquery.ArgWindow]; ok || !strings.Contains(m.Query, "["+metricquery.Duration(c.Window)+"]") {
				t.Errorf("%s %s: exported arguments %v; want the window %s in the query", rel, c.Trigger, m.Args, c.Window)
			}
			if c.Stable {
				stable++
				if m.Failure != metricquery.Never {
					t.Errorf("%s %s: the stable release's watch may abort the rollout (failureCondition %q)", rel, c.Trigger, m.Failure)
				}
				if c.Baseline <= c.Window || !strings.Contains(m.Query, "["+metricquery.Duration(c.Baseline)+"] offset "+metricquery.Duration(c.Window)) {
					t.Errorf("%s %s: the exported query does not hold the check's baseline %s", rel, c.Trigger, c.Baseline)
				}
			}
			seen++
		}
	}
	if seen < 4 || stable < 3 {
		t.Errorf("only %d checks compared, %d of them stable watches", seen, stable)
	}
	t.Logf("%d checks compared, %d of them watches on the stable release", seen, stable)
}
