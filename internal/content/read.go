package content

import (
	"context"
	"path"
	"runtime"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/rollbook/rollbook/internal/buildcache"
	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/plan"
)

// File is a source read and parsed.
type File struct {
	Source
	Data []byte
	// Plan is nil when the file is too large or its front matter does
	// not parse; Findings then say why.
	Plan     *plan.Plan
	Findings diag.List
}

// Reader reads and parses sources, taking a plan parsed by an earlier
// build from Memo or Cache when the file's bytes are the same. Its
// fields are set before the first read; it is safe for concurrent use.
type Reader struct {
	// Display prefixes file names in findings ("content").
	Display string
	// Memo holds the last build's parses (rollbook serve); nil for none.
	Memo *Memo
	// Cache is the persistent build cache; nil for none.
	Cache *buildcache.Cache
	// Read holds sources already read, by Source.Abs: a build that
	// hashed its inputs read them then, and they are not read again.
	Read map[string][]byte

	parsed atomic.Int64
}

// ReadAll reads and parses srcs on every core, in their order. A file
// larger than plan.MaxFileSize is not read: its finding says so.
func (r *Reader) ReadAll(ctx context.Context, srcs []Source) ([]File, error) {
	out := make([]File, len(srcs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, s := range srcs {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			name := path.Join(r.Display, s.Rel)
			if s.Size > plan.MaxFileSize {
				out[i] = File{Source: s, Findings: diag.List{plan.TooLarge(name, s.Size)}}
				return nil
			}
			data, ok := r.Read[s.Abs]
			if !ok {
				var err error
				if data, err = ReadFile(s.Abs); err != nil {
					return err
				}
			}
			p, ds := r.Parse(name, s.Rel, data)
			out[i] = File{Source: s, Data: data, Plan: p, Findings: ds}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, ctx.Err()
}

// Parse returns the plan in data, the file named name in findings and
// rel inside the content folder: from the memo, else from the cache,
// else parsed and kept in both.
func (r *Reader) Parse(name, rel string, data []byte) (*plan.Plan, diag.List) {
	sum := sumOf(data)
	if p, ds, ok := r.Memo.get(rel, sum); ok {
		r.Memo.keep(rel, sum, p, ds)
		return p, ds
	}
	p, ds, ok := stored(r.Cache, name, rel, data)
	if !ok {
		r.parsed.Add(1)
		p, ds = plan.Parse(name, rel, data)
		store(r.Cache, name, rel, data, p, ds)
	}
	r.Memo.keep(rel, sum, p, ds)
	return p, ds
}

// Parsed is how many front matters the reader decoded, rather than took
// from the memo or the cache: a build with both warm parses only the
// files that changed.
func (r *Reader) Parsed() int64 { return r.parsed.Load() }
