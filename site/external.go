package site

import (
	"context"
	"fmt"
	"time"

	"github.com/rollbook/rollbook/internal/alertrule"
	"github.com/rollbook/rollbook/internal/buildcache"
	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/linkcheck"
)

// External asks check (or build) to check http(s) links too; without it
// no external link is requested.
type External struct {
	// MaxAge replaces external_links.max_age when MaxAgeSet: results
	// checked within it come from the cache.
	MaxAge    time.Duration
	MaxAgeSet bool
}

// checkExternal checks the http(s) links of every page's Markdown and
// front matter and the alerts' runbook_urls hosted elsewhere (through the
// build cache folder, under linkcheck's own version so results outlive
// a rollbook upgrade).
func (b *Builder) checkExternal(ctx context.Context, s *loaded) diag.List {
	var refs []linkRef
	for _, pg := range s.pages {
		refs = append(refs, pg.external...)
	}
	if s.alerts != nil {
		for _, j := range s.alerts.Alerts {
			if j.State == alertrule.External && isHTTP(j.URL.Value) {
				refs = append(refs, linkRef{file: j.File, line: j.URL.Pos.Line, col: j.URL.Pos.Col, dest: j.URL.Value})
			}
		}
	}
	urls := make([]string, len(refs))
	for i, r := range refs {
		urls[i] = r.dest
	}
	cfg := b.cfg.ExternalLinks
	opts := linkcheck.Options{Timeout: cfg.TimeoutDuration(), PerHost: cfg.PerHost, MaxAge: cfg.MaxAgeDuration(), Skip: linkcheck.Skip(cfg.Skip), Logger: b.log}
	if b.opts.External.MaxAgeSet {
		opts.MaxAge = b.opts.External.MaxAge
	}
	c := buildcache.Open(buildcache.Options{Dir: b.opts.CacheDir, Version: linkcheck.CacheVersion, Logger: b.log})
	if c != nil {
		opts.Cache = linkcheck.BuildCache{C: c}
	}
	start := time.Now()
	res := linkcheck.Check(ctx, urls, opts)
	if err := c.Close(); err != nil {
		b.log.Warn("link results not cached; the next check asks every host again", "err", err)
	}
	cached := 0
	for _, r := range res {
		if r.Cached {
			cached++
		}
	}
	b.log.Info("checked external links", "links", len(refs), "urls", len(res), "from cache", cached, "took", time.Since(start).Round(time.Millisecond))
	now := b.now()
	var ds diag.List
	for _, l := range refs {
		r := res[linkcheck.Strip(l.dest)]
		at := diag.At(l.file, l.line, l.col)
		when := "checked now"
		if r.Cached {
			when = "checked " + ago(now.Sub(r.Checked)) + ", cached"
		}
		switch r.State {
		case linkcheck.Dead:
			ds = append(ds, at.Error("external-link", fmt.Sprintf("link %q %s (%s)", l.dest, r.Problem, when),
				"link to where the page moved, or remove the link; a page behind a login or VPN: add its host to external_links.skip in rollbook.yaml"))
		case linkcheck.Unreachable:
			ds = append(ds, at.As(diag.Warning, "external-link-unreachable", fmt.Sprintf("link %q: %s", l.dest, r.Problem),
				"open it by hand; if rollbook cannot reach the host (a VPN-only dashboard), add it to external_links.skip in rollbook.yaml"))
		}
	}
	return b.cfg.Severities().Apply(ds)
}

// ago is a short age: "3h ago", "2d ago".
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}
