package site

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/rollbook/rollbook/internal/contentpath"
	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/plan"
)

// source is one file found under the content folder.
type source struct {
	rel  string // slash path inside content/
	abs  string
	size int64
}

// skipped reports a file or folder name the content scan leaves out:
// dot files, editor backups and autosaves.
func skipped(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") || strings.HasPrefix(name, "#")
}

// scan lists the content folder: Markdown sources and other files (copied
// as they are, so plans can link to their SQL and diagrams).
func scan(ctx context.Context, dir string) (md, assets []source, err error) {
	md, assets, _, err = scanRefusing(ctx, dir)
	return md, assets, err
}

// scanRefusing is scan, also naming the symlinks it refused because they
// lead outside the content folder (symlinks are never followed; those
// that stay inside are left out quietly, as before).
func scanRefusing(ctx context.Context, dir string) (md, assets []source, refused []*contentpath.OutsideError, err error) {
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		name := d.Name()
		if p != dir && skipped(name) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			// Symlinks could point outside the site; they are not followed.
			if d.Type()&fs.ModeSymlink != 0 {
				var oe *contentpath.OutsideError
				if errors.As(contentpath.Check(dir, filepath.ToSlash(rel)), &oe) {
					refused = append(refused, oe)
				}
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		s := source{rel: filepath.ToSlash(rel), abs: p, size: info.Size()}
		if strings.EqualFold(path.Ext(name), ".md") {
			md = append(md, s)
		} else {
			assets = append(assets, s)
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	sort.Slice(md, func(i, j int) bool { return md[i].rel < md[j].rel })
	sort.Slice(assets, func(i, j int) bool { return assets[i].rel < assets[j].rel })
	return md, assets, refused, nil
}

// parsed is one source after reading and parsing.
type parsed struct {
	src   source
	data  []byte
	plan  *plan.Plan
	diags diag.List
}

// parseAll reads and parses sources on every core, taking what an earlier
// build parsed from the in-memory cache (serve) or the persistent store
// (either may be nil), and a source's bytes from read when it was read
// already (nil for none). displayDir prefixes file names in findings
// ("content").
func parseAll(ctx context.Context, srcs []source, displayDir string, cache *pageCache, st *store, read map[string][]byte) ([]parsed, error) {
	out := make([]parsed, len(srcs))
	err := parallel(ctx, len(srcs), func(i int) error {
		s := srcs[i]
		name := path.Join(displayDir, s.rel)
		if s.size > plan.MaxFileSize {
			out[i] = parsed{src: s, diags: diag.List{plan.TooLarge(name, s.size)}}
			return nil
		}
		data, ok := read[s.abs]
		if !ok {
			var err error
			if data, err = readFile(s.abs); err != nil {
				return err
			}
		}
		p, ds := parsePlan(cache, st, name, s.rel, data)
		out[i] = parsed{src: s, data: data, plan: p, diags: ds}
		return nil
	})
	return out, err
}

// parallel runs fn(0..n-1) on GOMAXPROCS goroutines, stopping at the
// first error or when ctx is done.
func parallel(ctx context.Context, n int, fn func(i int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range n {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			return fn(i)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}
