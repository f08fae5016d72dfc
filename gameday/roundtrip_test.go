package gameday

import (
	"bytes"
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
// compressed window as the template's arguments) and was decided by
// exactly the exported conditions; it returns how many had a verdict.
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
			args := map[string]string{metricquery.ArgCanary: "canary", metricquery.ArgStable: "stable", metricquery.ArgWindow: drillWindow(pol, r.Trigger)}
			if want := argo(m.Query, args); r.Query != want {
				t.Errorf("%s: the drill sent\n%s\nthe export runs\n%s", r.Trigger, r.Query, want)
			}
			if r.Success != m.Success || r.Failure != m.Failure {
				t.Errorf("%s: the drill decided with %q / %q, the export with %q / %q", r.Trigger, r.Success, r.Failure, m.Success, m.Failure)
			}
			if r.Verdict != metricquery.Inconclusive {
				n++
			}
		}
	}
	return n
}

func drillWindow(pol Policy, trigger string) string {
	for _, c := range pol.Checks {
		if c.Trigger == trigger {
			return metricquery.Duration(pol.D(c.Window))
		}
	}
	return ""
}

// Every trigger of every example plan: what the drill's analyzer sends
// and decides with is, string for string, what rollbook export writes.
func TestExportedAnalysisIsDrilled(t *testing.T) {
	plans, _ := filepath.Glob(filepath.Join(moduleRoot(), "content", "*", "*.md"))
	seen := 0
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
		for _, c := range a.Checks {
			m, ok := exported[c.Trigger]
			if !ok {
				t.Errorf("%s: %s is drilled but not exported", rel, c.Trigger)
				continue
			}
			args := map[string]string{metricquery.ArgCanary: "canary", metricquery.ArgStable: "stable", metricquery.ArgWindow: metricquery.Duration(a.Window(c))}
			if got, want := c.Resolve(a.Args(c)), argo(m.Query, args); got != want {
				t.Errorf("%s %s: drill %s, export %s", rel, c.Trigger, got, want)
			}
			if c.Success != m.Success || c.Failure != m.Failure && m.Failure != "" {
				t.Errorf("%s %s: conditions differ", rel, c.Trigger)
			}
			if m.Args[metricquery.ArgWindow] != metricquery.Duration(c.Window) {
				t.Errorf("%s %s: exported window %q, plan %s", rel, c.Trigger, m.Args[metricquery.ArgWindow], c.Window)
			}
			seen++
		}
	}
	if seen < 4 {
		t.Errorf("only %d triggers compared", seen)
	}
}
