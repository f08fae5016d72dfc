package site

import (
	"context"
	"path"
	"path/filepath"
	"strings"

	"github.com/rollbook/rollbook/internal/export"
	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/sitewrite"
)

// exportable reports whether a plan has a drilled policy (a gameday
// block) that a Kubernetes controller can run: a service, canary steps
// and triggers, and no other platform.
func exportable(pg *Page) bool {
	p := pg.Plan
	k8s := p.Infrastructure == "" || p.Infrastructure == "kubernetes" || p.Infrastructure == "containers"
	return k8s && len(p.Gameday.Scenarios) > 0 && p.Service != "" && len(p.Strategy.Steps) > 0 && len(p.Triggers) > 0
}

// writeExports writes each plan's policy as manifests for every export
// target under _export/, for the plan page to link.
func (b *Builder) writeExports(ctx context.Context, s *loaded, w *sitewrite.Writer) error {
	return parallel(ctx, len(s.plans), func(i int) error { return b.exportPage(s.plans[i], w) })
}

// exportPage writes one plan's manifests and records them on the page.
func (b *Builder) exportPage(pg *Page, w *sitewrite.Writer) error {
	if !exportable(pg) {
		return nil
	}
	contentDir := b.cfg.Path(b.cfg.ContentDir)
	in := export.Input{Plan: pg.Plan, Dir: filepath.Join(contentDir, filepath.FromSlash(path.Dir(pg.Plan.Path))), PromQL: b.cfg.PromQL}
	base := "/_export/" + plan.Slug(pg.Plan.Path)
	for _, t := range export.Targets {
		res, err := t.Export(in)
		if err != nil {
			pg.Exports = append(pg.Exports, ExportLink{Controller: t.Controller, Refused: err.Error()})
			continue
		}
		url := base + t.Suffix()
		if err := w.Write(strings.TrimPrefix(url, "/"), res.YAML); err != nil {
			return err
		}
		pg.Exports = append(pg.Exports, ExportLink{Controller: t.Controller, URL: url})
	}
	return nil
}
