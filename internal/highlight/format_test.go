package highlight

import (
	"strings"
	"testing"

	"github.com/alecthomas/chroma/v2"
	"github.com/alecthomas/chroma/v2/lexers"
	"github.com/alecthomas/chroma/v2/styles"
)

// TestWriteTokensLikeChroma: writeTokens writes the bytes chroma's HTML
// formatter writes with highlighting's options, on every language's
// sample in chroma's test data and on token streams at the edges of its
// line splitting.
func TestWriteTokensLikeChroma(t *testing.T) {
	chromaHTML := func(tokens []chroma.Token) string {
		var b strings.Builder
		if err := formatter.Format(&b, styles.Fallback, chroma.Literator(tokens...)); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	ours := func(tokens []chroma.Token) string {
		var b strings.Builder
		writeTokens(&b, tokens)
		return b.String()
	}
	kw := chroma.Keyword
	for _, tokens := range [][]chroma.Token{
		nil,
		{{Type: kw, Value: ""}},
		{{Type: kw, Value: "\n"}},
		{{Type: kw, Value: "a\n"}, {Type: chroma.Text, Value: ""}},
		{{Type: kw, Value: "a\n"}, {Type: kw, Value: ""}, {Type: kw, Value: ""}},
		{{Type: kw, Value: "a"}, {Type: kw, Value: ""}},
		{{Type: chroma.Comment, Value: "a\n\nb\n"}, {Type: chroma.Text, Value: "<&>\"'\n"}},
		{{Type: chroma.NameBuiltinPseudo, Value: "self"}, {Type: chroma.TokenType(99999), Value: "x"}, {Type: chroma.Error, Value: "\n\n"}},
	} {
		if got, want := ours(tokens), chromaHTML(tokens); got != want {
			t.Errorf("%v:\n got %q\nwant %q", tokens, got, want)
		}
	}
	n := 0
	for name, src := range chromaSamples(t) {
		it, err := chroma.Coalesce(lexers.Get(name)).Tokenise(nil, string(src))
		if err != nil {
			continue
		}
		tokens := it.Tokens()
		if got, want := ours(tokens), chromaHTML(tokens); got != want {
			i := 0
			for i < min(len(got), len(want)) && got[i] == want[i] {
				i++
			}
			t.Errorf("%s: differs at byte %d: got %q, want %q", name, i, got[i:min(len(got), i+80)], want[i:min(len(want), i+80)])
		}
		n++
	}
	if n < 100 {
		t.Errorf("%d samples formatted", n)
	}
}
