// Package promsim is an in-process Prometheus for simulations: series
// written sample by sample and queried by Prometheus's own PromQL engine.
// The statistics benchmark and the controller's fake world use it, so
// they evaluate the exported queries exactly as a Prometheus server does,
// in fake time and without containers.
package promsim

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// Store holds series in memory. IndexLabel, when set, is a label every
// query selects with an equality matcher (a release label), so a Select
// looks only at that value's series.
type Store struct {
	IndexLabel string

	mu     sync.RWMutex
	ng     *promql.Engine
	series map[string]*series
	index  map[string][]*series
}

type series struct {
	labels  labels.Labels
	samples []chunks.Sample
}

// New returns an empty store whose queries see samples up to lookback old.
func New(indexLabel string, lookback time.Duration) *Store {
	return &Store{
		IndexLabel: indexLabel,
		ng:         promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000, Timeout: time.Minute, LookbackDelta: lookback}),
		series:     map[string]*series{}, index: map[string][]*series{},
	}
}

// Add appends a sample to the series named by label pairs (name, value,
// ...; __name__ for the metric). Samples of one series come in time order.
func (s *Store) Add(at time.Time, v float64, pairs ...string) error {
	key := strings.Join(pairs, "\xff")
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.series[key]
	if se == nil {
		se = &series{labels: labels.FromStrings(pairs...)}
		s.series[key] = se
		s.index[se.labels.Get(s.IndexLabel)] = append(s.index[se.labels.Get(s.IndexLabel)], se)
	}
	t := at.UnixMilli()
	if n := len(se.samples); n > 0 && se.samples[n-1].T() >= t {
		return fmt.Errorf("promsim: sample at %s is not after the series' last one", at)
	}
	se.samples = append(se.samples, sample{t, v})
	return nil
}

// Query evaluates q at at and returns its values as a controller's
// Prometheus provider does: one per series, or the scalar.
func (s *Store) Query(ctx context.Context, q string, at time.Time) ([]float64, error) {
	qry, err := s.ng.NewInstantQuery(ctx, s, nil, q, at)
	if err != nil {
		return nil, err
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	switch v := res.Value.(type) {
	case promql.Vector:
		out := make([]float64, 0, len(v))
		for _, smp := range v {
			out = append(out, smp.F)
		}
		return out, nil
	case promql.Scalar:
		return []float64{v.V}, nil
	}
	return nil, fmt.Errorf("query %s returned a %s, not a vector", q, res.Value.Type())
}

// Querier makes the store a storage.Queryable for the engine.
func (s *Store) Querier(int64, int64) (storage.Querier, error) { return querier{s}, nil }

type querier struct{ s *Store }

func (q querier) Select(_ context.Context, _ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	q.s.mu.RLock()
	defer q.s.mu.RUnlock()
	var cands []*series
	indexed := false
	for _, m := range ms {
		if q.s.IndexLabel != "" && m.Name == q.s.IndexLabel && m.Type == labels.MatchEqual {
			cands, indexed = q.s.index[m.Value], true
		}
	}
	if !indexed {
		for _, se := range q.s.series {
			cands = append(cands, se)
		}
	}
	var out []storage.Series
	for _, se := range cands {
		ok := true
		for _, m := range ms {
			if !m.Matches(se.labels.Get(m.Name)) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, storage.NewListSeries(se.labels, append([]chunks.Sample(nil), se.samples...)))
		}
	}
	return &list{series: out, i: -1}
}

func (querier) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (querier) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (querier) Close() error { return nil }

type list struct {
	series []storage.Series
	i      int
}

func (l *list) Next() bool                        { l.i++; return l.i < len(l.series) }
func (l *list) At() storage.Series                { return l.series[l.i] }
func (l *list) Err() error                        { return nil }
func (l *list) Warnings() annotations.Annotations { return nil }

// sample is one float sample.
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
