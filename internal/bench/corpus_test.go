package bench

import (
	"slices"
	"strings"
	"testing"
)

// block is one fenced block of a corpus file.
type block struct{ lang, code string }

// blocks returns the fenced blocks of a Markdown text, the indentation of
// a block nested in a list item taken off, so that the same code nested
// and not nested counts as the same block.
func blocks(text string) []block {
	var out []block
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		trimmed := strings.TrimLeft(lines[i], " ")
		lang, ok := strings.CutPrefix(trimmed, "```")
		if !ok || lang == "" {
			continue
		}
		indent := len(lines[i]) - len(trimmed)
		var code strings.Builder
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			code.WriteString(strings.TrimPrefix(lines[i], strings.Repeat(" ", indent)) + "\n")
		}
		out = append(out, block{lang, code.String()})
	}
	return out
}

// TestCorpusBlocksAreDistinct: on a corpus of the benchmark's size, no
// fenced block repeats another, in its plan or in any other, so no cache
// keyed by a block's text answers one block from another. The languages
// are those of the example plans, each a real share of the blocks.
func TestCorpusBlocksAreDistinct(t *testing.T) {
	first := map[block]string{}
	langs := map[string]int{}
	total := 0
	for f := range files(10000, 1) {
		if !strings.HasSuffix(f.path, ".md") {
			continue
		}
		for _, b := range blocks(f.text) {
			total++
			langs[b.lang]++
			if where, ok := first[b]; ok {
				t.Fatalf("%s repeats a %s block of %s:\n%s", f.path, b.lang, where, b.code)
			}
			first[b] = f.path
		}
	}
	for _, lang := range []string{"console", "sql", "promql", "yaml", "json", "sh", "bash"} {
		if share := float64(langs[lang]) / float64(total); share < 0.02 {
			t.Errorf("%s is %.1f%% of the %d blocks, want at least 2%%", lang, 100*share, total)
		}
	}
	if langs["console"] < langs["sql"] {
		t.Errorf("%d console blocks, fewer than the %d SQL ones: the example plans have most console blocks", langs["console"], langs["sql"])
	}
}

// TestCorpusShape holds the corpus to the example plans' shape: their
// sizes, every kind and risk, a migration in about a quarter of the
// plans and several blocks in each.
func TestCorpusShape(t *testing.T) {
	const n = 2000
	var sizes []int
	kinds, risks := map[string]int{}, map[string]int{}
	migrations, nBlocks := 0, 0
	for f := range files(n, 1) {
		switch {
		case strings.HasSuffix(f.path, ".sql"):
			migrations++
			if !strings.Contains(f.text, "CONCURRENTLY") || !strings.Contains(f.text, "lock_timeout") {
				t.Errorf("%s is not the expand migration the plans declare:\n%s", f.path, f.text)
			}
			continue
		case strings.Contains(f.path, "/notes-"):
			if strings.HasPrefix(f.text, "---") {
				t.Errorf("%s, a note, has front matter", f.path)
			}
			// The search tests count "change" as the word of every
			// plan's title and of no other page.
			if strings.Contains(strings.ToLower(f.text), "change") {
				t.Errorf("%s, a note, has the word change", f.path)
			}
			continue
		}
		sizes = append(sizes, len(f.text))
		nBlocks += len(blocks(f.text))
		for _, line := range strings.Split(f.text, "\n") {
			if v, ok := strings.CutPrefix(line, "kind: "); ok {
				kinds[v]++
			}
			if v, ok := strings.CutPrefix(line, "risk: "); ok {
				risks[v]++
			}
		}
	}
	if len(sizes) != n {
		t.Fatalf("%d plans, want %d", len(sizes), n)
	}
	mean := 0
	for _, s := range sizes {
		mean += s
	}
	mean /= n
	// content/'s plans are 2 to 10 KB, about 5 KB on average.
	if mean < 4000 || mean > 8000 || slices.Min(sizes) < 1500 || slices.Max(sizes) > 16000 {
		t.Errorf("plan sizes: mean %d, min %d, max %d bytes; want a mean of 4 to 8 KB, none under 1.5 KB or over 16 KB", mean, slices.Min(sizes), slices.Max(sizes))
	}
	if b := float64(nBlocks) / n; b < 4 || b > 12 {
		t.Errorf("%.1f fenced blocks a plan, want 4 to 12", b)
	}
	for _, k := range []string{"rollout", "deployment", "rollback", "automated-rollback", "process"} {
		if kinds[k] < n/10 {
			t.Errorf("%d %s plans of %d", kinds[k], k, n)
		}
	}
	for _, r := range []string{"low", "medium", "high"} {
		if risks[r] < n/5 {
			t.Errorf("%d %s-risk plans of %d", risks[r], r, n)
		}
	}
	if migrations < n/6 || migrations > n/3 {
		t.Errorf("%d migrations for %d plans, want about a quarter", migrations, n)
	}
}

// TestCorpusIsDeterministic: a seed gives the same corpus every time,
// another seed another corpus.
func TestCorpusIsDeterministic(t *testing.T) {
	collect := func(seed uint64) []file {
		var out []file
		for f := range files(300, seed) {
			out = append(out, f)
		}
		return out
	}
	a, b, c := collect(1), collect(1), collect(2)
	if !slices.Equal(a, b) {
		t.Error("seed 1 gave two corpora")
	}
	if slices.Equal(a, c) {
		t.Error("seeds 1 and 2 gave the same corpus")
	}
}
