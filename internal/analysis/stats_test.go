package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/plan"
)

// The SPEC example policy: error rate vs baseline +2 points over 2m with
// 200 requests and 2 consecutive analyses, p99 800 ms over 3m, every 30s.
func examplePolicy(t testing.TB) (*plan.Plan, []plan.Trigger) {
	src := "---\nanalysis: {interval: 30s}\nstrategy: {steps: [{weight: 1, bake: 5m}, {weight: 10, bake: 10m}, {weight: 50, bake: 15m}, {weight: 100}]}\ntriggers:\n  - {metric: error_rate, compare: baseline, max_delta: 2%, window: 2m, min_requests: 200, consecutive: 2}\n  - {metric: latency_p99, max: 800ms, window: 3m, consecutive: 2}\n---\n"
	p, ds := plan.Parse("x.md", "x.md", []byte(src))
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	return p, p.Triggers
}

var bounds = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1, 1.5, 2, 3, 5, 10, math.Inf(1)}

// traffic adds n requests with error probability p and lognormal latency
// (median 80 ms, sigma 0.6: p99 about 330 ms) to a release's counters.
func traffic(r *rand.Rand, rel *Release, n int, p float64) {
	if rel.Buckets == nil {
		for _, b := range bounds {
			rel.Buckets = append(rel.Buckets, Bucket{Le: b})
		}
	}
	var perBucket [32]float64
	for i := 0; i < n; i++ {
		rel.Requests++
		if r.Float64() < p {
			rel.Errors++
		}
		perBucket[latencyBucket[r.IntN(len(latencyBucket))]]++
	}
	// Buckets are cumulative: a request counts in its bucket and every one above.
	run := 0.0
	for j := range rel.Buckets {
		run += perBucket[j]
		rel.Buckets[j].Count += run
	}
}

// latencyBucket holds the bucket index of 65536 lognormal latencies, so
// the simulation draws a latency with one random number.
var latencyBucket = func() []uint8 {
	r := rand.New(rand.NewPCG(7, 7))
	out := make([]uint8, 1<<16)
	for i := range out {
		lat := 0.08 * math.Exp(0.6*r.NormFloat64())
		for j, b := range bounds {
			if lat <= b {
				out[i] = uint8(j)
				break
			}
		}
	}
	return out
}()

// simulate runs one canary through the plan's steps and returns the plan
// time at which a trigger fired, or -1. perWindow is the canary's request
// count per 2-minute window at the first step; the stable release gets the
// rest of the traffic.
func simulate(r *rand.Rand, p *plan.Plan, triggers []plan.Trigger, perWindow int, canaryErr float64, onlyFirstStep bool) time.Duration {
	interval := p.Analysis.Interval.D()
	e := NewEvaluator(triggers, 1)
	var cum Snapshot
	at := time.Duration(0)
	base := time.Unix(0, 0)
	perInterval := float64(perWindow) * interval.Seconds() / 120
	steps := p.Strategy.Steps
	if onlyFirstStep {
		steps = steps[:1]
	}
	for _, st := range steps {
		e.Reset()
		bake := st.Bake.D()
		if bake == 0 {
			bake = 5 * time.Minute
		}
		// Canary requests grow with the weight; the total stays constant.
		total := perInterval * 100 / float64(steps[0].Weight)
		nc := int(total * float64(st.Weight) / 100)
		ns := int(total) - nc
		if ns < int(perInterval) {
			ns = int(perInterval) // stable keeps some traffic as the baseline (mirrored in drills)
		}
		// The controller reads the metrics right after each traffic shift,
		// so the first window starts there.
		cum.At = base.Add(at)
		e.Observe(cloneSnap(cum), true)
		for elapsed := time.Duration(0); elapsed < bake; elapsed += interval {
			at += interval
			traffic(r, &cum.Canary, nc, canaryErr)
			traffic(r, &cum.Stable, ns, 0.01)
			cum.At = base.Add(at)
			for _, res := range e.Observe(cloneSnap(cum), true) {
				if res.Fired {
					return at
				}
			}
		}
	}
	return -1
}

func cloneSnap(s Snapshot) Snapshot {
	s.Canary.Buckets = append([]Bucket(nil), s.Canary.Buckets...)
	s.Stable.Buckets = append([]Bucket(nil), s.Stable.Buckets...)
	return s
}

type statFigures struct {
	perWindow      int
	falseRollbacks int
	detected       int
	runs           int
}

// statistics runs runs healthy canaries (1 % errors, as the stable
// release) and runs canaries with a +2 point regression through the
// plan's exported analysis, evaluated by Prometheus's engine.
func statistics(t testing.TB, perWindow, runs int) statFigures {
	p, _ := examplePolicy(t)
	p.Service = "pay"
	// Only the error-rate trigger judges errors; latency is healthy.
	p.Triggers = p.Triggers[:1]
	a, err := NewAnalyzer(p, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(42, uint64(perWindow)))
	s := newSimulation(t)
	for i := 0; i < runs; i++ {
		s.write(r, fmt.Sprintf("h%d", i), perWindow, 0.01)
		s.write(r, fmt.Sprintf("b%d", i), perWindow, 0.03)
	}
	f := statFigures{perWindow: perWindow, runs: runs}
	window := p.Triggers[0].Window.D()
	for i := 0; i < runs; i++ {
		if s.firstFire(a, fmt.Sprintf("h%d", i)) >= 0 {
			f.falseRollbacks++
		}
		// Detected within 2 analysis windows of the regression's start.
		if at := s.firstFire(a, fmt.Sprintf("b%d", i)); at >= 0 && at <= 2*window {
			f.detected++
		}
	}
	return f
}

// TestStatistics checks counts, not time: at the drill's volume per
// window, healthy canaries almost never roll back and a +2 point
// regression is caught within two windows.
func TestStatistics(t *testing.T) {
	if testing.Short() {
		t.Skip("statistics run in full mode")
	}
	for _, v := range []int{StatsVolume} {
		f := statistics(t, v, 1000)
		t.Logf("%4d canary requests per window: %d false rollbacks in %d healthy canaries; +2 point regression detected within 2 windows in %d/%d", v, f.falseRollbacks, f.runs, f.detected, f.runs)
		if v == StatsVolume {
			if f.falseRollbacks > 1 {
				t.Errorf("%d false rollbacks in 1000 healthy canaries (target <= 1)", f.falseRollbacks)
			}
			if f.detected < 990 {
				t.Errorf("regression detected in %d/1000 (target >= 990)", f.detected)
			}
		}
	}
}

// StatsVolume is the canary volume per window at which the targets hold.
const StatsVolume = 1500

func BenchmarkStatistics(b *testing.B) {
	for _, v := range []int{200, 500, 1000, 1500, 2000} {
		b.Run(fmt.Sprintf("perWindow=%d", v), func(b *testing.B) {
			var f statFigures
			for b.Loop() {
				f = statistics(b, v, 1000)
			}
			b.ReportMetric(float64(f.falseRollbacks), "false-rollbacks/1000")
			b.ReportMetric(float64(f.detected)/10, "%detected-in-2-windows")
		})
	}
}
