package analysis

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/rollbook/rollbook/internal/metricquery"
)

// engine answers queries with Prometheus's own PromQL engine over an
// in-memory store, so the statistics are of the exported expressions as a
// Prometheus server evaluates them.
type engine struct {
	ng *promql.Engine
	st *memStore
}

func (e engine) Query(ctx context.Context, q string, at time.Time) ([]float64, error) {
	qry, err := e.ng.NewInstantQuery(ctx, e.st, nil, q, at)
	if err != nil {
		return nil, err
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	v, err := res.Vector()
	if err != nil {
		return nil, err
	}
	out := make([]float64, 0, len(v))
	for _, s := range v {
		out = append(out, s.F)
	}
	return out, nil
}

// memSeries is one series' samples in time order.
type memSeries struct {
	labels  []string
	samples []chunks.Sample
}

// memStore holds the simulated series, indexed by release label (every
// query selects one release), as a storage.Queryable for the engine.
type memStore struct {
	byRelease map[string][]*memSeries
	all       map[string]*memSeries
}

func newMemStore() *memStore {
	return &memStore{byRelease: map[string][]*memSeries{}, all: map[string]*memSeries{}}
}

func (m *memStore) add(release string, ls []string, t int64, v float64) {
	key := fmt.Sprint(ls)
	s := m.all[key]
	if s == nil {
		s = &memSeries{labels: ls}
		m.all[key] = s
		m.byRelease[release] = append(m.byRelease[release], s)
	}
	s.samples = append(s.samples, sample{t, v})
}

func (m *memStore) Querier(int64, int64) (storage.Querier, error) { return memQuerier{m}, nil }

type memQuerier struct{ m *memStore }

func (q memQuerier) Select(_ context.Context, _ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	var cands []*memSeries
	for _, mt := range ms {
		if mt.Name == metricquery.ReleaseLabel && mt.Type == labels.MatchEqual {
			cands = q.m.byRelease[mt.Value]
		}
	}
	var out []storage.Series
	for _, s := range cands {
		l := labels.FromStrings(s.labels...)
		ok := true
		for _, mt := range ms {
			if !mt.Matches(l.Get(mt.Name)) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, storage.NewListSeries(l, s.samples))
		}
	}
	return &listSet{series: out, i: -1}
}

func (memQuerier) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (memQuerier) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (memQuerier) Close() error { return nil }

// sample is one float sample as the engine's list series take it.
type sample struct {
	t int64
	f float64
}

func (s sample) T() int64                      { return s.t }
func (s sample) ST() int64                     { return 0 }
func (s sample) F() float64                    { return s.f }
func (s sample) H() *histogram.Histogram       { return nil }
func (s sample) FH() *histogram.FloatHistogram { return nil }
func (s sample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s sample) Copy() chunks.Sample           { return s }

type listSet struct {
	series []storage.Series
	i      int
}

func (l *listSet) Next() bool                        { l.i++; return l.i < len(l.series) }
func (l *listSet) At() storage.Series                { return l.series[l.i] }
func (l *listSet) Err() error                        { return nil }
func (l *listSet) Warnings() annotations.Annotations { return nil }

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
	q        engine
	base     time.Time
	service  string
	interval time.Duration
	bake     time.Duration
	weight   int
}

func newSimulation(tb testing.TB) *simulation {
	p, _ := examplePolicy(tb)
	ng := promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	return &simulation{tb: tb, q: engine{ng: ng, st: newMemStore()},
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
		ts := s.base.Add(at).UnixMilli()
		for _, x := range []struct {
			hash string
			c    counters
		}{{"c" + run, canary}, {"s" + run, stable}} {
			for code, v := range map[string]float64{"200": x.c.ok, "500": x.c.bad} {
				s.q.st.add(x.hash, []string{"__name__", metricquery.RequestsTotal, "code", code, metricquery.ReleaseLabel, x.hash, "service", s.service}, ts, v)
			}
		}
	}
}

// firstFire runs the plan's analysis over one written canary and returns
// when a trigger fired, or -1.
func (s *simulation) firstFire(a *Analyzer, run string) time.Duration {
	a.Canary, a.Stable = "c"+run, "s"+run
	a.Reset(s.base)
	for at := s.interval; at <= s.bake; at += s.interval {
		for _, r := range a.Observe(context.Background(), s.q, s.base.Add(at), true) {
			if r.Error != "" {
				s.tb.Fatalf("query failed: %s\n%s", r.Error, r.Query)
			}
			if r.Fired {
				return at
			}
		}
	}
	return -1
}
