package site

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/gitlog"
)

// checkSince reports each URL the site had at git ref (a page's or an
// alias) that reaches nothing now: a runbook URL printed in a pager
// message, a PDF or a ticket lives for years. The finding is at the page
// that took the old one's place (the same file, or the file git saw it
// moved to), with the alias to add.
func (b *Builder) checkSince(ctx context.Context, s *loaded, ref string) (diag.List, error) {
	old, err := b.sitePaths(ctx, ref)
	if err != nil {
		return nil, err
	}
	renames, err := gitlog.Renames(ctx, b.cfg.Root, ref)
	if err != nil {
		return nil, err
	}
	display := b.displayDir()
	contentRel := filepath.ToSlash(filepath.Clean(b.cfg.ContentDir))
	var ds diag.List
	for _, u := range slices.Sorted(maps.Keys(old)) {
		if s.byURL[u] != nil || s.aliases[u] != "" || reservedURL(u) || s.alertPage(u) {
			continue
		}
		src := old[u]
		var now *Page
		if to, ok := renames[path.Join(contentRel, src)]; ok {
			now = s.byPath[strings.TrimPrefix(to, contentRel+"/")]
		}
		if now == nil {
			now = s.byPath[src]
		}
		was := path.Join(display, src)
		if now == nil {
			ds = append(ds, diag.At(was, 1, 1).Error("lost-url",
				fmt.Sprintf("URL %s (%s at %s) reaches no page now: the page was deleted", u, was, ref),
				fmt.Sprintf("add aliases: [%s] to the front matter of the page that replaces it", u)))
			continue
		}
		file := path.Join(display, now.Plan.Path)
		// At the aliases to extend, else at what moved the URL.
		pos := now.Plan.Pos("")
		for _, key := range []string{"aliases", "url", "slug"} {
			if now.Plan.Has(key) {
				pos = now.Plan.Pos(key)
				break
			}
		}
		moved := fmt.Sprintf("%s is at %s now", file, now.URL)
		if file != was {
			moved = fmt.Sprintf("%s moved to %s, at %s", was, file, now.URL)
		}
		fix := fmt.Sprintf("add aliases: [%s] to the front matter of %s", u, file)
		if len(now.Plan.Aliases) > 0 {
			fix = fmt.Sprintf("add %s to the aliases of %s", u, file)
		}
		ds = append(ds, diag.At(file, pos.Line, pos.Col).Error("lost-url",
			fmt.Sprintf("URL %s, which the site had at %s, reaches no page now: %s", u, ref, moved), fix))
	}
	return b.cfg.Severities().Apply(ds), nil
}

// sitePaths reads the project as it was at git ref: each page URL and
// alias it had, with the source path (in its content folder) of the page
// it reached. The pages are laid out by the same load as a build's,
// without its checks.
func (b *Builder) sitePaths(ctx context.Context, ref string) (map[string]string, error) {
	dir, err := os.MkdirTemp("", "rollbook-since-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := gitlog.Export(ctx, b.cfg.Root, ref, dir); err != nil {
		return nil, fmt.Errorf("--since %s: %w", ref, err)
	}
	then, err := New(Options{Root: dir, Drafts: b.opts.Drafts, Now: b.opts.Now, Logger: b.log, layoutOnly: true})
	if err != nil {
		return nil, fmt.Errorf("--since %s: the project at %s: %w", ref, ref, err)
	}
	s, err := then.load(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("--since %s: reading the pages at %s: %w", ref, ref, err)
	}
	out := make(map[string]string, len(s.byURL)+len(s.aliases))
	for u, pg := range s.byURL {
		out[u] = pg.Plan.Path
	}
	for a, to := range s.aliases {
		if pg := s.byURL[to]; pg != nil {
			out[a] = pg.Plan.Path
		}
	}
	return out, nil
}
