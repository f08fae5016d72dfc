package site

import (
	"os"
	"path/filepath"
	"strings"
)

// Sources lists the folders and files a build reads: what a watcher of
// the site watches (the config and the alert rule files, which may live
// anywhere in the project).
func (b *Builder) Sources() (dirs, files []string) {
	cfg := b.cfg
	dirs = []string{cfg.Path(cfg.ContentDir), b.themeDir(), cfg.Path(cfg.DrillsDir)}
	return dirs, append([]string{cfg.Path("rollbook.yaml")}, b.RuleFiles()...)
}

// themeDir is the theme's folder on disk (it may not exist: the embedded
// default theme then serves alone).
func (b *Builder) themeDir() string { return b.cfg.Path(filepath.Join("themes", b.cfg.Theme)) }

// ChangeKind is what a set of changed files means for a served site.
type ChangeKind int

const (
	// ContentChange: plans, assets, migrations, drill reports or theme
	// static files; Update applies them.
	ContentChange ChangeKind = iota
	// ThemeChange: rollbook.yaml, a template, or a theme file that was
	// removed (its embedded default takes its place): the config and the
	// theme are read again, by a new Builder.
	ThemeChange
	// StylesheetChange: only stylesheets under a static folder; Update
	// applies them and open tabs swap the stylesheet without a reload.
	StylesheetChange
)

// ChangeKind says what the changed files mean for the server: whether the
// configuration and theme must be read again by a new Builder, or Update
// can apply them (which reads the files themselves: readEdits); for a
// StylesheetChange it also names the stylesheet open tabs swap.
func (b *Builder) ChangeKind(changed []string) (ChangeKind, string) {
	themeDir := b.themeDir()
	for _, f := range changed {
		if filepath.Base(f) == "rollbook.yaml" && filepath.Dir(f) == filepath.Clean(b.cfg.Root) {
			return ThemeChange, ""
		}
		if !under(f, themeDir) {
			continue
		}
		if !under(f, filepath.Join(themeDir, "static")) {
			return ThemeChange, ""
		}
		if st, err := os.Stat(f); err != nil || !st.Mode().IsRegular() {
			return ThemeChange, ""
		}
	}
	if len(changed) == 0 {
		return ContentChange, ""
	}
	for _, f := range changed {
		if !strings.HasSuffix(f, ".css") || !strings.Contains(filepath.ToSlash(f), "/static/") {
			return ContentChange, ""
		}
	}
	return StylesheetChange, filepath.Base(changed[0])
}

// under reports whether p is dir or inside it.
func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+string(filepath.Separator))
}
