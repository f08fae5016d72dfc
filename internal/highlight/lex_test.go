package highlight

import (
	"testing"

	"github.com/alecthomas/chroma/v2"
	"github.com/dlclark/regexp2/v2"
)

// TestCompiledOptionsRead: the options an expression was compiled with
// are read back from it, whatever they are, and from every rule of every
// chroma lexer: should regexp2 move them, the first-character filter and
// the tries would be off (every rule tried, none factored) and this fails.
func TestCompiledOptionsRead(t *testing.T) {
	for _, opts := range []regexp2.RegexOptions{
		regexp2.None,
		regexp2.IgnoreCase,
		regexp2.Multiline | regexp2.Singleline,
		regexp2.IgnoreCase | regexp2.ExplicitCapture | regexp2.IgnorePatternWhitespace,
		regexp2.RightToLeft,
		regexp2.ECMAScript,
		regexp2.RE2 | regexp2.Unicode,
	} {
		re := regexp2.MustCompile(`a(b)`, opts)
		if got, ok := compiledOptions(re); !ok || got != opts {
			t.Errorf("compiled with %#x: read %#x, %v", opts, got, ok)
		}
	}
	rules, seen := 0, map[regexp2.RegexOptions]int{}
	for _, l := range allRegexLexers() {
		compiled, err := compiledRules(l)
		if err != nil {
			t.Fatalf("%s: %v", l.Config().Name, err)
		}
		for _, r := range compiled {
			if r.Regexp == nil {
				continue
			}
			opts, ok := compiledOptions(r.Regexp)
			if !ok {
				t.Fatalf("%s %q: options not read", l.Config().Name, r.Pattern)
			}
			rules++
			seen[opts]++
		}
	}
	if rules < 1000 {
		t.Errorf("read the options of %d rules", rules)
	}
	t.Logf("%d rules; options as chroma compiles them: %v", rules, seen)
}

// TestFirstCharsFollowOptions: the first characters are those of the
// expression as it was compiled, options included; a case-insensitive
// rule can begin with either case.
func TestFirstCharsFollowOptions(t *testing.T) {
	for _, tc := range []struct {
		opts      regexp2.RegexOptions
		pattern   string
		can, cant string
	}{
		{regexp2.None, `\G(?:abc|def)`, "ad", "ADbx "},
		{regexp2.IgnoreCase, `\G(?:abc|def)`, "adAD", "bx "},
		{regexp2.None, `\G(?i)(?:abc)`, "aA", "b"},
		{regexp2.IgnorePatternWhitespace, `\G(?: a b )`, "a", " b"},
	} {
		r := &chroma.CompiledRule{Regexp: regexp2.MustCompile(tc.pattern, tc.opts)}
		set := firstChars(r)
		if set == nil {
			t.Errorf("%q with %#x: no first characters", tc.pattern, tc.opts)
			continue
		}
		for _, c := range tc.can {
			if !set.Contains(c) {
				t.Errorf("%q with %#x: %q cannot begin it", tc.pattern, tc.opts, c)
			}
		}
		for _, c := range tc.cant {
			if set.Contains(c) {
				t.Errorf("%q with %#x: %q can begin it", tc.pattern, tc.opts, c)
			}
		}
	}
	// What can match empty, or is searched right to left, is tried
	// everywhere.
	for _, re := range []*regexp2.Regexp{regexp2.MustCompile(`\G(?:a*)`, regexp2.None), regexp2.MustCompile(`\G(?:ab)`, regexp2.RightToLeft)} {
		if set := firstChars(&chroma.CompiledRule{Regexp: re}); set != nil {
			t.Errorf("%q: first characters %v", re, set)
		}
	}
}
