package metricquery

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Client asks a Prometheus server's HTTP API, as the controllers'
// Prometheus providers do.
type Client struct {
	api v1.API
}

// NewClient returns a client of the Prometheus at url (http://host:9090).
func NewClient(url string) (*Client, error) {
	c, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		return nil, fmt.Errorf("prometheus client for %s: %w", url, err)
	}
	return &Client{api: v1.NewAPI(c)}, nil
}

// Query evaluates q at one time and returns its values as Argo Rollouts
// hands them to a condition: one per series of a vector, or the scalar.
func (c *Client) Query(ctx context.Context, q string, at time.Time) ([]float64, error) {
	v, _, _, err := c.api.Query(ctx, q, at)
	if err != nil {
		return nil, fmt.Errorf("prometheus query %s: %w", q, err)
	}
	switch x := v.(type) {
	case model.Vector:
		out := make([]float64, 0, len(x))
		for _, s := range x {
			out = append(out, float64(s.Value))
		}
		return out, nil
	case *model.Scalar:
		return []float64{float64(x.Value)}, nil
	}
	return nil, fmt.Errorf("prometheus query %s returned a %s, not a vector: write a query whose result is one series", q, v.Type())
}

// Point is a query's values at one step of a range.
type Point struct {
	At     time.Time
	Values []float64
}

// QueryRange evaluates q at every step from..to and returns, for each
// step, the values as Query would (steps without a value included, empty).
func (c *Client) QueryRange(ctx context.Context, q string, from, to time.Time, step time.Duration) ([]Point, error) {
	if step <= 0 {
		return nil, fmt.Errorf("query range step must be positive")
	}
	v, _, _, err := c.api.QueryRange(ctx, q, v1.Range{Start: from, End: to, Step: step})
	if err != nil {
		return nil, fmt.Errorf("prometheus range query %s: %w", q, err)
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("prometheus range query %s returned a %s, not a matrix", q, v.Type())
	}
	n := int(to.Sub(from)/step) + 1
	out := make([]Point, n)
	for i := range out {
		out[i].At = from.Add(time.Duration(i) * step)
	}
	// Series in a stable order, so result[0] is the same series each step.
	sort.Slice(m, func(i, j int) bool { return m[i].Metric.String() < m[j].Metric.String() })
	for _, s := range m {
		for _, p := range s.Values {
			i := int(math.Round(float64(p.Timestamp.Time().Sub(from)) / float64(step)))
			if i >= 0 && i < n {
				out[i].Values = append(out[i].Values, float64(p.Value))
			}
		}
	}
	return out, nil
}
