package site

import (
	"context"
	"testing"

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
