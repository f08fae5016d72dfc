package argoengine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/export"
	"github.com/rollbook/rollbook/internal/plan"
)

// exported is `rollbook export argo` of a plan of the project's content.
func exported(t *testing.T, file string) *Manifests {
	t.Helper()
	path := filepath.Join("..", "..", file)
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, ds := plan.Parse(path, file, src)
	if errs := ds.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	target, _ := export.TargetFor("argo")
	res, err := target.Export(export.Input{Plan: p, Dir: filepath.Dir(path)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseExport(res.YAML)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The payments plan's export as a drill applies it: the drill's addresses
// and pods filled in, every duration divided by the time scale (pauses
// in whole seconds, as Argo counts them) and each step at the drill's
// weight, each change listed.
func TestForDrill(t *testing.T) {
	m := exported(t, "content/payments/api-2-4-canary.md")
	if !m.HasAutomaticAbort() {
		t.Error("the payments plan (expand-only, automatic rollback) exports an analysis that aborts: want HasAutomaticAbort")
	}
	notes, err := m.ForDrill(Drill{
		Prometheus: "http://127.0.0.1:9090", Router: "http://127.0.0.1:1", Faults: "http://127.0.0.1:2", Scale: 120,
		Weight: func(w int) int { return max(w, 38) },
		App:    "payments-api", Image: "example-orders:2.3.1", Env: map[string]string{"B": "2", "A": "1"}, Port: 8080, ReadyPath: "/health/ready",
	})
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, s := range m.Steps() {
		steps = append(steps, s.String())
	}
	if got, want := strings.Join(steps, ", "), "setWeight 38, pause 3s, setWeight 38, pause 5s, setWeight 50, pause 8s, setWeight 100"; got != want {
		t.Errorf("steps %s, want %s (5m, 10m, 15m at 120x, rounded up; 1%% and 10%% raised)", got, want)
	}
	canary := m.canary()
	if canary["abortScaleDownDelaySeconds"] != 1 || canary["scaleDownDelaySeconds"] != 1 {
		t.Errorf("scale-down delays %v, %v: want Argo's 30 s at 120x, at least one second", canary["abortScaleDownDelaySeconds"], canary["scaleDownDelaySeconds"])
	}
	plugin := path(path(canary, "trafficRouting"), "plugins")[PluginName].(map[string]any)
	if plugin["router"] != "http://127.0.0.1:1" || plugin["faults"] != "http://127.0.0.1:2" || plugin["port"] != 8080 {
		t.Errorf("plugin config %v", plugin)
	}
	if len(m.Templates) != 3 {
		t.Fatalf("%d templates, want 3", len(m.Templates))
	}
	for _, tp := range m.Templates {
		for _, mt := range list(path(tp, "spec")["metrics"]) {
			prom := path(path(mt, "provider"), "prometheus")
			q := prom["query"].(string)
			if prom["address"] != "http://127.0.0.1:9090" || mt["interval"] != "250ms" {
				t.Errorf("%v: address %v, interval %v; want the drill's Prometheus, 30s/120", mt["name"], prom["address"], mt["interval"])
			}
			for _, plan := range []string{"[2m]", "[3m]", "[32m]", "offset 2m"} {
				if strings.Contains(q, plan) {
					t.Errorf("%v: query keeps the plan's %s: %.200s", mt["name"], plan, q)
				}
			}
			if !strings.Contains(q, "{{args.canary-hash}}") && !strings.Contains(q, "{{args.stable-hash}}") {
				t.Errorf("%v: the hash arguments went: %.200s", mt["name"], q)
			}
		}
	}
	tmpl := path(path(m.Rollout, "spec"), "template")
	c := path(tmpl, "spec")["containers"].([]any)[0].(map[string]any)
	if env := c["env"].([]any); c["image"] != "example-orders:2.3.1" || len(env) != 2 || env[0].(map[string]any)["name"] != "A" {
		t.Errorf("container %v", c)
	}
	joined := strings.Join(notes, "\n")
	for _, want := range []string{"time scale 120x", "step 1: setWeight 1 raised to 38", "abortScaleDownDelaySeconds", "trafficRouting", "pod template"} {
		if !strings.Contains(joined, want) {
			t.Errorf("notes lack %q:\n%s", want, joined)
		}
	}
}

// A contract plan is exported without an automatic abort: on Argo, that
// is the migration guard.
func TestContractPlanHasNoAutomaticAbort(t *testing.T) {
	if m := exported(t, "content/checkout/drop-legacy-status-rollback.md"); m.HasAutomaticAbort() {
		t.Error("the contract plan's export can abort on its own")
	}
}

func TestScaleQuery(t *testing.T) {
	cases := []struct {
		q, want string
		scale   float64
	}{
		{`sum(increase(http_requests_total{rollouts_pod_template_hash="{{args.canary-hash}}"}[2m]))`, `sum(increase(http_requests_total{rollouts_pod_template_hash="{{args.canary-hash}}"}[1s]))`, 120},
		{`sum(increase(x[32m] offset 2m))`, `sum(increase(x[16s] offset 1s))`, 120},
		{`max_over_time(rate(x[1m])[10m:30s])`, `max_over_time(rate(x[1s])[10s:500ms])`, 60},
		{`sum(increase(x[3m]))`, `sum(increase(x[1s500ms]))`, 120},
	}
	for _, c := range cases {
		got, err := ScaleQuery(c.q, c.scale)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("ScaleQuery(%s, %g) = %s, want %s", c.q, c.scale, got, c.want)
		}
	}
	if _, err := ScaleQuery("sum(", 2); err == nil {
		t.Error("a query that does not parse scaled without an error")
	}
}
