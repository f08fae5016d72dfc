package highlight

import (
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/chroma/v2"
	"github.com/alecthomas/chroma/v2/lexers"
	"github.com/dlclark/regexp2/v2"
	"github.com/dlclark/regexp2/v2/syntax"
)

// firstLexer lexes with a chroma regex lexer's own compiled rules, in
// the loop chroma's LexerState.Iterator runs, with two differences: a
// rule is not tried where the next character cannot begin its match, and
// a rule that reads only its whole match (see firstRule) gets only that.
// chroma tries every rule of the state in turn at every token and most
// of them fail, so the failed tries are most of the work of lexing; and
// it makes the groups of each match twice over and puts them in a map,
// which a rule that emits one token never reads.
//
// The characters that can begin a rule's match are the expression
// engine's own analysis of it (regexp2's first-character set, which the
// engine uses to skip the same positions when it searches). A rule that
// can match empty has no such set and is always tried. A rule the lexer
// was not compiled with (a mutator can add rules as it lexes) is always
// tried. So the same rule matches at the same place and the tokens are
// chroma's (TestLexersLexAlikeOnChromasSamples holds it to that).
type firstLexer struct {
	*chroma.RegexLexer
	rules chroma.CompiledRules
	first map[string][]firstRule
}

// firstRule is a compiled rule and the characters that can begin its
// match, nil for any. plain tells that only the text of the whole match
// is read when it matches: it emits one token of a type and at most
// pushes or pops states, so neither its other groups nor the named
// groups are made.
type firstRule struct {
	rule  *chroma.CompiledRule
	set   *syntax.CharSet
	plain bool
}

// plainRule reports that a rule reads only the whole match: a token type
// emits groups[0] and nothing else, pushing and popping read the stack.
func plainRule(r *chroma.CompiledRule) bool {
	if _, ok := r.Type.(chroma.TokenType); !ok {
		return false
	}
	if r.Mutator == nil {
		return true
	}
	k, ok := r.Mutator.(interface{ MutatorKind() string })
	return ok && (k.MutatorKind() == "push" || k.MutatorKind() == "pop")
}

// withFirstChars returns l, whose compiled rules are rules, lexing as a
// firstLexer.
func withFirstChars(l *chroma.RegexLexer, rules chroma.CompiledRules) chroma.Lexer {
	f := &firstLexer{RegexLexer: l, rules: rules, first: map[string][]firstRule{}}
	for state, rs := range rules {
		frs := make([]firstRule, len(rs))
		for i, r := range rs {
			frs[i] = firstRule{rule: r, set: firstChars(r), plain: plainRule(r)}
		}
		f.first[state] = frs
	}
	return f
}

// firstChars is the set of characters that can begin a match of r, nil
// when it can match empty, the engine has no set for it or the options
// the rule was compiled with cannot be read.
func firstChars(r *chroma.CompiledRule) *syntax.CharSet {
	if r.Regexp == nil {
		return nil
	}
	// Parsed as the rule was compiled: the options change the set (a
	// case-insensitive rule begins with either case).
	opts, ok := compiledOptions(r.Regexp)
	if !ok {
		return nil
	}
	tree, err := syntax.Parse(r.Regexp.String(), syntax.ParseOptions{RegexOptions: syntax.RegexOptions(opts)})
	if err != nil {
		return nil
	}
	code, err := syntax.Write(tree)
	if err != nil || code.FcPrefix == nil || code.RightToLeft {
		return nil
	}
	set := code.FcPrefix.PrefixSet
	return &set
}

// compiledOptions reads the options an expression was compiled with.
// regexp2 keeps them with the expression but does not show them, so
// they are read by reflection; ok is false when they are not where
// regexp2 v2.13 keeps them, and then a rule is tried everywhere and left
// unfactored, as chroma runs it (TestCompiledOptionsRead fails first).
func compiledOptions(re *regexp2.Regexp) (opts regexp2.RegexOptions, ok bool) {
	f := reflect.ValueOf(re).Elem().FieldByName("options")
	if !f.IsValid() || f.Type() != reflect.TypeFor[regexp2.RegexOptions]() {
		return 0, false
	}
	return regexp2.RegexOptions(f.Int()), true
}

// Tokenise is chroma's RegexLexer.Tokenise and LexerState.Iterator.
func (f *firstLexer) Tokenise(options *chroma.TokeniseOptions, text string) (chroma.Iterator, error) {
	if options == nil {
		options = &chroma.TokeniseOptions{State: "root", EnsureLF: true}
	}
	if options.EnsureLF {
		text = ensureLF(text)
	}
	newlineAdded := false
	if !options.Nested && f.Config().EnsureNL && !strings.HasSuffix(text, "\n") {
		text += "\n"
		newlineAdded = true
	}
	l := &chroma.LexerState{
		Registry:       lexers.GlobalLexerRegistry,
		Lexer:          f.RegexLexer,
		Text:           []rune(text),
		Stack:          []string{options.State},
		Rules:          f.rules,
		MutatorContext: map[any]any{},
	}
	var iterators []chroma.Iterator
	next := func() (chroma.Token, bool) {
		for len(iterators) > 0 {
			n := len(iterators) - 1
			t := iterators[n]()
			if t.Type == chroma.Ignore {
				continue
			}
			if t == chroma.EOF {
				iterators = iterators[:n]
				continue
			}
			return t, true
		}
		return chroma.EOF, false
	}
	end := len(l.Text)
	if newlineAdded {
		end--
	}
	return func() chroma.Token {
		for l.Pos < end && len(l.Stack) > 0 {
			if t, ok := next(); ok {
				return t
			}
			l.State = l.Stack[len(l.Stack)-1]
			rules, ok := l.Rules[l.State]
			if !ok {
				panic("unknown state " + l.State)
			}
			index, rule, groups, named := f.match(l.Text, l.Pos, l.State, rules)
			if groups == nil {
				if l.Text[l.Pos] == '\n' && l.State != options.State {
					l.Stack = []string{options.State}
					continue
				}
				l.Pos++
				return chroma.Token{Type: chroma.Error, Value: string(l.Text[l.Pos-1 : l.Pos])}
			}
			l.Rule = index
			l.Groups = groups
			l.NamedGroups = named
			l.Pos += utf8.RuneCountInString(groups[0])
			if rule.Mutator != nil {
				if err := rule.Mutator.Mutate(l); err != nil {
					panic(err)
				}
			}
			if rule.Type != nil {
				iterators = append(iterators, rule.Type.Emit(l.Groups, l))
			}
		}
		if t, ok := next(); ok {
			return t
		}
		if l.Pos != len(l.Text) && len(l.Stack) == 0 {
			value := string(l.Text[l.Pos:])
			l.Pos = len(l.Text)
			return chroma.Token{Type: chroma.Error, Value: value}
		}
		return chroma.EOF
	}, nil
}

// match is chroma's matchRules, skipping the rules whose match cannot
// begin with text[pos], and making only the whole match's text for a
// plain rule.
func (f *firstLexer) match(text []rune, pos int, state string, rules []*chroma.CompiledRule) (int, *chroma.CompiledRule, []string, map[string]string) {
	first := f.first[state]
	for i, rule := range rules {
		known := i < len(first) && first[i].rule == rule
		if known && first[i].set != nil && !first[i].set.Contains(text[pos]) {
			continue
		}
		if known && first[i].plain {
			// The same search as below, in the engine's own storage: no
			// match is made, only the whole match's place is read.
			at, n, found := 0, 0, false
			err := rule.Regexp.FindRunesMatches(text, pos, func(v regexp2.MatchView) bool {
				at, n, found = v.GroupRange(0)
				return false
			})
			if err != nil || !found || at != pos {
				continue
			}
			return i, rule, []string{string(text[at : at+n])}, nil
		}
		m, err := rule.Regexp.FindRunesMatchStartingAt(text, pos)
		if m == nil || err != nil || m.RuneIndex != pos {
			continue
		}
		gs := m.Groups()
		groups := make([]string, 0, len(gs))
		named := make(map[string]string, len(gs))
		for _, g := range gs {
			s := g.String()
			named[g.Name] = s
			groups = append(groups, s)
		}
		return i, rule, groups, named
	}
	return 0, nil, nil, nil
}

// ensureLF is chroma's: \r\n and \r become \n.
func ensureLF(text string) string {
	if !strings.Contains(text, "\r") {
		return text
	}
	buf := make([]byte, 0, len(text))
	for i := range len(text) {
		c := text[i]
		if c == '\r' {
			if i < len(text)-1 && text[i+1] == '\n' {
				continue
			}
			c = '\n'
		}
		buf = append(buf, c)
	}
	return string(buf)
}
