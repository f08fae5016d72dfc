package content

import (
	"context"
	"path"

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

// Plans lists the pages the site would show, by the site's own rules:
// the same scan (dot folders, editor files and symlinks left out, .md in
// any case) and drafts only when drafts is set. dir is the content
// folder on disk and name how the project names it (rollbook.yaml's
// content_dir, "content"), which each File starts with. Pages that do
// not parse are left out and their errors returned.
func Plans(ctx context.Context, dir, name string, drafts bool) ([]SourcePlan, diag.List, error) {
	l, err := Scan(ctx, dir)
	if err != nil {
		return nil, nil, err
	}
	srcs := l.Pages
	for i := range srcs {
		// Parsed under its path from the root, as `rollbook gameday run
		// content/…` reads it, so reports name the plan the same way.
		srcs[i].Rel = path.Join(name, srcs[i].Rel)
	}
	files, err := (&Reader{}).ReadAll(ctx, srcs)
	if err != nil {
		return nil, nil, err
	}
	var out []SourcePlan
	var ds diag.List
	for _, f := range files {
		if errs := f.Findings.Errors(); len(errs) > 0 {
			ds = append(ds, errs...)
			continue
		}
		if Shown(f.Plan, drafts) {
			out = append(out, SourcePlan{File: f.Rel, Plan: f.Plan})
		}
	}
	return out, ds, nil
}
