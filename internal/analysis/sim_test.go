package analysis

// The simulated canaries of the statistics test, written into promsim so
// the exported expressions are evaluated by Prometheus's own engine.

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/metricquery"
	"github.com/rollbook/rollbook/internal/promsim"
)

// counters are one simulated release's cumulative request counts.
type counters struct {
	ok, bad float64
}

// draw adds n requests failing with probability p: exactly for small n,
// by the normal approximation of the binomial for large n.
func draw(r *rand.Rand, c *counters, n int, p float64) {
	var bad float64
	if n < 200 {
		for range n {
			if r.Float64() < p {
				bad++
			}
		}
	} else {
		mean, sd := float64(n)*p, math.Sqrt(float64(n)*p*(1-p))
		bad = math.Max(0, math.Min(float64(n), math.Round(mean+sd*r.NormFloat64())))
	}
	c.bad += bad
	c.ok += float64(n) - bad
}

// scrapeEvery is the simulated Prometheus's scrape interval.
const scrapeEvery = 10 * time.Second

// simulation is many canaries of one plan, each with its own release
// labels, in one TSDB.
type simulation struct {
	tb       testing.TB
	q        *promsim.Store
	base     time.Time
	service  string
	interval time.Duration
	bake     time.Duration
	weight   int
}

func newSimulation(tb testing.TB) *simulation {
	p, _ := examplePolicy(tb)
	return &simulation{tb: tb, q: promsim.New(metricquery.ReleaseLabel, 5*time.Minute),
		base: time.Unix(1_700_000_000, 0), service: "pay", interval: p.Analysis.Interval.D(), bake: p.Strategy.Steps[0].Bake.D(), weight: p.Strategy.Steps[0].Weight}
}

// write appends one canary's traffic for the first step: perWindow canary
// requests per 2 minutes failing at canaryErr, the stable release getting
// the other 99 % of the traffic at a 1 % error rate.
func (s *simulation) write(r *rand.Rand, run string, perWindow int, canaryErr float64) {
	perScrape := float64(perWindow) * scrapeEvery.Seconds() / 120
	total := perScrape * 100 / float64(s.weight)
	nc := int(math.Round(perScrape))
	ns := int(total) - nc
	var canary, stable counters
	for at := time.Duration(0); at <= s.bake; at += scrapeEvery {
		if at > 0 {
			draw(r, &canary, nc, canaryErr)
			draw(r, &stable, ns, 0.01)
		}
		ts := s.base.Add(at)
		for _, x := range []struct {
			hash string
			c    counters
		}{{"c" + run, canary}, {"s" + run, stable}} {
			for code, v := range map[string]float64{"200": x.c.ok, "500": x.c.bad} {
				if err := s.q.Add(ts, v, "__name__", metricquery.RequestsTotal, "code", code, metricquery.ReleaseLabel, x.hash, "service", s.service); err != nil {
					s.tb.Fatal(err)
				}
			}
		}
	}
}

// firstFire runs the plan's analysis over one written canary and returns
// when a trigger of the canary fired, or -1 (the stable release's watch
// is measured too, but its fire is no rollback).
func (s *simulation) firstFire(a *Analyzer, run string) time.Duration {
	a.Canary, a.Stable = "c"+run, "s"+run
	a.Reset(s.base)
	for at := s.interval; at <= s.bake; at += s.interval {
		for _, r := range a.Observe(context.Background(), s.q, s.base.Add(at), true) {
			if r.Error != "" {
				s.tb.Fatalf("query failed: %s\n%s", r.Error, r.Query)
			}
			if r.Fired && !r.Stable {
				return at
			}
		}
	}
	return -1
}
