package site

import (
	"context"
	"path"
	"path/filepath"

	"github.com/rollbook/rollbook/internal/config"
	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/plan"
)

// SourcePlan is one page of the content folder that the site shows.
type SourcePlan struct {
	// File is the page's path from the project root, with slashes
	// (content/payments/api.md): what drill reports record.
	File string
	Plan *plan.Plan
}

// Plans lists the pages the site would show, by the site's own rules: the
// same content scan (dot folders, editor files and symlinks left out,
// .md in any case) and drafts only when drafts is set. Pages that do not
// parse are left out and their findings returned.
func Plans(ctx context.Context, cfg *config.Config, drafts bool) ([]SourcePlan, diag.List, error) {
	srcs, _, err := scan(ctx, cfg.Path(cfg.ContentDir))
	if err != nil {
		return nil, nil, err
	}
	display := filepath.ToSlash(cfg.ContentDir)
	for i := range srcs {
		// Parsed under its path from the root, as `rollbook gameday run
		// content/…` reads it, so reports name the plan the same way.
		srcs[i].rel = path.Join(display, srcs[i].rel)
	}
	ps, err := parseAll(ctx, srcs, "", nil, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	var out []SourcePlan
	var ds diag.List
	for _, p := range ps {
		if len(p.diags.Errors()) > 0 {
			ds = append(ds, p.diags.Errors()...)
			continue
		}
		if shown(p.plan, drafts) {
			out = append(out, SourcePlan{File: p.src.rel, Plan: p.plan})
		}
	}
	return out, ds, nil
}

// shown is the site's draft rule: a draft is built only with drafts on.
func shown(p *plan.Plan, drafts bool) bool {
	return p != nil && (!p.Draft || drafts)
}
