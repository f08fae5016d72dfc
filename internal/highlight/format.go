package highlight

import (
	"html"
	"strings"
	"sync"

	"github.com/alecthomas/chroma/v2"
)

// writeTokens writes tokens as chroma's HTML formatter writes them with
// the options highlighting uses (classes, no surrounding pre, no line
// numbers or highlighted lines): each token's value escaped, split after
// every newline, each piece in a span of its type's class. chroma's
// formatter formats every span with fmt and splits the tokens into line
// slices first, work that grows with every token of every block; this
// writes the same bytes straight into the page (TestWriteTokensLikeChroma
// holds it to that).
func writeTokens(b *strings.Builder, tokens []chroma.Token) {
	// A last line that is one empty token is left out.
	if n := len(tokens); n > 0 && tokens[n-1].Value == "" && (n == 1 || strings.HasSuffix(tokens[n-2].Value, "\n")) {
		tokens = tokens[:n-1]
	}
	for _, t := range tokens {
		cls := tokenClass(t.Type)
		v := t.Value
		for {
			piece, rest := v, ""
			if i := strings.IndexByte(v, '\n'); i >= 0 && i < len(v)-1 {
				piece, rest = v[:i+1], v[i+1:]
			}
			if cls != "" {
				b.WriteString(`<span class="`)
				b.WriteString(cls)
				b.WriteString(`">`)
			}
			b.WriteString(html.EscapeString(piece))
			if cls != "" {
				b.WriteString(`</span>`)
			}
			if rest == "" {
				break
			}
			v = rest
		}
	}
}

// classes is each token type's class, found as chroma's formatter finds
// it: the nearest type up the type's parents that chroma names.
var classes sync.Map // chroma.TokenType -> string

func tokenClass(t chroma.TokenType) string {
	if c, ok := classes.Load(t); ok {
		return c.(string)
	}
	c := findClass(t)
	classes.Store(t, c)
	return c
}

func findClass(t chroma.TokenType) string {
	for t != 0 {
		if cls, ok := chroma.StandardTypes[t]; ok {
			return cls
		}
		t = t.Parent()
	}
	return chroma.StandardTypes[t]
}
