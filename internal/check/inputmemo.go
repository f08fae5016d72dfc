package check

import (
	"bytes"
	"errors"

	"github.com/rollbook/rollbook/internal/buildcache"
	"github.com/rollbook/rollbook/internal/markdown"
)

// placeholdersKind names a body's placeholders in a Memo; a change to
// markdown.Placeholders or to the encoding below changes it.
const placeholdersKind = "check-placeholders/1"

// memoPlaceholders is markdown.Placeholders through m. Finding them takes a
// Markdown parse of its own, which a CI build with the cache restored
// would otherwise pay for every plan to check one changed one.
func memoPlaceholders(m Memo, body []byte) []markdown.Placeholder {
	if m == nil || !bytes.Contains(body, []byte("{{")) {
		return markdown.Placeholders(body)
	}
	if data, ok := m.Get(placeholdersKind, body); ok {
		if ps, err := decodePlaceholders(data); err == nil {
			return ps
		}
	}
	ps := markdown.Placeholders(body)
	var e buildcache.Encoder
	e.Int(len(ps))
	for _, p := range ps {
		e.String(p.Name)
		e.Int(p.Line)
		e.Int(p.Col)
	}
	m.Put(e.Bytes(), placeholdersKind, body)
	return ps
}

func decodePlaceholders(data []byte) ([]markdown.Placeholder, error) {
	d := buildcache.NewDecoder(data)
	n := d.Int()
	if n < 0 || n > len(data) {
		return nil, errors.New("check: damaged placeholders entry")
	}
	var ps []markdown.Placeholder
	for range n {
		ps = append(ps, markdown.Placeholder{Name: d.String(), Line: d.Int(), Col: d.Int()})
	}
	return ps, d.Err()
}
