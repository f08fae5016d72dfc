package site

import (
	"github.com/cespare/xxhash/v2"

	"github.com/rollbook/rollbook/internal/buildcache"
	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/plan"
)

// parseFile is plan.Parse; tests count through it that a build with the
// persistent cache warm decodes no front matter of an unchanged file.
var parseFile = plan.Parse

// parsedKey names a file's parsed plan and findings in the store: the
// display name and the path are inputs with the bytes, as findings name
// the file and the plan keeps its path.
func (s *store) parsedKey(name, rel string, data []byte) buildcache.Key {
	return s.c.Key("plan", []byte(name), []byte(rel), data)
}

// parsed is a file's plan and findings from an earlier build; an entry
// that does not decode is a miss, so the file is parsed (and stored) again.
func (s *store) parsed(name, rel string, data []byte) (*plan.Plan, diag.List, bool) {
	if s == nil || s.c == nil {
		return nil, nil, false
	}
	raw, ok := s.c.Get(s.parsedKey(name, rel, data))
	if !ok {
		return nil, nil, false
	}
	p, ds, err := plan.UnmarshalCache(raw)
	if err != nil {
		return nil, nil, false
	}
	return p, ds, true
}

// storeParsed keeps a file's plan and findings for the next builds,
// unless the plan holds a value the encoding cannot give back equal.
func (s *store) storeParsed(name, rel string, data []byte, p *plan.Plan, ds diag.List) {
	if s == nil || s.c == nil {
		return
	}
	raw, err := plan.MarshalCache(p, ds)
	if err != nil {
		return
	}
	s.c.Put(s.parsedKey(name, rel, data), raw)
}

// parsePlan returns the plan parsed from data: from the in-memory cache
// of the last build (serve), else from the persistent store, else parsed
// and kept in both. Either cache may be nil.
func parsePlan(cache *pageCache, st *store, name, rel string, data []byte) (*plan.Plan, diag.List) {
	if cache.holds(rel, data) {
		return cache.parse(name, rel, data)
	}
	p, ds, ok := st.parsed(name, rel, data)
	if !ok {
		p, ds = parseFile(name, rel, data)
		st.storeParsed(name, rel, data, p, ds)
	}
	cache.keep(rel, data, p, ds)
	return p, ds
}

// holds reports whether the last build parsed the file with these bytes.
func (c *pageCache) holds(rel string, data []byte) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	e, ok := c.parsed[rel]
	c.mu.Unlock()
	return ok && e.sum == xxhash.Sum64(data)
}

// keep records a plan parsed or taken from the store for the next build,
// as parse does.
func (c *pageCache) keep(rel string, data []byte, p *plan.Plan, ds diag.List) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if c.nextParsed != nil {
		c.nextParsed[rel] = cachedParse{sum: xxhash.Sum64(data), plan: p, diags: ds}
	}
	c.mu.Unlock()
}
