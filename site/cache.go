package site

import (
	"sync"

	"github.com/cespare/xxhash/v2"

	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/markdown"
	"github.com/rollbook/rollbook/internal/plan"
)

// pageCache keeps, between the builds of one Builder (rollbook serve),
// what depends only on a file's bytes: its parsed front matter and its
// rendered Markdown. A build that must start over (a new or deleted
// plan) then parses and renders only what changed. Entries a build did
// not use are dropped when it finishes.
type pageCache struct {
	mu         sync.Mutex
	parsed     map[string]cachedParse // by source path
	rendered   map[mdKey]markdown.Result
	nextParsed map[string]cachedParse
	nextMD     map[mdKey]markdown.Result
}

type cachedParse struct {
	sum   uint64
	plan  *plan.Plan
	diags diag.List
}

type mdKey struct {
	sum  uint64
	line int
}

func newPageCache() *pageCache {
	return &pageCache{parsed: map[string]cachedParse{}, rendered: map[mdKey]markdown.Result{}}
}

// begin starts a build: what it uses is kept for the next one.
func (c *pageCache) begin() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.nextParsed, c.nextMD = map[string]cachedParse{}, map[mdKey]markdown.Result{}
	c.mu.Unlock()
}

// finish keeps what the build used; a failed build keeps everything.
func (c *pageCache) finish(ok bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if ok {
		c.parsed, c.rendered = c.nextParsed, c.nextMD
	}
	c.nextParsed, c.nextMD = nil, nil
	c.mu.Unlock()
}

// parse returns the plan parsed from data, from the cache when the same
// file had the same bytes.
func (c *pageCache) parse(name, rel string, data []byte) (*plan.Plan, diag.List) {
	if c == nil {
		return plan.Parse(name, rel, data)
	}
	sum := xxhash.Sum64(data)
	c.mu.Lock()
	e, ok := c.parsed[rel]
	c.mu.Unlock()
	if !ok || e.sum != sum {
		e.sum = sum
		e.plan, e.diags = plan.Parse(name, rel, data)
	}
	c.mu.Lock()
	if c.nextParsed != nil {
		c.nextParsed[rel] = e
	}
	c.mu.Unlock()
	return e.plan, e.diags
}

// render returns the rendered body, from the cache when the same body
// starting on the same line was rendered before.
func (c *pageCache) render(md *markdown.Renderer, body []byte, line int) (markdown.Result, error) {
	if c == nil {
		return md.Render(body, line)
	}
	k := mdKey{xxhash.Sum64(body), line}
	c.mu.Lock()
	res, ok := c.rendered[k]
	c.mu.Unlock()
	if !ok {
		var err error
		if res, err = md.Render(body, line); err != nil {
			return res, err
		}
	}
	c.mu.Lock()
	if c.nextMD != nil {
		c.nextMD[k] = res
	}
	c.mu.Unlock()
	return res, nil
}
