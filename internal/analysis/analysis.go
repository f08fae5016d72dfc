// Package analysis owns trigger evaluation over time: the Analyzer sends
// each check's exported PromQL (internal/metricquery) to a Prometheus every
// interval and decides it with the exported conditions, counting fails and
// inconclusive windows in a row; the game-day controller, the backtest and
// the statistics benchmark all run it. Results of the stable release's
// watch (metricquery's Stable checks) are marked Stable. The router's own
// counters are read here too, for the drill's per-release chart.
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
	// Stable marks the result of a Stable check (metricquery.Check.Stable):
	// it judges the stable release against its own level before the
	// rollout, not the canary. Fired on it is a stable regression: halt
	// and page; never roll back, never promote.
	Stable bool `json:"stable,omitempty"`
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
	// windows in a row is reached (never on a Stable result: a stable
	// release without a value neither holds nor rolls back the canary).
	NoData   bool    `json:"no_data,omitempty"`
	Error    string  `json:"error,omitempty"`
	Requests float64 `json:"canary_requests"`
	Reason   string  `json:"reason"`
}
