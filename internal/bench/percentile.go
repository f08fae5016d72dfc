package bench

import (
	"slices"
	"time"
)

// Percentile is the p-th percentile of ds by nearest rank: the smallest
// value with at least p% of the values at or below it (of twenty, the
// 95th is the 19th smallest, not the largest). ds is not changed.
func Percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := (p*len(s) + 99) / 100 // ceil(p/100 · n), 1-based
	return s[min(len(s), max(1, rank))-1]
}
