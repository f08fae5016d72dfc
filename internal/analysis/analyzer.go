package analysis

import (
	"context"
	"fmt"
	"time"

	"github.com/rollbook/rollbook/internal/metricquery"
	"github.com/rollbook/rollbook/internal/plan"
)

// Querier answers an instant PromQL query: a Prometheus server's HTTP API
// (metricquery.Client) in drills and backtests, an in-process engine in
// the statistics benchmark.
type Querier interface {
	Query(ctx context.Context, q string, at time.Time) ([]float64, error)
}

// Analyzer runs a plan's exported analysis: each interval it sends every
// check's query (its Argo arguments filled in) and decides it with the
// check's own conditions, counting fails and inconclusive windows in a
// row. The drill, the backtest and the benchmark all measure through it,
// so each evaluates exactly the text rollbook export writes.
type Analyzer struct {
	Checks []metricquery.Check
	// Health is the plan's readiness-probe trigger, if any (not a query).
	Health *plan.Trigger
	NoData plan.NoData // its count is each check's NoDataAfter
	// Scale divides every window (drill time); 1 means plan time.
	Scale float64
	// Release names the canary and the stable release as the series label
	// the queries select ({{args.canary-hash}}, {{args.stable-hash}}).
	Canary, Stable string

	since        time.Time // start of the current step: windows start here
	fails        []int
	inconclusive []int
	decided      []bool // a pass or fail since the step began
	health       int
}

// NewAnalyzer renders p's checks (site: rollbook.yaml's promql:) and
// returns an analyzer for windows divided by scale.
func NewAnalyzer(p *plan.Plan, site map[string]string, scale float64) (*Analyzer, error) {
	checks, err := Checks(p, site)
	if err != nil {
		return nil, err
	}
	return New(checks, p.Triggers, p.Analysis.NoData, scale), nil
}

// Checks renders every query trigger of p, refusing a trigger that has
// no query: a drill must not pass a trigger it cannot evaluate.
func Checks(p *plan.Plan, site map[string]string) ([]metricquery.Check, error) {
	checks, skipped, err := metricquery.Render(p, site)
	if err != nil {
		return nil, err
	}
	if len(skipped) > 0 {
		return nil, fmt.Errorf("%s: trigger %s has no PromQL mapping: write query: in the trigger or promql: {%s: ...} in rollbook.yaml", p.Path, skipped[0], skipped[0])
	}
	return checks, nil
}

// New returns an analyzer of checks; triggers supply the health trigger
// (readiness probes, not a query).
func New(checks []metricquery.Check, triggers []plan.Trigger, noData plan.NoData, scale float64) *Analyzer {
	if scale <= 0 {
		scale = 1
	}
	a := &Analyzer{Checks: checks, NoData: noData, Scale: scale, Canary: "canary", Stable: "stable"}
	for i := range triggers {
		if triggers[i].IsHealth() {
			a.Health = &triggers[i]
		}
	}
	a.fails = make([]int, len(checks))
	a.inconclusive = make([]int, len(checks))
	a.decided = make([]bool, len(checks))
	return a
}

// Window is a check's window in the analyzer's time.
func (a *Analyzer) Window(c metricquery.Check) time.Duration {
	return time.Duration(float64(c.Window) / a.Scale)
}

// Baseline is a Stable check's baseline range in the analyzer's time (0
// for the other checks).
func (a *Analyzer) Baseline(c metricquery.Check) time.Duration {
	return time.Duration(float64(c.Baseline) / a.Scale)
}

// Args are the template arguments the analyzer fills into c's query: the
// release labels, and the window and the baseline range divided by Scale.
func (a *Analyzer) Args(c metricquery.Check) metricquery.Args {
	args := metricquery.Args{metricquery.ArgCanary: a.Canary, metricquery.ArgStable: a.Stable, metricquery.ArgWindow: metricquery.Duration(a.Window(c))}
	if c.Baseline > 0 {
		args[metricquery.ArgBaseline] = metricquery.Duration(a.Baseline(c))
	}
	return args
}

// Reset starts a new step at at: a window never mixes two canary weights,
// so no check is measured before a whole window of the step has passed.
// Runs of inconclusive windows carry over: a new step does not bring the
// metrics back.
func (a *Analyzer) Reset(at time.Time) {
	a.since = at
	for i := range a.fails {
		a.fails[i], a.decided[i] = 0, false
	}
}

// Inconclusive lists the checks that were measured in this step without
// a single verdict: a release is not promoted on them. (A check that
// decided and then missed a scrape or two is left to no_data's count, as
// Argo's inconclusiveLimit leaves it.) Stable checks are not listed: see
// measure.
func (a *Analyzer) Inconclusive() []string {
	var out []string
	for i, n := range a.inconclusive {
		if n > 0 && !a.decided[i] && !a.Checks[i].Stable {
			out = append(out, a.Checks[i].Trigger)
		}
	}
	return out
}

// Observe measures every check at at (and the canary's readiness probe)
// and returns one result per check, then the health trigger's.
func (a *Analyzer) Observe(ctx context.Context, q Querier, at time.Time, canaryHealthy bool) []Result {
	if a.since.IsZero() {
		a.since = at
	}
	if canaryHealthy {
		a.health = 0
	} else {
		a.health++
	}
	out := make([]Result, 0, len(a.Checks)+1)
	for i := range a.Checks {
		out = append(out, a.measure(ctx, q, i, at))
	}
	if t := a.Health; t != nil {
		r := Result{Trigger: t.Metric, Unit: "probes", Value: float64(a.health), Threshold: float64(t.Failures), Verdict: metricquery.Pass}
		r.Breach = t.Failures > 0 && a.health >= t.Failures
		r.Fired = r.Breach
		if r.Breach {
			r.Verdict = metricquery.Fail
		}
		r.Reason = fmt.Sprintf("%d consecutive failed readiness probes (limit %d)", a.health, t.Failures)
		out = append(out, r)
	}
	return out
}

// measure sends check i's query and decides it. A Stable check (the
// stable release against its own level) counts like the others: its
// Fired result is the stable release's regression, which the consumer
// answers with a halt and a page, never a rollback or a promotion. Its
// inconclusive windows are on the timeline (never a pass) but neither
// reach no_data nor hold the promotion: a stable release without a value
// serves no one to protect (a step at 100 %, or a drill that raised the
// canary's weight for its floor), and Prometheus losing the series
// silences the canary's own checks, which carry no_data.
func (a *Analyzer) measure(ctx context.Context, q Querier, i int, at time.Time) Result {
	c := &a.Checks[i]
	r := Result{Trigger: c.Trigger, Stable: c.Stable, Threshold: c.Threshold, Unit: c.Unit, Success: c.Success, Failure: c.Failure, Query: c.Resolve(a.Args(*c))}
	if at.Sub(a.since) < a.Window(*c) {
		r.Verdict, r.Insufficient, r.Pending = metricquery.Inconclusive, true, true
		r.Reason = c.Trigger + ": window not yet full"
		return r
	}
	vals, err := q.Query(ctx, r.Query, at)
	if err != nil {
		// A query error is Argo's Error phase: neither a pass nor data.
		r.Error = err.Error()
		vals = nil
	}
	r.Values = vals
	v, err := c.Evaluate(vals)
	if err != nil {
		r.Error = err.Error()
		v = metricquery.Inconclusive
	}
	r.Verdict = v
	if len(vals) > 0 {
		r.Value = vals[0]
	}
	switch v {
	case metricquery.Fail, metricquery.Pass:
		a.decided[i] = true
	}
	switch v {
	case metricquery.Fail:
		a.fails[i]++
		a.inconclusive[i] = 0
		r.Breach = true
		r.Fired = a.fails[i] >= c.Consecutive
	case metricquery.Pass:
		a.fails[i], a.inconclusive[i] = 0, 0
	default:
		a.inconclusive[i]++
		r.Insufficient = true
		r.NoData = !c.Stable && a.inconclusive[i] >= max(c.NoDataAfter, 1)
	}
	r.Reason = c.Describe(vals, v)
	if r.Error != "" {
		r.Reason += " (" + r.Error + ")"
	}
	if v == metricquery.Inconclusive && a.inconclusive[i] > 1 {
		r.Reason += fmt.Sprintf(", %d analyses in a row", a.inconclusive[i])
	}
	return r
}
