package metricquery

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/plan"
)

func parsePlan(t *testing.T, front string) *plan.Plan {
	t.Helper()
	src := "---\ntitle: t\nkind: rollout\nservice: pay\n" + front + "---\n# t\n"
	p, ds := plan.Parse("p.md", "p.md", []byte(src))
	if len(ds.Errors()) > 0 {
		t.Fatal(ds)
	}
	return p
}

func TestRenderAndEvaluate(t *testing.T) {
	p := parsePlan(t, `triggers:
  - {metric: error_rate, compare: baseline, max_delta: 2%, window: 2m, min_requests: 200, consecutive: 2}
  - {metric: error_rate, max: 5%, window: 1m}
  - {metric: latency_p99, max: 800ms, window: 3m}
  - {metric: orders_per_second, query: 'sum(rate(orders_total{service="pay"}[5m]))', min: 3, window: 5m}
  - {metric: health, endpoint: /health/ready, failures: 3}
`)
	checks, skipped, err := Render(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != 4 || len(skipped) != 0 {
		t.Fatalf("got %d checks, skipped %v", len(checks), skipped)
	}
	nan := math.NaN()
	tests := []struct {
		check  int
		result []float64
		want   Verdict
	}{
		{0, nil, Inconclusive},
		{0, []float64{nan}, Inconclusive},
		{0, []float64{0}, Pass},
		{0, []float64{3.5}, Pass},
		{0, []float64{3.6}, Fail},
		{1, []float64{0.04}, Pass},
		{1, []float64{0.06}, Fail},
		{2, []float64{0.9}, Fail},
		{2, []float64{}, Inconclusive},
		{3, []float64{2}, Fail},
		{3, []float64{4}, Pass},
		{3, nil, Inconclusive},
	}
	for _, tt := range tests {
		c := checks[tt.check]
		got, err := c.Evaluate(tt.result)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("%s %v: got %s, want %s (%s / %s)", c.Trigger, tt.result, got, tt.want, c.Success, c.Failure)
		}
	}
	if checks[3].Query != `sum(rate(orders_total{service="pay"}[5m]))` {
		t.Errorf("query: trigger not exported as written: %s", checks[3].Query)
	}
	for _, c := range checks[:3] {
		q := c.Resolve(ExampleArgs(c.Window))
		if strings.Contains(q, "{{") {
			t.Errorf("unresolved argument in %s", q)
		}
		if !strings.Contains(q, `rollouts_pod_template_hash="canary"`) {
			t.Errorf("%s: no canary selector: %s", c.Trigger, q)
		}
		if c.MinRequests > 0 && !strings.Contains(q, ">= "+strconv.Itoa(c.MinRequests)) {
			t.Errorf("%s: request floor %d not in the query: %s", c.Trigger, c.MinRequests, q)
		}
	}
}

func TestBadInput(t *testing.T) {
	p := parsePlan(t, `triggers:
  - {metric: latency_p9x, max: 1s, window: 1m}
`)
	if _, _, err := Render(p, nil); err == nil || !strings.Contains(err.Error(), "latency_p99") {
		t.Errorf("want an error naming what to write, got %v", err)
	}
	if pe := Parse(`sum(rate(x[5m])`); pe == nil || pe.Offset == 0 || pe.Message == "" {
		t.Errorf("want a parse error with an offset, got %+v", pe)
	}
	if err := CompileCondition("result[0] >"); err == nil {
		t.Error("a broken condition compiled")
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{2 * time.Minute: "2m", time.Second: "1s", 1500 * time.Millisecond: "1500ms", 90 * time.Second: "90s"} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%s) = %s, want %s", d, got, want)
		}
	}
}
