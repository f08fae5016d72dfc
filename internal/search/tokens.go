package search

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Tokens splits text into index terms. Identifiers are kept whole and also
// split into their parts, so "etcdHighFsyncDurations", "payments-api" and
// "kube_pod_status" are found by the whole and by "fsync", "api", "pod".
func Tokens(text string) []string {
	var out []string
	eachToken(text, func(t string) { out = append(out, t) })
	return out
}

// eachToken calls emit with each of text's terms, in Tokens' order. It
// allocates only for words that are not already lower-case: indexing
// ten thousand plans tokenises megabytes.
func eachToken(text string, emit func(string)) {
	i := 0
	for i < len(text) {
		// Skip to the start of a word.
		for i < len(text) {
			c := text[i]
			if c < utf8.RuneSelf {
				if wordByte(c) {
					break
				}
				i++
				continue
			}
			r, n := utf8.DecodeRuneInString(text[i:])
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				break
			}
			i += n
		}
		start := i
		plain := true // lower-case ASCII letters and digits only
		for i < len(text) {
			c := text[i]
			if c < utf8.RuneSelf {
				if !wordByte(c) {
					break
				}
				if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
					plain = false
				}
				i++
				continue
			}
			r, n := utf8.DecodeRuneInString(text[i:])
			if !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
				break
			}
			plain = false
			i += n
		}
		raw := strings.Trim(text[start:i], "-_.")
		if raw == "" {
			continue
		}
		if plain {
			emit(raw)
			continue
		}
		emit(strings.ToLower(raw))
		if parts := splitIdent(raw); len(parts) > 1 {
			for _, p := range parts {
				emit(strings.ToLower(p))
			}
		}
	}
}

// wordByte reports whether an ASCII byte belongs to a word: letters,
// digits and the identifier joiners '-', '_' and '.'.
func wordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

// splitIdent splits at '-', '_', '.' and lower-to-upper case changes.
func splitIdent(s string) []string {
	// Most words are plain lower-case ASCII: nothing to split.
	plain := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			plain = false
			break
		}
	}
	if plain {
		return nil
	}
	var parts []string
	var cur []rune
	rs := []rune(s)
	flush := func() {
		if len(cur) > 0 {
			parts = append(parts, string(cur))
			cur = cur[:0]
		}
	}
	for i, r := range rs {
		switch {
		case r == '-' || r == '_' || r == '.':
			flush()
		case unicode.IsUpper(r) && i > 0 && (unicode.IsLower(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1])):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	return parts
}
