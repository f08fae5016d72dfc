package markdown

import (
	"math/rand/v2"
	"testing"

	"github.com/rollbook/rollbook/internal/bench"
)

// BenchmarkRenderCorpus renders plans shaped like real runbooks (five or
// more fenced blocks each, SQL among them) with a new renderer every
// iteration, so every block is highlighted: the cold build's largest cost.
func BenchmarkRenderCorpus(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	var plans [][]byte
	size := 0
	for i := range 200 {
		p := []byte(bench.Plan(r, i, "payments-api"))
		plans = append(plans, p)
		size += len(p)
	}
	b.SetBytes(int64(size))
	for b.Loop() {
		rd := New(Options{})
		for _, p := range plans {
			if _, err := rd.Render(p, 0); err != nil {
				b.Fatal(err)
			}
		}
	}
}
