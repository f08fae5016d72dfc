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
	// Four triggers' checks, then one watch on the stable release's
	// error_rate (both error_rate triggers watch the same series; the
	// first one's limits).
	if len(checks) != 5 || len(skipped) != 0 {
		t.Fatalf("got %d checks, skipped %v", len(checks), skipped)
	}
	if s := checks[4]; s.Trigger != "stable_error_rate" || !s.Stable || s.Kind != StableRegression || s.Threshold != 0.02 || s.Window != 2*time.Minute || s.Consecutive != 2 || s.MinRequests != 200 {
		t.Errorf("stable check %+v", s)
	}
	for _, c := range checks[:4] {
		if c.Stable || c.Baseline != 0 {
			t.Errorf("%s: a trigger's check marked stable", c.Trigger)
		}
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
		{4, nil, Inconclusive},
		{4, []float64{nan}, Inconclusive},
		{4, []float64{-0.01}, Pass},
		{4, []float64{0.02}, Pass},
		{4, []float64{0.021}, Fail},
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
	for _, c := range append(checks[:3:3], checks[4]) {
		q := c.Resolve(ExampleArgs(c.Window))
		if strings.Contains(q, "{{") {
			t.Errorf("unresolved argument in %s", q)
		}
		if !c.Stable && !strings.Contains(q, `rollouts_pod_template_hash="canary"`) {
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

// Which triggers imply a watch on the stable release, and with what
// limits: ratios of request counters only, baseline or max:.
func TestStableChecks(t *testing.T) {
	const steps = "strategy: {steps: [{weight: 10, bake: 5m}, {weight: 50, bake: 10m}, {weight: 100}]}\n"
	tests := []struct {
		name     string
		triggers string
		site     map[string]string
		want     []string // Trigger names of the Stable checks
		rise     float64
		window   time.Duration
		baseline time.Duration
		floor    int
		consec   int
	}{
		{"baseline", "  - {metric: error_rate, compare: baseline, max_delta: 2%, window: 2m, min_requests: 200, consecutive: 2}\n",
			nil, []string{"stable_error_rate"}, 0.02, 2 * time.Minute, 20 * time.Minute, 200, 2},
		{"max threshold", "  - {metric: http_5xx_rate, max: 0.5%, window: 5m, min_requests: 2000, consecutive: 3}\n",
			nil, []string{"stable_http_5xx_rate"}, 0.005, 5 * time.Minute, 50 * time.Minute, 2000, 3},
		{"max_delta without compare", "  - {metric: error_rate, max_delta: 3%, window: 1m}\n",
			nil, []string{"stable_error_rate"}, 0.03, time.Minute, 16 * time.Minute, 1, 1},
		{"latency", "  - {metric: latency_p99, max: 800ms, window: 3m}\n", nil, nil, 0, 0, 0, 0, 0},
		{"custom query", "  - {metric: error_rate, query: 'sum(rate(x[1m]))', max: 5%, window: 1m}\n", nil, nil, 0, 0, 0, 0, 0},
		{"site promql", "  - {metric: error_rate, max: 5%, window: 1m}\n", map[string]string{"error_rate": "sum(rate(x[{{window}}]))"}, nil, 0, 0, 0, 0, 0},
		{"min threshold", "  - {metric: error_rate, min: 1%, window: 1m}\n", nil, nil, 0, 0, 0, 0, 0},
		{"two metrics", "  - {metric: error_rate, max: 5%, window: 1m}\n  - {metric: http_5xx_rate, max: 1%, window: 1m}\n  - {metric: error_rate, max: 9%, window: 4m}\n",
			nil, []string{"stable_error_rate", "stable_http_5xx_rate"}, 0.05, time.Minute, 16 * time.Minute, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checks, _, err := Render(parsePlan(t, steps+"triggers:\n"+tt.triggers), tt.site)
			if err != nil {
				t.Fatal(err)
			}
			var got []Check
			for i, c := range checks {
				if c.Stable {
					got = append(got, c)
				} else if len(got) > 0 {
					t.Errorf("check %d (%s) after a Stable check: the triggers' checks come first", i, c.Trigger)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("stable checks %v, want %v", got, tt.want)
			}
			for i, c := range got {
				if c.Trigger != tt.want[i] || c.Kind != StableRegression || c.Unit != "ratio" || !c.Above {
					t.Errorf("check %+v, want %s", c, tt.want[i])
				}
			}
			if len(got) == 0 {
				return
			}
			c := got[0]
			if c.Threshold != tt.rise || c.Window != tt.window || c.Baseline != tt.baseline || c.MinRequests != tt.floor || c.Consecutive != tt.consec {
				t.Errorf("rise %v window %s baseline %s floor %d consecutive %d; want %v %s %s %d %d", c.Threshold, c.Window, c.Baseline, c.MinRequests, c.Consecutive, tt.rise, tt.window, tt.baseline, tt.floor, tt.consec)
			}
			if want := "len(result) > 0 && !isNaN(result[0]) && result[0] <= " + strconv.FormatFloat(tt.rise, 'g', -1, 64); c.Success != want || c.Failure != strings.Replace(want, "<=", ">", 1) {
				t.Errorf("conditions %q / %q", c.Success, c.Failure)
			}
			q := c.Resolve(Args{ArgStable: "s1", ArgCanary: "c1"})
			if _, err := Validate(q); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{`rollouts_pod_template_hash="s1"`, "[" + Duration(tt.window) + "]", "[" + Duration(tt.baseline) + "] offset " + Duration(tt.window), ">= " + strconv.Itoa(tt.floor)} {
				if !strings.Contains(q, want) {
					t.Errorf("query lacks %s: %s", want, q)
				}
			}
			if strings.Contains(q, "c1") {
				t.Errorf("the stable watch reads the canary: %s", q)
			}
		})
	}
}

// The stable watch's query as the exports write it.
func TestStableQueryText(t *testing.T) {
	checks, _, err := Render(parsePlan(t, "strategy: {steps: [{weight: 10, bake: 30m}, {weight: 100}]}\ntriggers:\n  - {metric: error_rate, compare: baseline, max_delta: 2%, window: 2m, min_requests: 200}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := checks[len(checks)-1]
	sel := `service="pay",rollouts_pod_template_hash="{{args.stable-hash}}"`
	n1 := `sum(increase(http_requests_total{` + sel + `}[{{args.window}}]))`
	e1 := `(sum(increase(http_requests_total{` + sel + `,code=~"5.."}[{{args.window}}])) or vector(0))`
	n0 := `sum(increase(http_requests_total{` + sel + `}[{{args.baseline}}] offset {{args.window}}))`
	e0 := `(sum(increase(http_requests_total{` + sel + `,code=~"5.."}[{{args.baseline}}] offset {{args.window}})) or vector(0))`
	up := "((" + e1 + " / " + n1 + ") - (" + e0 + " / " + n0 + "))"
	pool := "((" + e1 + " + " + e0 + ") / (" + n1 + " + " + n0 + "))"
	want := up + " * (" + up + " / sqrt(" + pool + " * (1 - " + pool + ") * (1 / " + n1 + " + 1 / " + n0 + ") + 1e-12) >= bool 3.5)" +
		" and on() (" + n1 + " >= 200) and on() (" + n0 + " >= 200)"
	if s.Query != want {
		t.Errorf("query\n%s\nwant\n%s", s.Query, want)
	}
	// The bakes and one window: the range reaches before the first step.
	if s.Baseline != 32*time.Minute {
		t.Errorf("baseline %s", s.Baseline)
	}
	// Arguments a rollout does not pass take the template's defaults.
	if q := s.Resolve(Args{ArgStable: "s"}); !strings.Contains(q, "[32m] offset 2m") || strings.Contains(q, "{{") {
		t.Errorf("defaults not filled: %s", q)
	}
	if d := s.Describe([]float64{0.395}, Fail); !strings.Contains(d, "39.50%") || !strings.Contains(d, "stable release") || !strings.Contains(d, "32m") {
		t.Errorf("describe: %s", d)
	}
	if d := s.Describe(nil, Inconclusive); !strings.Contains(d, "200 stable requests") {
		t.Errorf("describe: %s", d)
	}
}
