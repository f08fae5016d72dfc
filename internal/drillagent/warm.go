package drillagent

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// WarmRequest asks the load generator to warm a release up before it
// takes weighted traffic: the traffic mix, sent straight to Target (not
// through the router, so neither the analysis nor the users' figures
// count it), in batches of Batch at Concurrency, until the batches' p99
// stops falling or Max has passed.
type WarmRequest struct {
	Target      string        `json:"target"` // the release's base URL on the drill network
	Concurrency int           `json:"concurrency"`
	Batch       int           `json:"batch"`
	Max         time.Duration `json:"max_ns"`
}

// WarmResult is what the warm-up saw: the p99 of each batch, first to
// last, and whether it settled before Max.
type WarmResult struct {
	Requests int             `json:"requests"`
	Failed   int             `json:"failed"`
	Took     time.Duration   `json:"took_ns"`
	P99      []time.Duration `json:"p99_ns"`
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

// Warm runs the warm-up: send does one request and says how long it took
// and whether it failed (5xx or no answer).
func Warm(ctx context.Context, req WarmRequest, send func(context.Context) (time.Duration, bool)) WarmResult {
	req.Concurrency = max(req.Concurrency, 1)
	req.Batch = max(req.Batch, req.Concurrency)
	if req.Max <= 0 {
		req.Max = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, req.Max)
	defer cancel()
	start := time.Now()
	var res WarmResult
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

// warm answers POST PathWarm: the warm-up of the release at the request's
// target, with the load's own mix.
func (l *Load) warm(w http.ResponseWriter, r *http.Request) {
	var req WarmRequest
	if err := readJSON(r, &req); err != nil || req.Target == "" || req.Max > time.Minute {
		writeJSON(w, 400, map[string]string{"error": `send {"target": "http://canary:8080", "concurrency": 16, "batch": 64, "max_ns": up to a minute}`})
		return
	}
	base, err := url.Parse(req.Target)
	if err != nil || base.Host == "" {
		writeJSON(w, 400, map[string]string{"error": "target: want a base URL such as http://canary:8080"})
		return
	}
	res := Warm(r.Context(), req, func(ctx context.Context) (time.Duration, bool) {
		hr, err := l.request(ctx, base)
		if err != nil {
			return 0, true
		}
		t := time.Now()
		code, err := l.do(hr)
		return time.Since(t), err != nil || code >= 500
	})
	writeJSON(w, 200, res)
}
