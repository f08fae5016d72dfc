package site

import (
	"context"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/bench"
)

// BenchmarkBuild builds a synthetic corpus of 1000 plans from scratch each
// iteration. `make bench` runs the full 10 000-plan comparison with Hugo.
var benchPlans = 5000

func BenchmarkBuild(b *testing.B) {
	dir := b.TempDir()
	if err := bench.Generate(dir, benchPlans, 1); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Build(context.Background(), Options{Root: dir, Now: testNow, Force: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSearchShare measures what the search index adds to a cold
// build of BENCH_PLANS plans (default 10 000): builds with and without it,
// alternated so the disk's mood hits both alike.
func BenchmarkSearchShare(b *testing.B) {
	dir := b.TempDir()
	if err := bench.Generate(dir, bench.Plans(10000), 1); err != nil {
		b.Fatal(err)
	}
	var with, without time.Duration
	for b.Loop() {
		for i := 0; i < 3; i++ {
			for _, skip := range []bool{false, true} {
				start := time.Now()
				if _, err := Build(context.Background(), Options{Root: dir, Now: testNow, Force: true, noSearch: skip}); err != nil {
					b.Fatal(err)
				}
				if skip {
					without += time.Since(start)
				} else {
					with += time.Since(start)
				}
			}
		}
	}
	b.ReportMetric(with.Seconds()/3, "s-with-index")
	b.ReportMetric(without.Seconds()/3, "s-without")
	b.ReportMetric(100*(with.Seconds()-without.Seconds())/without.Seconds(), "%-added")
}
