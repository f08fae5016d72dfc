package site

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/sitewrite"
)

// FuzzCollapseSpace checks the one-pass whitespace collapse against its
// plain definition.
func FuzzCollapseSpace(f *testing.F) {
	for _, s := range []string{"", "  a  b\n\tc  ", "\u00a0x\u0085y\u3000", "a\xffb \xff", "one"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := collapseSpace(s), strings.Join(strings.Fields(s), " "); got != want {
			t.Fatalf("collapseSpace(%q) = %q, want %q", s, got, want)
		}
	})
}

// FuzzShortSummary checks the summary cut against its plain definition,
// invalid UTF-8 included.
func FuzzShortSummary(f *testing.F) {
	for _, s := range []string{"", "short", strings.Repeat("é", 160), strings.Repeat("日本", 81), strings.Repeat("x", 161), strings.Repeat("a\xff", 100), strings.Repeat("x", 157) + "\xe2\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := s
		if r := []rune(s); len(r) > 160 {
			want = string(r[:157]) + "…"
		}
		if got := shortSummary(s); got != want {
			t.Fatalf("shortSummary(%q) = %q, want %q", s, got, want)
		}
	})
}

// TestWriteSearchStopsWithTheBuild: a cancelled build stops indexing
// (writeSearch used to index under context.Background()).
func TestWriteSearchStopsWithTheBuild(t *testing.T) {
	b, w, s := loadedSite(t, copyTree(t, "testdata/basic"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := b.writeSearch(ctx, s, w); !errors.Is(err, context.Canceled) {
		t.Errorf("writeSearch of a cancelled build = %v, want context.Canceled", err)
	}
}

// loadedSite reads and checks the site at root in memory, as a build does
// before it renders; the writer is aborted when the test ends.
func loadedSite(t *testing.T, root string) (*Builder, *sitewrite.Writer, *loaded) {
	t.Helper()
	b, err := New(Options{Root: root, Now: testNow, Memory: true, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	w := sitewrite.NewMemory(sitewrite.Options{})
	t.Cleanup(w.Abort)
	s, err := b.load(t.Context(), w)
	if err != nil {
		t.Fatal(err)
	}
	return b, w, s
}
