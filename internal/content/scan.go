// Package content owns a project's content folder as every reader of it
// sees it: the one scan (what is skipped, what is a page and what an
// asset), the draft rule, reading the sources on every core with the few
// system calls the work needs, and the parse store that keeps parsed
// plans between builds (in memory for rollbook serve, in the persistent
// build cache for the next run). The site builds from it and `gameday
// due` lists the plans to drill with it, so both see the same plans, and
// listing them needs neither Markdown nor highlighting.
package content

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rollbook/rollbook/internal/contentpath"
	"github.com/rollbook/rollbook/internal/plan"
)

// Source is one file found under the content folder.
type Source struct {
	Rel  string // slash path inside the content folder
	Abs  string // path on disk
	Size int64
}

// Listing is what Scan finds, each list sorted by Rel.
type Listing struct {
	// Pages are the Markdown sources (.md in any case).
	Pages []Source
	// Assets are every other file, which the site copies as it is so
	// plans can link to their SQL and diagrams.
	Assets []Source
	// Refused are the symlinks that lead outside the content folder.
	// No symlink is followed; those that stay inside are left out
	// quietly, the others are named so the site can say why.
	Refused []*contentpath.OutsideError
}

// Skipped reports a file or folder name the scan leaves out: dot files,
// editor backups and autosaves.
func Skipped(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") || strings.HasPrefix(name, "#")
}

// Shown is the draft rule: a page with draft: true is built, listed and
// drilled only when drafts are asked for. A page that does not parse is
// never shown.
func Shown(p *plan.Plan, drafts bool) bool {
	return p != nil && (!p.Draft || drafts)
}

// Scan lists the content folder dir.
func Scan(ctx context.Context, dir string) (*Listing, error) {
	l := &Listing{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		name := d.Name()
		if p != dir && Skipped(name) {
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
			if d.Type()&fs.ModeSymlink != 0 {
				var oe *contentpath.OutsideError
				if errors.As(contentpath.Check(dir, filepath.ToSlash(rel)), &oe) {
					l.Refused = append(l.Refused, oe)
				}
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		s := Source{Rel: filepath.ToSlash(rel), Abs: p, Size: info.Size()}
		if strings.EqualFold(path.Ext(name), ".md") {
			l.Pages = append(l.Pages, s)
		} else {
			l.Assets = append(l.Assets, s)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	// WalkDir visits in lexical order of each folder's names, which is
	// not the order of the slash paths ("a-b/x" < "a/x" as paths, not as
	// folders); lookups by path search these lists.
	sort.Slice(l.Pages, func(i, j int) bool { return l.Pages[i].Rel < l.Pages[j].Rel })
	sort.Slice(l.Assets, func(i, j int) bool { return l.Assets[i].Rel < l.Assets[j].Rel })
	return l, nil
}
