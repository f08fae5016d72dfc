// Package analysis owns trigger evaluation over time: the Analyzer sends
// each check's exported PromQL (internal/metricquery) to a Prometheus every
// interval and decides it with the exported conditions, counting fails and
// inconclusive windows in a row; the game-day controller, the backtest and
// the statistics benchmark all run it. The router's own counters are read
// here too, for the drill's per-release chart.
package analysis

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rollbook/rollbook/internal/metricquery"
	"github.com/rollbook/rollbook/internal/plan"
)

// Release holds one release's cumulative counters (or, after Sub, the
// counts within a window).
type Release struct {
	Requests float64
	Errors   float64 // 5xx answers
	// Buckets are cumulative latency counts by upper bound in seconds,
	// sorted by bound, +Inf last.
	Buckets []Bucket
}

// Bucket is one histogram bucket.
type Bucket struct {
	Le    float64
	Count float64
}

// ErrorRate is errors over requests, 0 without requests.
func (r Release) ErrorRate() float64 {
	if r.Requests == 0 {
		return 0
	}
	return r.Errors / r.Requests
}

// Quantile estimates a latency quantile in seconds by linear interpolation
// within the bucket that holds it, as Prometheus's histogram_quantile does.
func (r Release) Quantile(q float64) float64 {
	if len(r.Buckets) == 0 {
		return 0
	}
	total := r.Buckets[len(r.Buckets)-1].Count
	if total == 0 {
		return 0
	}
	rank := q * total
	prevLe, prevCount := 0.0, 0.0
	for _, b := range r.Buckets {
		if b.Count >= rank {
			if math.IsInf(b.Le, 1) {
				return prevLe
			}
			if b.Count == prevCount {
				return b.Le
			}
			return prevLe + (b.Le-prevLe)*(rank-prevCount)/(b.Count-prevCount)
		}
		prevLe, prevCount = b.Le, b.Count
	}
	return prevLe
}

// Sub returns the counts between an earlier reading and this one.
func (r Release) Sub(old Release) Release {
	out := Release{Requests: r.Requests - old.Requests, Errors: r.Errors - old.Errors}
	for i, b := range r.Buckets {
		c := b.Count
		if i < len(old.Buckets) && old.Buckets[i].Le == b.Le {
			c -= old.Buckets[i].Count
		}
		out.Buckets = append(out.Buckets, Bucket{Le: b.Le, Count: c})
	}
	return out
}

// Snapshot is a reading of both releases at one time.
type Snapshot struct {
	At     time.Time
	Stable Release
	Canary Release
}

// Sub returns the window between old and s.
func (s Snapshot) Sub(old Snapshot) Snapshot {
	return Snapshot{At: s.At, Stable: s.Stable.Sub(old.Stable), Canary: s.Canary.Sub(old.Canary)}
}

// ParseMetrics reads the router's Prometheus text exposition.
func ParseMetrics(r io.Reader, at time.Time) (Snapshot, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return Snapshot{}, fmt.Errorf("parsing router metrics: %w", err)
	}
	s := Snapshot{At: at}
	rel := func(name string) *Release {
		if name == "canary" {
			return &s.Canary
		}
		return &s.Stable
	}
	if f, ok := fams["rollbook_requests_total"]; ok {
		for _, m := range f.GetMetric() {
			var release, code string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "release":
					release = l.GetValue()
				case "code":
					code = l.GetValue()
				}
			}
			v := m.GetCounter().GetValue()
			r := rel(release)
			r.Requests += v
			if c, err := strconv.Atoi(code); err == nil && c >= 500 {
				r.Errors += v
			}
		}
	}
	if f, ok := fams["rollbook_request_duration_seconds"]; ok {
		for _, m := range f.GetMetric() {
			var release string
			for _, l := range m.GetLabel() {
				if l.GetName() == "release" {
					release = l.GetValue()
				}
			}
			h := m.GetHistogram()
			var bs []Bucket
			for _, b := range h.GetBucket() {
				bs = append(bs, Bucket{Le: b.GetUpperBound(), Count: float64(b.GetCumulativeCount())})
			}
			bs = append(bs, Bucket{Le: math.Inf(1), Count: float64(h.GetSampleCount())})
			sort.SliceStable(bs, func(i, j int) bool { return bs[i].Le < bs[j].Le })
			rel(release).Buckets = bs
		}
	}
	return s, nil
}

// Result is one trigger's verdict at one analysis: the query sent, what
// it returned, the conditions that decided it and the verdict.
type Result struct {
	Trigger string `json:"trigger"`
	// Query is the PromQL sent, its Argo arguments filled in; Success and
	// Failure are the conditions it was decided with (rollbook export
	// writes the same strings).
	Query   string              `json:"query,omitempty"`
	Success string              `json:"success_condition,omitempty"`
	Failure string              `json:"failure_condition,omitempty"`
	Values  []float64           `json:"values,omitempty"`
	Verdict metricquery.Verdict `json:"verdict,omitempty"`
	Value   float64             `json:"value"`
	// Threshold is what Value is compared with.
	Threshold float64 `json:"threshold"`
	Unit      string  `json:"unit,omitempty"` // "ratio", "s", "z" or "probes"
	Breach    bool    `json:"breach"`
	// Fired is true when the trigger has failed Consecutive analyses in a row.
	Fired bool `json:"fired"`
	// Insufficient is an inconclusive analysis (no series, NaN, too few
	// requests, or the window not yet full: Pending).
	Insufficient bool `json:"insufficient,omitempty"`
	Pending      bool `json:"pending,omitempty"`
	// NoData is true once analysis.no_data's count of inconclusive
	// windows in a row is reached.
	NoData   bool    `json:"no_data,omitempty"`
	Error    string  `json:"error,omitempty"`
	Requests float64 `json:"canary_requests"`
	Reason   string  `json:"reason"`
}

// ZCritical is the one-sided z score a baseline comparison must exceed:
// 3.5 is a 0.02 % false-alarm rate per analysis, before the consecutive
// rule multiplies its protection.
const ZCritical = 3.5

// Evaluator keeps a plan's triggers, the recent snapshots and each
// trigger's run of consecutive breaches.
type Evaluator struct {
	Triggers []plan.Trigger
	// Scale divides every window (drill time); 1 means plan time.
	Scale float64

	history []Snapshot
	streak  []int
	health  int // consecutive failed canary probes
}

// NewEvaluator returns an evaluator for triggers, with windows divided by scale.
func NewEvaluator(triggers []plan.Trigger, scale float64) *Evaluator {
	if scale <= 0 {
		scale = 1
	}
	return &Evaluator{Triggers: triggers, Scale: scale, streak: make([]int, len(triggers))}
}

// Window returns a trigger's window in the evaluator's time.
func (e *Evaluator) Window(t plan.Trigger) time.Duration {
	return time.Duration(float64(t.Window.D()) / e.Scale)
}

// Reset forgets the history, as after a traffic shift: a window must not
// mix two canary weights.
func (e *Evaluator) Reset() {
	e.history = e.history[:0]
	for i := range e.streak {
		e.streak[i] = 0
	}
}

// Observe records a snapshot and a canary health probe result and returns
// the verdict of every trigger.
func (e *Evaluator) Observe(s Snapshot, canaryHealthy bool) []Result {
	e.history = append(e.history, s)
	if canaryHealthy {
		e.health = 0
	} else {
		e.health++
	}
	out := make([]Result, len(e.Triggers))
	for i, t := range e.Triggers {
		r := e.evaluate(t, s)
		if r.Breach {
			e.streak[i]++
		} else {
			e.streak[i] = 0
		}
		r.Fired = r.Breach && e.streak[i] >= t.Consecutives()
		out[i] = r
	}
	e.trim()
	return out
}

// window returns the counts over the trigger's window, and false while the
// history is shorter than the window.
func (e *Evaluator) window(t plan.Trigger, now Snapshot) (Snapshot, bool) {
	w := e.Window(t)
	for i := len(e.history) - 1; i >= 0; i-- {
		if now.At.Sub(e.history[i].At) >= w {
			return now.Sub(e.history[i]), true
		}
	}
	return Snapshot{}, false
}

func (e *Evaluator) trim() {
	var longest time.Duration
	for _, t := range e.Triggers {
		if w := e.Window(t); w > longest {
			longest = w
		}
	}
	now := e.history[len(e.history)-1].At
	keep := 0
	for i, s := range e.history {
		if now.Sub(s.At) > longest {
			keep = i
		}
	}
	if keep > 0 {
		e.history = append(e.history[:0], e.history[keep:]...)
	}
}

func (e *Evaluator) evaluate(t plan.Trigger, now Snapshot) Result {
	r := Result{Trigger: t.Metric}
	if t.IsHealth() {
		r.Unit, r.Value, r.Threshold = "probes", float64(e.health), float64(t.Failures)
		r.Breach = t.Failures > 0 && e.health >= t.Failures
		r.Reason = fmt.Sprintf("%d consecutive failed readiness probes (limit %d)", e.health, t.Failures)
		return r
	}
	win, ok := e.window(t, now)
	if !ok {
		r.Insufficient, r.Reason = true, "window not yet full"
		return r
	}
	r.Requests = win.Canary.Requests
	minReq := float64(t.MinRequests)
	switch {
	case isLatency(t):
		if minReq < 20 {
			minReq = 20 // a p99 from fewer samples is noise
		}
		if win.Canary.Requests < minReq {
			r.Insufficient, r.Reason = true, fmt.Sprintf("%.0f canary requests in the window, %.0f needed", win.Canary.Requests, minReq)
			return r
		}
		q := quantileOf(t.Metric)
		r.Unit, r.Value, r.Threshold = "s", win.Canary.Quantile(q), t.Max.Value
		r.Breach = t.Max.Set && r.Value > t.Max.Value
		r.Reason = fmt.Sprintf("canary p%g %.0f ms over %s (limit %.0f ms)", q*100, r.Value*1000, plan.FormatDuration(t.Window.D()), t.Max.Value*1000)
	default:
		if win.Canary.Requests < minReq || win.Canary.Requests == 0 {
			r.Insufficient, r.Reason = true, fmt.Sprintf("%.0f canary requests in the window, %.0f needed", win.Canary.Requests, minReq)
			return r
		}
		r.Unit = "ratio"
		pc, ps := win.Canary.ErrorRate(), win.Stable.ErrorRate()
		if t.Compare == "baseline" || t.MaxDelta > 0 && !t.Max.Set {
			d := pc - ps
			r.Value, r.Threshold = d, float64(t.MaxDelta)
			z := DeltaZ(win.Canary.Errors, win.Canary.Requests, win.Stable.Errors, win.Stable.Requests)
			r.Breach = BaselineBreach(d, z, float64(t.MaxDelta))
			r.Reason = fmt.Sprintf("canary %.2f%% vs stable %.2f%% errors (delta %+.2f points, z %.1f; limit +%s)", pc*100, ps*100, d*100, z, t.MaxDelta)
		} else {
			r.Value, r.Threshold = pc, t.Max.Value
			r.Breach = t.Max.Set && pc > t.Max.Value
			r.Reason = fmt.Sprintf("canary %.2f%% errors (limit %s)", pc*100, t.Max.Raw)
		}
	}
	return r
}

// BaselineBreach decides a baseline comparison: the canary's excess error
// rate must be at least half the allowed delta (so tiny but significant
// differences at high volume do not page anyone) and statistically
// significant (so noise at low volume does not either).
func BaselineBreach(delta, z, maxDelta float64) bool {
	return delta >= maxDelta/2 && z >= ZCritical
}

// DeltaZ is the one-sided two-proportion z statistic for "the canary's
// error rate is above the stable's", with a pooled variance.
func DeltaZ(ce, cn, se, sn float64) float64 {
	if cn == 0 || sn == 0 {
		return 0
	}
	p := (ce + se) / (cn + sn)
	v := p * (1 - p) * (1/cn + 1/sn)
	if v == 0 {
		if ce/cn > se/sn {
			return math.Inf(1)
		}
		return 0
	}
	return (ce/cn - se/sn) / math.Sqrt(v)
}

func isLatency(t plan.Trigger) bool {
	return len(t.Metric) >= 7 && t.Metric[:7] == "latency"
}

func quantileOf(metric string) float64 {
	switch metric {
	case "latency_p50":
		return 0.5
	case "latency_p90":
		return 0.9
	case "latency_p95":
		return 0.95
	case "latency_p999":
		return 0.999
	}
	return 0.99
}
