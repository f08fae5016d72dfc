package content

import (
	"sync"

	"github.com/cespare/xxhash/v2"

	"github.com/rollbook/rollbook/internal/buildcache"
	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/plan"
)

// Memo keeps parsed plans between the builds of one process (rollbook
// serve), by path and the hash of the bytes: a build that starts over
// (a new or deleted plan) parses only what changed. A build keeps what
// it used for the next one, and what it did not use is dropped when it
// finishes. A nil Memo keeps nothing.
type Memo struct {
	mu         sync.Mutex
	last, next map[string]memoEntry
}

type memoEntry struct {
	sum   uint64
	plan  *plan.Plan
	diags diag.List
}

// NewMemo returns an empty memo.
func NewMemo() *Memo { return &Memo{last: map[string]memoEntry{}} }

// Begin starts a build: what it parses is kept for the next one.
func (m *Memo) Begin() {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.next = map[string]memoEntry{}
	m.mu.Unlock()
}

// Finish ends a build: a good build's parses replace the last ones, a
// failed build keeps them all, so the next build finds the files it did
// not reach.
func (m *Memo) Finish(ok bool) {
	if m == nil {
		return
	}
	m.mu.Lock()
	if ok {
		m.last = m.next
	}
	m.next = nil
	m.mu.Unlock()
}

func (m *Memo) get(rel string, sum uint64) (*plan.Plan, diag.List, bool) {
	if m == nil {
		return nil, nil, false
	}
	m.mu.Lock()
	e, ok := m.last[rel]
	m.mu.Unlock()
	if !ok || e.sum != sum {
		return nil, nil, false
	}
	return e.plan, e.diags, true
}

func (m *Memo) keep(rel string, sum uint64, p *plan.Plan, ds diag.List) {
	if m == nil {
		return
	}
	m.mu.Lock()
	if m.next != nil {
		m.next[rel] = memoEntry{sum: sum, plan: p, diags: ds}
	}
	m.mu.Unlock()
}

func sumOf(data []byte) uint64 { return xxhash.Sum64(data) }

// parsedKey names a file's parsed plan and findings in the build cache:
// the display name and the path are inputs with the bytes, as findings
// name the file and the plan keeps its path.
func parsedKey(c *buildcache.Cache, name, rel string, data []byte) buildcache.Key {
	return c.Key("plan", []byte(name), []byte(rel), data)
}

// stored is a file's plan and findings from an earlier build; an entry
// that does not decode is a miss, so the file is parsed (and stored)
// again.
func stored(c *buildcache.Cache, name, rel string, data []byte) (*plan.Plan, diag.List, bool) {
	if c == nil {
		return nil, nil, false
	}
	raw, ok := c.Get(parsedKey(c, name, rel, data))
	if !ok {
		return nil, nil, false
	}
	p, ds, err := plan.UnmarshalCache(raw)
	if err != nil {
		return nil, nil, false
	}
	return p, ds, true
}

// store keeps a file's plan and findings for the next builds, unless the
// plan holds a value the encoding cannot give back equal.
func store(c *buildcache.Cache, name, rel string, data []byte, p *plan.Plan, ds diag.List) {
	if c == nil {
		return
	}
	raw, err := plan.MarshalCache(p, ds)
	if err != nil {
		return
	}
	c.Put(parsedKey(c, name, rel, data), raw)
}
