package highlight

import (
	"regexp"
	"slices"
	"strings"
)

// Keyword rules are most of what chroma's lexers spend: a rule such as
// SQL's `(DATETIME_INTERVAL_PRECISION|…|BY|C|G)\b` lists hundreds of
// words, and the regular expression engine tries each of them in turn
// at every identifier, so the cost of a block grows with the length of
// its language's keyword lists. factorWords gives such a list as a trie,
// `(A(?:B(?:ORT|S)|…)|…)`, which the same engine matches looking at each
// character about once.
//
// The trie tries the words in another order, and that gives the same
// match here. Where the rule is tried, the words that match the text
// all match the same characters, so each is a prefix of the longer
// ones. The engine takes the first of them, in the list's order, that
// the rest of the rule accepts; the trie tries them longest first. So
// the two agree when the list puts every word before the words that are
// its prefixes, which is how chroma's Words sorts them, and factorWords
// checks it. The words stay in the same capturing group and the trie
// adds only groups that capture nothing, so the match, its length and
// its groups are the same. What may stand before the list is limited to
// zero-width tests and a flag, and after it `\b` or nothing, so the
// list is one term of the rule's sequence.
var wordsShape = regexp.MustCompile(`^((?:\\b|\(\?<!\\\.\)|\(\?<!@\)|\(\?<!\\w\)|\(\?i\))*)\(((?:[A-Za-z0-9_ -]+\|)+[A-Za-z0-9_ -]+)\)(?:\\b)?$`)

// factorWords returns the list a rule's pattern holds, as it stands in
// the pattern, and the trie to put in its place; ok is false for a
// pattern of another shape or a list in another order. foldCase tells
// that the rule matches case-insensitively: its words are then compared
// in lower case (the engine compares them so).
func factorWords(pattern string, foldCase bool) (list, trie string, ok bool) {
	m := wordsShape.FindStringSubmatch(pattern)
	if m == nil {
		return "", "", false
	}
	foldCase = foldCase || strings.Contains(m[1], "(?i)")
	words := strings.Split(m[2], "|")
	if foldCase {
		for i, w := range words {
			words[i] = strings.ToLower(w)
		}
	}
	// Two spellings of one word match the same text: the first stands
	// for both.
	seen := map[string]bool{}
	distinct := words[:0]
	for _, w := range words {
		if !seen[w] {
			seen[w] = true
			distinct = append(distinct, w)
		}
	}
	for i, w := range distinct {
		for _, longer := range distinct[i+1:] {
			if len(longer) > len(w) && strings.HasPrefix(longer, w) {
				return "", "", false
			}
		}
	}
	slices.Sort(distinct)
	var b strings.Builder
	writeTrie(&b, distinct)
	return "(" + m[2] + ")", "(" + b.String() + ")", true
}

// writeTrie writes words (sorted, distinct, none empty) as alternatives
// that share their first characters once; a word that ends where others go on
// is the last alternative, so the longer words are tried first.
func writeTrie(b *strings.Builder, words []string) {
	for i := 0; i < len(words); {
		c := words[i][0]
		j := i
		for j < len(words) && words[j][0] == c {
			j++
		}
		if i > 0 {
			b.WriteByte('|')
		}
		// Sorted, so the first and the last share what all share.
		n := 1
		for n < len(words[i]) && n < len(words[j-1]) && words[i][n] == words[j-1][n] {
			n++
		}
		b.WriteString(words[i][:n])
		rest := make([]string, 0, j-i)
		for _, w := range words[i:j] {
			rest = append(rest, w[n:])
		}
		switch {
		case len(rest) == 1:
			b.WriteString(rest[0])
		case rest[0] == "": // sorted: the word that ends here comes first
			b.WriteString("(?:")
			writeTrie(b, rest[1:])
			b.WriteString("|)")
		default:
			b.WriteString("(?:")
			writeTrie(b, rest)
			b.WriteByte(')')
		}
		i = j
	}
}
