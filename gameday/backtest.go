package gameday

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/rollbook/rollbook/internal/analysis"
	"github.com/rollbook/rollbook/internal/drillreport"
	"github.com/rollbook/rollbook/internal/metricquery"
	"github.com/rollbook/rollbook/internal/rollout"
)

// BacktestOptions says which past range of which Prometheus to judge.
type BacktestOptions struct {
	Policy Policy
	// Prometheus is the server's URL; Ranger, when set, answers instead
	// (tests).
	Prometheus string
	From, To   time.Time
	// Step is the time between two analyses; 0 means the plan's interval
	// (in the policy's time scale).
	Step time.Duration
	// Canary and Stable are the release label values
	// (rollouts_pod_template_hash) of the two releases in that range.
	Canary, Stable string
}

// Ranger answers a range query, as Prometheus's query_range does.
type Ranger interface {
	QueryRange(ctx context.Context, q string, from, to time.Time, step time.Duration) ([]metricquery.Point, error)
}

// Backtest evaluates the plan's exported analysis over a past range: each
// check's query is sent once as a range query, and the analyzer decides
// every step with the exported conditions, as the controller would have.
// The report has a drill's timeline, marked as a backtest: when the
// policy would have fired (and rolled back, or held for a human), or that
// it would not have.
func Backtest(ctx context.Context, opts BacktestOptions) (*Report, error) {
	api, err := metricquery.NewClient(opts.Prometheus)
	if err != nil {
		return nil, err
	}
	return backtest(ctx, opts, api)
}

func backtest(ctx context.Context, opts BacktestOptions, api Ranger) (*Report, error) {
	pol := opts.Policy
	if !opts.To.After(opts.From) {
		return nil, fmt.Errorf("backtest: --to %s is not after --from %s", opts.To.Format(time.RFC3339), opts.From.Format(time.RFC3339))
	}
	step := opts.Step
	if step <= 0 {
		step = pol.D(pol.Interval)
	}
	if n := opts.To.Sub(opts.From) / step; n > 11000 {
		return nil, fmt.Errorf("backtest: %d steps of %s from %s to %s; Prometheus answers at most 11000 points a query: set a larger --step", n, step, opts.From.Format(time.RFC3339), opts.To.Format(time.RFC3339))
	}
	a := analysis.New(pol.Checks, nil, pol.NoData, pol.Scale)
	if opts.Canary != "" {
		a.Canary = opts.Canary
	}
	if opts.Stable != "" {
		a.Stable = opts.Stable
	}
	// One range query per check: the exported text, its arguments filled.
	answers := rangeAnswers{}
	for _, c := range a.Checks {
		q := c.Resolve(a.Args(c))
		pts, err := api.QueryRange(ctx, q, opts.From, opts.To, step)
		if err != nil {
			return nil, fmt.Errorf("backtest of %s: %w", c.Trigger, err)
		}
		answers[q] = pts
	}
	rep := &Report{Plan: pol.Plan, Service: pol.Service, Scenario: "backtest", RunID: "backtest-" + opts.From.UTC().Format("20060102T150405Z"),
		Started: time.Now().UTC(), TimeScale: pol.Scale,
		Backtest: &drillreport.Backtest{Prometheus: opts.Prometheus, From: opts.From.UTC(), To: opts.To.UTC(), Step: step}}
	at := func(t time.Time) time.Duration { return t.Sub(opts.From) }
	record := func(t time.Time, e Event) {
		e.At = at(t)
		e.AtText = fmt.Sprintf("%.2fs", e.At.Seconds())
		rep.Timeline = append(rep.Timeline, e)
	}
	record(opts.From, Event{Type: drillreport.EventAction, Message: fmt.Sprintf("backtest of %s from %s to %s every %s against %s", pol.Plan, opts.From.UTC().Format(time.RFC3339), opts.To.UTC().Format(time.RFC3339), step, opts.Prometheus)})
	a.Reset(opts.From)
	rep.FinalState = Promoted
	for t := opts.From; !t.After(opts.To); t = t.Add(step) {
		results := a.Observe(ctx, answers, t, true)
		var parts []string
		var shown []analysis.Result
		for _, r := range results {
			if r.Pending {
				continue
			}
			parts, shown = append(parts, r.Reason), append(shown, r)
		}
		if len(shown) > 0 {
			record(t, Event{Type: drillreport.EventAnalysis, Message: strings.Join(parts, "; "), Results: shown})
		}
		fired, noData := firstOf(results)
		switch {
		case fired != nil:
			what, on := "rolled back", rollout.Rollback
			switch {
			case fired.Stable:
				what, on = "halted and paged (the stable release regressed: no promotion, no automatic rollback)", rollout.StableRegressed
			case len(pol.Contract) > 0:
				what, on = "halted for a human (no automatic rollback)", rollout.MigrationGuard
			case !pol.Rollback.Automatic:
				what, on = "halted for a human (no automatic rollback)", rollout.AutomaticOff
			}
			rep.FinalState = wouldEnd(on)
			record(t, Event{Type: drillreport.EventTrigger, Trigger: fired.Trigger, Results: []analysis.Result{*fired},
				Message: fmt.Sprintf("trigger %s would have fired at %s and the release would have %s: %s", fired.Trigger, t.UTC().Format(time.RFC3339), what, fired.Reason)})
			rep.Backtest.FiredAt = &t
		case noData != nil:
			rep.FinalState = wouldEnd(rollout.NoData)
			if pol.NoData.Rollback() {
				rep.FinalState = wouldEnd(rollout.Rollback)
			}
			record(t, Event{Type: drillreport.EventTrigger, Trigger: noData.Trigger, Results: []analysis.Result{*noData},
				Message: fmt.Sprintf("no data: %s was inconclusive for %d windows in a row at %s: analysis.no_data would have %s", noData.Trigger, pol.NoData.Windows(), t.UTC().Format(time.RFC3339), map[bool]string{true: "rolled back", false: "held the release and paged"}[pol.NoData.Rollback()])})
			rep.Backtest.FiredAt = &t
		default:
			continue
		}
		break
	}
	if rep.Backtest.FiredAt == nil {
		record(opts.To, Event{Type: drillreport.EventState, State: Promoted, Message: "no trigger would have fired in the range"})
	}
	rep.Passed = true
	rep.Finished = time.Now().UTC()
	return rep, nil
}

// wouldEnd is where a release whose step is watched ends on cause, by
// the controller's table, if every rollback it starts completes: a
// backtest cannot see the stable release's health.
func wouldEnd(on rollout.Cause) State {
	to, _ := rollout.Next(rollout.Baking, on)
	if to == rollout.RollingBack {
		to, _ = rollout.Next(to, rollout.StableVerified)
	}
	return to
}

func firstOf(results []analysis.Result) (fired, noData *analysis.Result) {
	for i := range results {
		if results[i].Fired && fired == nil {
			fired = &results[i]
		}
		if results[i].NoData && noData == nil {
			noData = &results[i]
		}
	}
	return fired, noData
}

// rangeAnswers serves instant queries from range results, by query text.
type rangeAnswers map[string][]metricquery.Point

func (r rangeAnswers) Query(_ context.Context, q string, at time.Time) ([]float64, error) {
	pts, ok := r[q]
	if !ok {
		return nil, fmt.Errorf("backtest: no range result for %s", q)
	}
	best, bestD := -1, time.Duration(math.MaxInt64)
	for i, p := range pts {
		d := p.At.Sub(at)
		if d < 0 {
			d = -d
		}
		if d < bestD {
			best, bestD = i, d
		}
	}
	if best < 0 || bestD > time.Millisecond {
		return nil, nil
	}
	return pts[best].Values, nil
}
