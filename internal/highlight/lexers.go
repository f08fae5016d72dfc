package highlight

import (
	"strings"
	"time"

	"github.com/alecthomas/chroma/v2"
	"github.com/alecthomas/chroma/v2/lexers"
	"github.com/dlclark/regexp2/v2"
)

// matchLimit is the wall time one regular-expression match of a lexer
// may take. Chroma gives each match 250 ms and treats a match that runs
// out as no match, so the block is highlighted otherwise; on a loaded
// machine (a CI runner, a laptop compiling while it builds) a goroutine
// starved of CPU runs out, and the same code came out highlighted two
// ways in two builds. The build cache keeps what one build highlighted
// for every later one and a served site must equal a fresh build, so
// highlighting must depend on the code alone. The limit stays, as the
// safety chroma meant it to be against an expression that backtracks
// without end, but long enough that only such an expression reaches it;
// a block highlighted in less wall time than the limit cannot have been
// cut short (the limit is measured by a clock that never runs ahead) and
// only such a block is kept.
const matchLimit = 3 * time.Second

// limited returns a copy of a chroma regex lexer whose matches have
// matchLimit, whose keyword lists are tries (see factorWords) and which
// skips the rules that cannot match where it stands (see firstLexer), or
// l itself when it is not a regex lexer. The copy has the same rules in
// the same order; one rule without a mutator carries a compile-time
// mutator that sets the limit of every rule once they are compiled and
// hands the compiled rules over, then removes itself, so the rules lex
// as they did.
func limited(l chroma.Lexer) chroma.Lexer {
	rl, ok := l.(*chroma.RegexLexer)
	if !ok {
		return l
	}
	rules, err := rl.Rules()
	if err != nil {
		return l
	}
	rules = rules.Clone()
	compiled := &onCompile{}
	placed := false
	for _, rs := range rules {
		for i, r := range rs {
			if !placed && r.Mutator == nil && r.Pattern != "" {
				rs[i].Mutator = compiled
				placed = true
			}
		}
	}
	if !placed {
		return l
	}
	cp, err := chroma.NewLexer(rl.Config(), func() chroma.Rules { return rules })
	if err != nil {
		return l
	}
	cp.SetRegistry(lexers.GlobalLexerRegistry)
	// Lexing nothing compiles the rules.
	if _, err := cp.Tokenise(nil, ""); err != nil || compiled.rules == nil {
		return cp
	}
	return withFirstChars(cp, compiled.rules)
}

// onCompile is the mutator limited places: it sets the match limit and
// factors the keyword lists of the compiled rules; rules are the lexer's
// compiled rules once it has run.
type onCompile struct{ rules chroma.CompiledRules }

// MutateLexer runs once the rules are compiled.
func (m *onCompile) MutateLexer(rules chroma.CompiledRules, state string, rule int) error {
	for _, rs := range rules {
		for _, r := range rs {
			if r.Regexp == nil {
				continue
			}
			factor(r)
			r.Regexp.MatchTimeout = matchLimit
		}
	}
	m.rules = rules
	// Gone once applied: chroma looks for compile-time mutators again
	// after each one, and the rule lexes without it as it did before.
	rules[state][rule].Mutator = nil
	return nil
}

// Mutate is never reached (the mutator is removed when the lexer is
// compiled); it leaves the lexer's state as it is.
func (*onCompile) Mutate(*chroma.LexerState) error { return nil }

// factor puts the trie of a keyword rule in place of its list: the
// expression chroma compiled, with the list swapped, compiled with the
// options chroma compiled it with. A rule of another shape, or one whose
// list cannot be found once in the compiled expression, is left as it
// is.
func factor(r *chroma.CompiledRule) {
	opts, ok := compiledOptions(r.Regexp)
	if !ok {
		return
	}
	compiled := r.Regexp.String()
	// chroma compiles a rule as \G(?flags)(?:pattern), the flags first
	// when it has any; a flag or an option can fold case.
	flags, _, _ := strings.Cut(strings.TrimPrefix(compiled, `\G(?`), ")")
	fold := opts&regexp2.IgnoreCase != 0 || strings.HasPrefix(compiled, `\G(?`) && !strings.HasPrefix(compiled, `\G(?:`) && strings.Contains(flags, "i")
	list, trie, ok := factorWords(r.Pattern, fold)
	if !ok {
		return
	}
	if strings.Count(compiled, list) != 1 {
		return
	}
	re, err := regexp2.Compile(strings.Replace(compiled, list, trie, 1), opts)
	if err != nil {
		return
	}
	r.Regexp = re
}
