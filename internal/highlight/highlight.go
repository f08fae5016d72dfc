// Package highlight owns code highlighting: a block of code in a named
// language becomes HTML spans with chroma's classes, and CSS styles them.
// The lexers, their rules and the styles are chroma's; what runs them is
// not chroma's loop. firstLexer (lex.go) is that loop over the same
// compiled rules, skipping a rule where the expression engine's
// first-character set says it cannot match; keyword lists are matched as
// tries (words.go); writeTokens (format.go) writes the bytes chroma's
// HTML formatter writes. Each is held to chroma's own tokens and bytes on
// the sample of every language chroma ships, so a chroma upgrade that
// changes its loop fails a test here, not a page.
//
// internal/markdown calls it for fenced code, as goldmark-highlighting is
// called by goldmark.
package highlight

import (
	"html"
	"strings"
	"sync"
	"time"

	"github.com/alecthomas/chroma/v2"
	chtml "github.com/alecthomas/chroma/v2/formatters/html"
	"github.com/alecthomas/chroma/v2/lexers"
)

// Highlighter highlights code; it makes each language's lexer once. The
// zero value is ready to use and it is safe for concurrent use.
type Highlighter struct {
	lexers sync.Map // lang -> chroma.Lexer, or nil for no lexer
}

// HTML highlights code written in lang (a chroma lexer name or alias, or
// a file name chroma matches) as spans with chroma's classes; code in a
// language chroma does not know is escaped. stable reports that no match
// can have been cut short by matchLimit, so another run gives the same
// HTML and it may be kept.
func (h *Highlighter) HTML(lang, code string) (out string, stable bool) {
	lexer := h.lexer(lang)
	if lexer == nil {
		return html.EscapeString(code), true
	}
	start := time.Now()
	it, err := lexer.Tokenise(nil, code)
	if err != nil {
		return html.EscapeString(code), true
	}
	var buf strings.Builder
	buf.Grow(len(code) * 4)
	writeTokens(&buf, it.Tokens())
	return buf.String(), time.Since(start) < matchLimit
}

// lexer finds a language's lexer once: a name chroma does not know is
// matched against every lexer's file patterns.
func (h *Highlighter) lexer(lang string) chroma.Lexer {
	if lang == "" {
		return nil
	}
	if l, ok := h.lexers.Load(lang); ok {
		lx, _ := l.(chroma.Lexer)
		return lx
	}
	var lx chroma.Lexer
	if l := lexers.Get(lang); l != nil {
		lx = chroma.Coalesce(limited(l))
	}
	h.lexers.Store(lang, lx)
	return lx
}

// formatter is chroma's HTML formatter with the options writeTokens
// writes as: classes, no surrounding pre, no line numbers. The
// stylesheet is its CSS, and the tests compare writeTokens with it.
var formatter = chtml.New(chtml.WithClasses(true), chtml.PreventSurroundingPre(true))
