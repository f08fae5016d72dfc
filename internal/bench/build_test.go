package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/bench"
	"github.com/rollbook/rollbook/site"
)

// TestCorpusPassesStrictBuild: every generated plan passes every check,
// warnings included, and builds, so that the benchmark measures a site
// that would be published, not one that stops at the first finding. The
// clock is fixed: the plans' review and flag cleanup dates are absolute.
func TestCorpusPassesStrictBuild(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		root := t.TempDir()
		if err := bench.Generate(root, 300, seed); err != nil {
			t.Fatal(err)
		}
		_, err := site.Build(context.Background(), site.Options{Root: root, Strict: true, Memory: true, Now: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}
