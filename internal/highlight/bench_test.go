package highlight

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/alecthomas/chroma/v2"
	"github.com/alecthomas/chroma/v2/lexers"
	"github.com/alecthomas/chroma/v2/styles"

	"github.com/rollbook/rollbook/internal/bench"
)

// corpusBlocks is every fenced block of 200 plans of the benchmark
// corpus, as (language, code).
func corpusBlocks(tb testing.TB) (blocks [][2]string, size int) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		lines := strings.SplitAfter(bench.Plan(r, i, "payments-api"), "\n")
		for j := 0; j < len(lines); j++ {
			lang, ok := strings.CutPrefix(strings.TrimSpace(lines[j]), "```")
			if !ok || lang == "" {
				continue
			}
			var code strings.Builder
			for j++; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
				code.WriteString(lines[j])
			}
			blocks = append(blocks, [2]string{lang, code.String()})
			size += code.Len()
		}
	}
	if len(blocks) < 200 {
		tb.Fatalf("%d blocks in the corpus", len(blocks))
	}
	return blocks, size
}

// BenchmarkCorpusBlocks highlights every block of the corpus once per
// iteration, and for comparison does what chroma's own lexers and HTML
// formatter do with them: what the fast loop, the tries and writeTokens
// save. Both lexers are made and compiled before the clock starts
// (BenchmarkRenderCorpus in internal/markdown counts making them).
func BenchmarkCorpusBlocks(b *testing.B) {
	blocks, size := corpusBlocks(b)
	b.Run("highlight", func(b *testing.B) {
		var h Highlighter
		for _, bl := range blocks {
			h.HTML(bl[0], bl[1])
		}
		b.SetBytes(int64(size))
		for b.Loop() {
			for _, bl := range blocks {
				h.HTML(bl[0], bl[1])
			}
		}
	})
	b.Run("chroma", func(b *testing.B) {
		for _, bl := range blocks {
			if _, err := lexers.Get(bl[0]).Tokenise(nil, ""); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(size))
		for b.Loop() {
			for _, bl := range blocks {
				it, err := chroma.Coalesce(lexers.Get(bl[0])).Tokenise(nil, bl[1])
				if err != nil {
					b.Fatal(err)
				}
				var out strings.Builder
				if err := formatter.Format(&out, styles.Fallback, it); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
