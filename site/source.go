package site

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/rollbook/rollbook/internal/gitlog"
)

// Pages link back to their source (SPEC 1.4): "Edit this page" with
// repo_url, and "Last changed" from git when content/ is a checkout.

// readLastChanged starts the one git log of a build; wait returns when
// each content file last changed (empty without git or a checkout).
func (b *Builder) readLastChanged(ctx context.Context) (wait func() map[string]time.Time) {
	done := make(chan map[string]time.Time, 1)
	go func() {
		m, err := gitlog.LastChanged(ctx, b.cfg.Path(b.cfg.ContentDir))
		if err != nil {
			b.log.Debug("no last-changed dates", "err", err)
		}
		done <- m
	}()
	return func() map[string]time.Time { return <-done }
}

// projectPath is a content file's slash path inside the project folder,
// as the repository knows it.
func (b *Builder) projectPath(rel string) string {
	dir := b.cfg.ContentDir
	if filepath.IsAbs(dir) {
		if r, err := filepath.Rel(b.cfg.Path("."), dir); err == nil {
			dir = r
		}
	}
	return path.Join(filepath.ToSlash(dir), rel)
}

// repoFile is the project path a relative link reaches when it reaches
// no page or asset but a file or folder of the project that is not
// content (a script, a dashboard); ok is false when nothing is there, the
// link leaves the project, or it names a page not written yet.
func (b *Builder) repoFile(pg *Page, dest string) (rel, frag string, ok bool) {
	p := dest
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p, frag = p[:i], p[i:]
	}
	if p == "" || strings.HasPrefix(p, "/") {
		return "", "", false
	}
	rel = b.projectPath(path.Join(path.Dir(pg.Plan.Path), p))
	content := b.projectPath("")
	inContent := content == "." || strings.HasPrefix(rel+"/", content+"/")
	if rel == ".." || strings.HasPrefix(rel, "../") || inContent && strings.EqualFold(path.Ext(rel), ".md") {
		return "", "", false
	}
	// Lstat: the link is to the repository's file, nothing is read.
	if _, err := os.Lstat(filepath.Join(b.cfg.Path("."), filepath.FromSlash(rel))); err != nil {
		return "", "", false
	}
	return rel, frag, true
}

// sourced reports whether a page was made from a content file (the
// generated home page has no file to edit).
func sourced(pg *Page) bool {
	switch pg.Type {
	case "plan", "page", "section":
		return true
	case "home":
		return pg.Plan != nil && (pg.Plan.HasFrontMatter || len(pg.Plan.Body) > 0)
	}
	return false
}

// EditURL links the page to editing its source in the repository, or "".
func (v view) EditURL() string {
	if !sourced(v.Page) || v.Site.editURL == nil {
		return ""
	}
	return v.Site.editURL(v.Page.Plan.Path)
}

// LastChanged is when git last changed the page's source; zero when the
// content is not in a checkout.
func (v view) LastChanged() time.Time {
	if !sourced(v.Page) {
		return time.Time{}
	}
	return v.Site.lastChanged[v.Page.Plan.Path]
}
