package bench

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	twenty := make([]time.Duration, 20)
	for i := range twenty {
		twenty[i] = time.Duration(20-i) * time.Millisecond // unsorted
	}
	for _, tc := range []struct {
		ds   []time.Duration
		p    int
		want time.Duration
	}{
		{twenty, 95, 19 * time.Millisecond},
		{twenty, 100, 20 * time.Millisecond},
		{twenty, 50, 10 * time.Millisecond},
		{twenty, 1, 1 * time.Millisecond},
		{twenty, 0, 1 * time.Millisecond},
		{[]time.Duration{7}, 95, 7},
		{[]time.Duration{3, 1}, 50, 1},
		{nil, 95, 0},
	} {
		if got := Percentile(tc.ds, tc.p); got != tc.want {
			t.Errorf("Percentile(%d values, %d) = %v, want %v", len(tc.ds), tc.p, got, tc.want)
		}
	}
	if twenty[0] != 20*time.Millisecond {
		t.Errorf("Percentile sorted its argument")
	}
}
