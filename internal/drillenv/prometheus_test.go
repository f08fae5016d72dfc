package drillenv

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/metricquery"
	"github.com/rollbook/rollbook/internal/plan"
)

// The drill's Prometheus scrapes the router under the names the exported
// queries select, answers them over its HTTP API, loses its data when the
// router stops being scraped, and leaves nothing behind.
func TestPrometheus(t *testing.T) {
	requireDocker(t)
	agent, db := images(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	promImage, err := PrometheusImage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("prometheus image %s in %s", promImage, time.Since(start).Round(time.Millisecond))
	id := runID("prom")
	env, err := Start(ctx, Options{RunID: id, AgentImage: agent, DBImage: db, LoadRate: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		if err := env.Close(cctx); err != nil {
			t.Error(err)
		}
		if left, err := Leftovers(cctx, id); err != nil || len(left) > 0 {
			t.Errorf("left behind: %v %v", left, err)
		}
	}()
	start = time.Now()
	prom, err := env.StartPrometheus(ctx, PrometheusOptions{Image: promImage, Service: "pay", ScrapeInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("prometheus ready and scraped in %s", time.Since(start).Round(time.Millisecond))
	if ok, err := env.running(ctx, prometheusName); err != nil || !ok {
		t.Fatalf("prometheus running: %v %v", ok, err)
	}
	call(t, "PUT", env.RouterURL+"/admin/weights", map[string]int{"canary": 50})
	call(t, "PUT", env.FaultsURL+"/admin/faults", map[string]any{"error_rate": 0.5})

	p, ds := plan.Parse("p.md", "p.md", []byte("---\ntitle: t\nkind: rollout\nservice: pay\ntriggers:\n  - {metric: error_rate, compare: baseline, max_delta: 2%, window: 2m, min_requests: 50}\n  - {metric: error_rate, max: 5%, window: 2m, min_requests: 50}\n---\n"))
	if len(ds.Errors()) > 0 {
		t.Fatal(ds)
	}
	checks, _, err := metricquery.Render(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	api, err := metricquery.NewClient(prom.URL)
	if err != nil {
		t.Fatal(err)
	}
	args := metricquery.Args{metricquery.ArgCanary: "canary", metricquery.ArgStable: "stable", metricquery.ArgWindow: "2s"}
	verdicts := func() []metricquery.Verdict {
		var out []metricquery.Verdict
		for i := range checks {
			v, err := api.Query(ctx, checks[i].Resolve(args), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			vd, err := checks[i].Evaluate(v)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, vd)
		}
		return out
	}
	// A canary failing half its requests fails both checks once a window
	// of it is in Prometheus.
	deadline := time.Now().Add(20 * time.Second)
	var got []metricquery.Verdict
	for time.Now().Before(deadline) {
		if got = verdicts(); got[0] == metricquery.Fail && got[1] == metricquery.Fail {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got[0] != metricquery.Fail || got[1] != metricquery.Fail {
		t.Fatalf("verdicts %v with a 50%% failing canary, want fail, fail", got)
	}
	// Without the router's series, the analysis is inconclusive, not a pass.
	if err := prom.StopScrapingRouter(ctx); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if got = verdicts(); got[0] == metricquery.Inconclusive && got[1] == metricquery.Inconclusive {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got[0] != metricquery.Inconclusive || got[1] != metricquery.Inconclusive {
		t.Fatalf("verdicts %v without router metrics, want inconclusive", got)
	}
	if !strings.HasPrefix(prom.URL, "http://") {
		t.Errorf("URL %q", prom.URL)
	}
}

func TestPrometheusConfig(t *testing.T) {
	o := PrometheusOptions{Service: "pay", ScrapeInterval: 250 * time.Millisecond, ServiceMetrics: "/metrics"}
	full, noRouter := prometheusConfig(o, true), prometheusConfig(o, false)
	for _, want := range []string{"scrape_interval: 250ms", `targets: ["router:8080"]`, `targets: ["canary:8080"]`, "rollouts_pod_template_hash", "replacement: http_requests_total"} {
		if !strings.Contains(full, want) {
			t.Errorf("config lacks %q:\n%s", want, full)
		}
	}
	if strings.Contains(noRouter, "router:8080") || !strings.Contains(noRouter, "canary:8080") {
		t.Errorf("config without the router:\n%s", noRouter)
	}
	if _, err := libraries(promBin); err != nil {
		t.Fatal(err)
	}
}

// With the releases' pod-template hashes known (the Argo engine), each
// release's router series carry its hash, which the exported queries
// select, and the service's own metrics come from its pods' alias.
func TestPrometheusConfigHashes(t *testing.T) {
	o := PrometheusOptions{Service: "pay", ServiceMetrics: "/metrics", Hashes: map[string]string{"stable": "6d4f", "canary": "77bc"}}
	cases := []struct {
		name   string
		hashes map[string]string
		want   []string
		absent []string
	}{
		{"both", o.Hashes, []string{`regex: "stable", target_label: rollouts_pod_template_hash, replacement: "6d4f"`, `regex: "canary", target_label: rollouts_pod_template_hash, replacement: "77bc"`, `targets: ["rs-6d4f:8080"]`, `rollouts_pod_template_hash: "77bc"`}, []string{`targets: ["stable:8080"]`}},
		{"stable only", map[string]string{"stable": "6d4f"}, []string{`replacement: "6d4f"`, `targets: ["canary:8080"]`}, []string{`regex: "canary"`}},
		{"none", nil, []string{`targets: ["stable:8080"]`}, []string{"replacement: \"6d4f\""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o.Hashes = c.hashes
			cfg := prometheusConfig(o, true)
			for _, w := range c.want {
				if !strings.Contains(cfg, w) {
					t.Errorf("config lacks %q:\n%s", w, cfg)
				}
			}
			for _, a := range c.absent {
				if strings.Contains(cfg, a) {
					t.Errorf("config has %q:\n%s", a, cfg)
				}
			}
			// The hash rules come after the rule that copies the name, and
			// before the release label is dropped.
			if i, j := strings.Index(cfg, `regex: "(.+)"`), strings.Index(cfg, "action: labeldrop"); c.hashes != nil && !(i < strings.Index(cfg, `replacement: "6d4f"`) && strings.Index(cfg, `replacement: "6d4f"`) < j) {
				t.Errorf("hash rule out of order:\n%s", cfg)
			}
		})
	}
}
