package warmup

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestWarmSettles(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name    string
		p99     []time.Duration
		settled bool
	}{
		{"two batches are never enough", []time.Duration{5 * ms, 5 * ms}, false},
		{"still falling by multiples", []time.Duration{2000 * ms, 1400 * ms, 300 * ms}, false},
		{"fell by less than a fifth", []time.Duration{1400 * ms, 300 * ms, 260 * ms}, true},
		{"rose again", []time.Duration{300 * ms, 300 * ms, 320 * ms}, true},
		{"under 20 ms", []time.Duration{1900 * ms, 900 * ms, 12 * ms}, true},
	} {
		if got := settled(tc.p99); got != tc.settled {
			t.Errorf("%s: settled(%v) = %v", tc.name, tc.p99, got)
		}
	}
}

// A cold release: its first 100 requests take 300 ms, then 40 ms. The
// warm-up runs until the p99 stops falling, and counts what failed.
func TestWarmRunsUntilTheColdStartIsOver(t *testing.T) {
	var n atomic.Int64
	send := func(ctx context.Context) (time.Duration, bool) {
		i := n.Add(1)
		if i <= 100 {
			return 300 * time.Millisecond, false
		}
		return 40 * time.Millisecond, i%50 == 0
	}
	res := Run(context.Background(), Request{Concurrency: 4, Batch: 64, Max: time.Minute}, send)
	ms := time.Millisecond
	want := []time.Duration{300 * ms, 300 * ms, 40 * ms, 40 * ms}
	if !res.Settled || !slices.Equal(res.P99, want) || res.Requests != 4*64 || res.Failed != 3 {
		t.Errorf("warm-up: %+v; want settled, p99s %v after 256 requests, 3 failed", res, want)
	}
}

// A release slow in steady state is not made to look warm: the warm-up
// ends after three batches that do not fall.
func TestWarmDoesNotWaitOutASlowRelease(t *testing.T) {
	res := Run(context.Background(), Request{Concurrency: 4, Batch: 16, Max: time.Minute}, func(context.Context) (time.Duration, bool) { return time.Second, false })
	if !res.Settled || len(res.P99) != 3 || res.P99[2] != time.Second {
		t.Errorf("warm-up: %+v", res)
	}
}

// Out of time: a partial batch is counted but not judged.
func TestWarmStopsAtMax(t *testing.T) {
	send := func(ctx context.Context) (time.Duration, bool) {
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
		}
		return 20 * time.Millisecond, false
	}
	res := Run(context.Background(), Request{Concurrency: 2, Batch: 1000, Max: 200 * time.Millisecond}, send)
	if res.Settled || len(res.P99) != 0 || res.Requests == 0 || res.Requests >= 1000 {
		t.Fatalf("warm-up cut short: %+v", res)
	}
}
