// Package warmup owns the warm-up of a release before it takes weighted
// traffic in a drill: the request and result on the wire between the
// drill and its load generator (which is also the report's record of it),
// and the rule for when a cold start is over.
package warmup

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Request asks for the warm-up of a release: the traffic mix, sent
// straight to Target (not through the router, so neither the analysis nor
// the users' figures count it), in batches of Batch at Concurrency, until
// the batches' p99 stops falling or Max has passed.
type Request struct {
	Target      string        `json:"target"` // the release's base URL on the drill network
	Concurrency int           `json:"concurrency"`
	Batch       int           `json:"batch"`
	Max         time.Duration `json:"max_ns"`
}

// Result is what the warm-up saw: the p99 of each batch, first to last,
// and whether it settled before Max. Reports keep it as it came.
type Result struct {
	Requests int             `json:"requests"`
	Failed   int             `json:"failed,omitempty"`
	Took     time.Duration   `json:"took_ns"`
	P99      []time.Duration `json:"p99_ns,omitempty"`
	Settled  bool            `json:"settled"`
}

// settled says a cold start is over: at least three batches (the first
// may straddle the end of a cold start), and the last batch's p99 fell by
// less than a fifth from the one before (a cold release's first batches
// fall by multiples as its pool and caches fill), or is already under
// 20 ms, below what any latency trigger judges.
func settled(p99 []time.Duration) bool {
	n := len(p99)
	if n < 3 {
		return false
	}
	last, prev := p99[n-1], p99[n-2]
	return last < 20*time.Millisecond || last*5 >= prev*4
}

// Run runs the warm-up: send does one request and says how long it took
// and whether it failed (5xx or no answer).
func Run(ctx context.Context, req Request, send func(context.Context) (time.Duration, bool)) Result {
	req.Concurrency = max(req.Concurrency, 1)
	req.Batch = max(req.Batch, req.Concurrency)
	if req.Max <= 0 {
		req.Max = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, req.Max)
	defer cancel()
	start := time.Now()
	var res Result
	for ctx.Err() == nil && !res.Settled {
		took := make([]time.Duration, 0, req.Batch)
		var mu sync.Mutex
		var wg sync.WaitGroup
		jobs := make(chan struct{})
		for range req.Concurrency {
			wg.Go(func() {
				for range jobs {
					d, failed := send(ctx)
					if ctx.Err() != nil {
						continue
					}
					mu.Lock()
					took = append(took, d)
					if failed {
						res.Failed++
					}
					mu.Unlock()
				}
			})
		}
	feed:
		for range req.Batch {
			select {
			case jobs <- struct{}{}:
			case <-ctx.Done():
				break feed
			}
		}
		close(jobs)
		wg.Wait()
		if len(took) < req.Batch {
			// Cut short by Max: a partial batch's p99 is not comparable.
			res.Requests += len(took)
			break
		}
		res.Requests += len(took)
		slices.Sort(took)
		res.P99 = append(res.P99, took[(len(took)*99-1)/100])
		res.Settled = settled(res.P99)
	}
	res.Took = time.Since(start)
	return res
}
