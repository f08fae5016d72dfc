package highlight

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/alecthomas/chroma/v2"
	"github.com/alecthomas/chroma/v2/lexers"
	"github.com/dlclark/regexp2/v2"
)

func TestFactorWords(t *testing.T) {
	for _, tc := range []struct {
		pattern  string
		foldCase bool
		trie     string // "" for a pattern left as it is
	}{
		{`(ABORT|ABS|ACCESS)\b`, false, `(A(?:B(?:ORT|S)|CCESS))`},
		{`(END-EXEC|TEMP|END|ZONE)\b`, false, `(END(?:-EXEC|)|TEMP|ZONE)`},
		{`\b(select|from|where)\b`, false, `(from|select|where)`},
		{`(?<!\.)(if|in|is|import)\b`, false, `(i(?:f|mport|n|s))`},
		// Folded: the first spelling stands for both.
		{`(SELECT|select|Sel|FROM)\b`, true, `(from|sel(?:ect|))`},
		{`(?i)(SELECT|FROM)\b`, false, `(from|select)`},
		// Not folded: two spellings are two words.
		{`(SELECT|select)\b`, false, `(SELECT|select)`},
		{`(true|false)`, false, `(false|true)`},
		// A prefix before a word it is the prefix of: the trie would try
		// the longer first, the rule the shorter.
		{`(END|END-EXEC)\b`, false, ""},
		{`(ab|abc|x)\b`, false, ""},
		{`(SEL|select)\b`, true, ""},
		// Other shapes.
		{`(a|b|c)+\b`, false, ""},
		{`(a|b.)\b`, false, ""},
		{`x(a|b)\b`, false, ""},
		{`(a|b)\b(?=x)`, false, ""},
		{`(a)\b`, false, ""},
		{`(a|)\b`, false, ""},
		{`(?:a|b)\b`, false, ""},
	} {
		list, trie, ok := factorWords(tc.pattern, tc.foldCase)
		if ok != (tc.trie != "") || trie != tc.trie {
			t.Errorf("factorWords(%q, %v) = %q, %v; want %q", tc.pattern, tc.foldCase, trie, ok, tc.trie)
			continue
		}
		if ok && strings.Count(tc.pattern, list) != 1 {
			t.Errorf("factorWords(%q): list %q is not in the pattern once", tc.pattern, list)
		}
	}
}

// TestFactoredRulesMatchAlike runs every rule of every chroma lexer that
// factor rewrites, as chroma compiled it and as factor recompiled it, at
// every position of texts made of its own words (in three cases, as
// prefixes of each other, glued to word characters, hyphens and spaces),
// and wants the same match, length and groups everywhere.
func TestFactoredRulesMatchAlike(t *testing.T) {
	rules := 0
	for _, rl := range allRegexLexers() {
		compiled, err := compiledRules(rl)
		if err != nil {
			t.Fatalf("%s: %v", rl.Config().Name, err)
		}
		for _, r := range compiled {
			if r.Regexp == nil {
				continue
			}
			orig := *r
			factor(r)
			if r.Regexp == orig.Regexp {
				continue
			}
			rules++
			text := []rune(wordsText(r.Pattern))
			for pos := range text {
				want, err1 := orig.Regexp.FindRunesMatchStartingAt(text, pos)
				got, err2 := r.Regexp.FindRunesMatchStartingAt(text, pos)
				if err1 != nil || err2 != nil {
					t.Fatalf("%s %q: %v %v", rl.Config().Name, r.Pattern, err1, err2)
				}
				if g, w := matchOf(got), matchOf(want); !reflect.DeepEqual(g, w) {
					t.Fatalf("%s %q at %d of %q: got %v, want %v", rl.Config().Name, r.Pattern, pos, string(text), g, w)
				}
			}
		}
	}
	if rules < 300 {
		t.Errorf("%d rules factored in chroma's lexers; expected about 400", rules)
	}
	t.Logf("%d rules factored and matched alike", rules)
}

// allRegexLexers is every regex lexer chroma registers.
func allRegexLexers() []*chroma.RegexLexer {
	var out []*chroma.RegexLexer
	for _, l := range lexers.GlobalLexerRegistry.Lexers {
		if rl, ok := l.(*chroma.RegexLexer); ok {
			out = append(out, rl)
		}
	}
	return out
}

// compiledRules compiles a fresh copy of a chroma lexer and returns its
// compiled rules (chroma does not show them).
func compiledRules(rl *chroma.RegexLexer) ([]*chroma.CompiledRule, error) {
	raw, err := rl.Rules()
	if err != nil {
		return nil, err
	}
	var out []*chroma.CompiledRule
	grab := grabRules{out: &out}
	rules := raw.Clone()
	for _, rs := range rules {
		if len(rs) > 0 && rs[0].Mutator == nil {
			rs[0].Mutator = grab
			break
		}
	}
	cp, err := chroma.NewLexer(rl.Config(), func() chroma.Rules { return rules })
	if err != nil {
		return nil, err
	}
	if _, err := cp.Tokenise(nil, ""); err != nil {
		return nil, err
	}
	return out, nil
}

type grabRules struct{ out *[]*chroma.CompiledRule }

func (g grabRules) MutateLexer(rules chroma.CompiledRules, state string, rule int) error {
	for _, rs := range rules {
		*g.out = append(*g.out, rs...)
	}
	rules[state][rule].Mutator = nil
	return nil
}

func (grabRules) Mutate(*chroma.LexerState) error { return nil }

// wordsText is a rule's words in the ways a lexer meets them.
func wordsText(pattern string) string {
	m := wordsShape.FindStringSubmatch(pattern)
	var b strings.Builder
	for i, w := range strings.Split(m[2], "|") {
		for _, v := range []string{w, strings.ToLower(w), strings.ToUpper(w), w[:len(w)/2+1]} {
			b.WriteString(v)
			b.WriteString([]string{" ", "x", "-", ".", "_1", "\n", "(", "\t"}[i%8])
		}
		b.WriteString(w + w + " ")
	}
	return b.String()
}

func matchOf(m *regexp2.Match) []string {
	if m == nil {
		return nil
	}
	out := []string{fmt.Sprint(m.RuneIndex)}
	for _, g := range m.Groups() {
		out = append(out, g.Name+"="+g.String())
	}
	return out
}

// TestLexersLexAlikeOnChromasSamples: on the sample of every language in
// chroma's own test data, the lexers highlighting uses (the longer match
// limit, the factored keyword lists) give the tokens chroma's lexers
// give.
func TestLexersLexAlikeOnChromasSamples(t *testing.T) {
	compared := 0
	for name, src := range chromaSamples(t) {
		l := lexers.Get(name)
		want, err := chroma.Tokenise(l, nil, string(src))
		if err != nil {
			continue // chroma itself cannot lex it
		}
		got, err := chroma.Tokenise(limited(l), nil, string(src))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		compared++
		if !reflect.DeepEqual(got, want) {
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Errorf("%s: token %d is %v, chroma's is %v", name, i, got[i], want[i])
					break
				}
			}
			if len(got) != len(want) {
				t.Errorf("%s: %d tokens, chroma's %d", name, len(got), len(want))
			}
		}
	}
	if compared < 100 {
		t.Errorf("compared %d languages; chroma has samples of more", compared)
	}
}
