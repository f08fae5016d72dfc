package analysis

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/metricquery"
	"github.com/rollbook/rollbook/internal/plan"
)

// answers replies to every query of the canary with the next of its
// values, and to the stable release's watch with no data.
type answers struct {
	next [][]float64
	sent []string
}

func (a *answers) Query(_ context.Context, q string, _ time.Time) ([]float64, error) {
	if strings.Contains(q, `hash="stable"`) {
		return nil, nil
	}
	a.sent = append(a.sent, q)
	v := a.next[0]
	a.next = a.next[1:]
	return v, nil
}

func TestAnalyzer(t *testing.T) {
	src := "---\nkind: rollout\nservice: pay\nanalysis: {interval: 30s, no_data: {after: 1}}\ntriggers:\n  - {metric: error_rate, max: 5%, window: 1m, min_requests: 10, consecutive: 2}\n---\n"
	p, ds := plan.Parse("x.md", "x.md", []byte(src))
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	a, err := NewAnalyzer(p, nil, 60) // a 1m window is 1s of drill time
	if err != nil {
		t.Fatal(err)
	}
	base := time.Unix(0, 0)
	a.Reset(base)
	q := &answers{next: [][]float64{{0.01}, {0.2}, {0.2}, nil, {math.NaN()}}}
	at := func(ms int) Result {
		return a.Observe(context.Background(), q, base.Add(time.Duration(ms)*time.Millisecond), true)[0]
	}
	if r := at(500); !r.Pending || len(q.sent) != 0 {
		t.Fatalf("measured before the window was full: %+v", r)
	}
	steps := []struct {
		verdict      metricquery.Verdict
		fired, noDat bool
	}{{metricquery.Pass, false, false}, {metricquery.Fail, false, false}, {metricquery.Fail, true, false},
		// after: 1 window of 1m, every 30s: two inconclusive measurements.
		{metricquery.Inconclusive, false, false}, {metricquery.Inconclusive, false, true}}
	for i, s := range steps {
		r := at(1000 + 500*i)
		if r.Verdict != s.verdict || r.Fired != s.fired || r.NoData != s.noDat {
			t.Errorf("measurement %d: %s fired %v no data %v; want %s %v %v (%s)", i, r.Verdict, r.Fired, r.NoData, s.verdict, s.fired, s.noDat, r.Reason)
		}
		if r.Query != q.sent[len(q.sent)-1] || r.Query == "" || r.Success == "" || r.Failure == "" {
			t.Errorf("the result does not carry what was sent: %+v", r)
		}
	}
	// It decided in this step, then lost its data: left to no_data.
	if got := a.Inconclusive(); len(got) != 0 {
		t.Errorf("Inconclusive() = %v after verdicts in the step", got)
	}
	a.Reset(base.Add(4 * time.Second))
	q.next = append(q.next, nil)
	if r := at(5000); r.Verdict != metricquery.Inconclusive {
		t.Fatalf("verdict %s", r.Verdict)
	}
	if got := a.Inconclusive(); len(got) != 1 || got[0] != "error_rate" {
		t.Errorf("Inconclusive() = %v for a step without a verdict", got)
	}
	if want := `[1s]`; !contains(q.sent[0], want) || !contains(q.sent[0], `rollouts_pod_template_hash="canary"`) {
		t.Errorf("query %s: want the drill window %s and the canary's label", q.sent[0], want)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
