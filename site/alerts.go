package site

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"html/template"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/alecthomas/chroma/v2"
	chtml "github.com/alecthomas/chroma/v2/formatters/html"
	"github.com/alecthomas/chroma/v2/lexers"
	"github.com/alecthomas/chroma/v2/styles"

	"github.com/rollbook/rollbook/internal/alertrule"
	"github.com/rollbook/rollbook/internal/check"
	"github.com/rollbook/rollbook/internal/config"
	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/sitewrite"
)

// AlertView is one alerting rule as the Alert panel and the Alerts list
// show it.
type AlertView struct {
	*alertrule.Joined
	// ExprHTML is the expression highlighted as PromQL.
	ExprHTML template.HTML
	// Runbook is the runbook's site path or external URL, "" if none.
	Runbook string
	// Source links to the rule: at its line in the repository with
	// repo_url, else to the published copy of a rule file under the
	// content folder; "" otherwise.
	Source string
}

// AlertList is what the Alerts page shows: alerts by severity, then group.
type AlertList struct {
	Severities []*SeverityAlerts
	Covered    int
	Total      int
	// Files are the rule files read, for the page's note.
	Files []string
	// Orphans are alert runbooks whose alert is in no rule file.
	Orphans []Orphan
}

// Orphan is an alert runbook naming an alert no rule file has.
type Orphan struct {
	Page    *Page
	Alert   string
	Closest string // the nearest alert name, a rename, or ""
}

// SeverityAlerts is the alerts of one severity and their coverage.
type SeverityAlerts struct {
	Name     string // "critical", or "none"
	Required bool   // in alerts.require_runbook
	Covered  int    // alerts with a runbook
	Total    int
	Groups   []*GroupAlerts
}

// Percent is the share of the severity's alerts with a runbook.
func (s *SeverityAlerts) Percent() int { return percent(s.Covered, s.Total) }

// Percent is the share of all alerts with a runbook.
func (l *AlertList) Percent() int { return percent(l.Covered, l.Total) }

func percent(a, b int) int {
	if b == 0 {
		return 100
	}
	return a * 100 / b
}

// GroupAlerts is one rule group's alerts of a severity.
type GroupAlerts struct {
	File, Name string
	Alerts     []*AlertView
}

// alertsListURL is the Alerts page, unless a content page has that URL.
const alertsListURL = "/alerts/"

// loadAlerts reads the rule files of alert_rules, joins their alerts to
// the pages, checks them and gives each alert runbook its alerts. A site
// without alert_rules has no alerts and no alert findings.
func (b *Builder) loadAlerts(s *loaded) {
	if len(b.cfg.AlertRules) == 0 {
		return
	}
	globs := b.cfg.AlertGlobs()
	matched, err := alertrule.Expand(b.cfg.Root, b.cfg.AlertRules)
	if err != nil {
		s.findings = append(s.findings, diag.At(config.FileName, globs[0].Line, globs[0].Col).Error("alert-rule-file", err.Error(), "fix alert_rules"))
		return
	}
	var files []*alertrule.File
	seen := map[string]bool{}
	for i, list := range matched {
		globs[i].Files = len(list)
		for _, rel := range list {
			if seen[rel] {
				continue
			}
			seen[rel] = true
			files = append(files, readRuleFile(b.cfg.Root, rel))
		}
	}
	var pages []*alertrule.Page
	plans := map[string]*plan.Plan{}
	for _, pg := range s.pages {
		pages = append(pages, &alertrule.Page{Path: pg.Plan.Path, URL: pg.URL, Names: pg.Plan.AlertNames()})
		if pg.Type == "plan" && pg.Plan.Kind == plan.KindAlert {
			plans[pg.Plan.Path] = pg.Plan
		}
	}
	ix := alertrule.Join(files, pages, b.cfg.BaseURL)
	s.alerts = ix
	ds := check.Alerts(ix, plans, check.AlertOptions{
		RequireRunbook: b.cfg.RequiredSeverities(), Globs: globs, Config: config.FileName,
		ContentDir: filepath.ToSlash(b.cfg.ContentDir), BaseURL: b.cfg.BaseURL,
	})
	ds = b.cfg.Severities().Apply(ds)
	s.findings = append(s.findings, ds...)
	b.alerts = alertState{ix: ix, findings: ds}
	for _, f := range files {
		b.alerts.ruleFiles = append(b.alerts.ruleFiles, filepath.Join(b.cfg.Root, filepath.FromSlash(f.Path)))
	}
	display := filepath.ToSlash(b.cfg.ContentDir)
	for _, pg := range s.pages {
		switch pg.Type {
		case "plan":
			// checkPage attached the last build's alerts; these replace them.
			pg.Warnings = slices.DeleteFunc(pg.Warnings, func(f diag.Finding) bool { return strings.HasPrefix(f.Rule, "alert-") })
			b.attachAlerts(pg, path.Join(display, pg.Plan.Path))
		case "page":
			// A plain Markdown runbook (no front matter) a runbook_url reaches.
			b.attachAlerts(pg, path.Join(display, pg.Plan.Path))
		}
	}
}

// alertState is what the last build found in the rule files, for the
// pages rollbook serve updates in place.
type alertState struct {
	ix        *alertrule.Index
	findings  diag.List // after rollbook.yaml's rules:
	ruleFiles []string  // absolute paths of the rule files read
}

// RuleFiles are the alert_rules files the last build read, which rollbook
// serve watches beside the content.
func (b *Builder) RuleFiles() []string { return slices.Clone(b.alerts.ruleFiles) }

// attachAlerts gives a page its alerts (the Alert panel) and the warnings
// the alert checks found in it (the page's banner).
func (b *Builder) attachAlerts(pg *Page, name string) {
	pg.Alerts = nil
	if b.alerts.ix == nil {
		return
	}
	contentRel := filepath.ToSlash(filepath.Clean(b.cfg.ContentDir)) + "/"
	for _, j := range b.alerts.ix.ForPage(pg.Plan.Path) {
		pg.Alerts = append(pg.Alerts, b.alertView(j, contentRel))
	}
	for _, f := range b.alerts.findings {
		if f.File == name && f.Severity == diag.Warning {
			pg.Warnings = append(pg.Warnings, f)
		}
	}
}

// alertsTouched reports whether changed files move the join of alerts to
// pages: a rule file, or an alert runbook added, deleted or given other
// alert names or severity. rollbook serve then builds the whole site; an
// alert runbook's text edited is updated in place.
func (b *Builder) alertsTouched(s *loaded, files []string) bool {
	if s.alerts == nil {
		return false
	}
	contentDir := b.cfg.Path(b.cfg.ContentDir)
	for _, f := range files {
		f = filepath.Clean(f)
		if slices.Contains(b.alerts.ruleFiles, f) {
			return true
		}
		if rel, err := filepath.Rel(b.cfg.Root, f); err == nil && slices.ContainsFunc(b.cfg.AlertRules, func(g string) bool { return alertrule.Match(g, filepath.ToSlash(rel)) }) {
			return true // a new rule file
		}
		rel, err := filepath.Rel(contentDir, f)
		if err != nil || strings.HasPrefix(rel, "..") || !strings.EqualFold(filepath.Ext(rel), ".md") {
			continue
		}
		rel = filepath.ToSlash(rel)
		old := s.byPath[rel]
		if old != nil && old.Type != "plan" && len(old.Alerts) > 0 {
			return true // only a plan's check attaches its alerts again
		}
		var cur *plan.Plan
		if data, err := os.ReadFile(f); err == nil {
			cur, _ = plan.Parse(rel, rel, data)
		}
		wasAlert := old != nil && old.Plan.Kind == plan.KindAlert
		isAlert := cur != nil && cur.Kind == plan.KindAlert
		switch {
		case !wasAlert && !isAlert:
		case wasAlert != isAlert || cur == nil:
			return true
		case !slices.Equal(old.Plan.AlertNames(), cur.AlertNames()) || old.Plan.Severity != cur.Severity:
			return true
		}
	}
	return false
}

// readRuleFile reads and parses one rule file; one that cannot be read is
// a file with one problem.
func readRuleFile(root, rel string) *alertrule.File {
	abs := filepath.Join(root, filepath.FromSlash(rel))
	st, err := os.Lstat(abs)
	if err == nil && st.Size() > alertrule.MaxFileSize {
		err = fmt.Errorf("rule file is %d bytes, over the %d MiB limit", st.Size(), alertrule.MaxFileSize>>20)
	}
	var src []byte
	if err == nil {
		src, err = os.ReadFile(abs)
	}
	if err != nil {
		return &alertrule.File{Path: rel, Problems: []alertrule.Problem{{Kind: alertrule.BadFile, Pos: alertrule.Pos{Line: 1, Col: 1}, Message: err.Error(), Fix: "make the file readable, or remove it from alert_rules"}}}
	}
	return alertrule.Parse(rel, src)
}

func (b *Builder) alertView(j *alertrule.Joined, contentRel string) *AlertView {
	v := &AlertView{Joined: j, ExprHTML: highlightPromQL(j.Expr)}
	switch {
	case j.Page != nil:
		v.Runbook = j.Page.URL
	case j.State == alertrule.External:
		v.Runbook = strings.TrimSpace(j.URL.Value)
	}
	switch {
	case b.cfg.RepoURL != "":
		// The rule at its line in the repository (GitHub's and GitLab's #L).
		v.Source = b.cfg.RepoFileURL(j.File) + fmt.Sprintf("#L%d", j.Pos.Line)
	case strings.HasPrefix(j.File, contentRel):
		// Rule files under the content folder are published as they are.
		v.Source = "/" + strings.TrimPrefix(j.File, contentRel)
	}
	return v
}

var promqlLexer = func() chroma.Lexer {
	if l := lexers.Get("promql"); l != nil {
		return chroma.Coalesce(l)
	}
	return nil
}()

var exprFormatter = chtml.New(chtml.WithClasses(true), chtml.PreventSurroundingPre(true))

// highlightPromQL marks up an expression with chroma's PromQL lexer, in
// the classes chroma.css styles.
func highlightPromQL(expr string) template.HTML {
	if promqlLexer != nil {
		if it, err := promqlLexer.Tokenise(nil, expr); err == nil {
			// The lexer does not know the colons of recording-rule names
			// (job:http_requests:rate5m) and marks them as errors.
			var toks []chroma.Token
			for _, t := range it.Tokens() {
				if t.Type == chroma.Error && t.Value == ":" {
					t.Type = chroma.NameVariable
				}
				toks = append(toks, t)
			}
			var buf bytes.Buffer
			if err := exprFormatter.Format(&buf, styles.Fallback, chroma.Literator(toks...)); err == nil {
				return template.HTML(buf.String()) //nolint:gosec // chroma escapes the expression's text
			}
		}
	}
	return template.HTML(html.EscapeString(expr)) //nolint:gosec // escaped
}

// severityOrder puts the usual severities first, then the rest by name.
var severityOrder = map[string]int{"critical": 0, "page": 1, "error": 2, "high": 3, "warning": 4, "medium": 5, "ticket": 6, "low": 7, "info": 8, "none": 100}

func severityLess(a, b string) bool {
	ra, oka := severityOrder[a]
	rb, okb := severityOrder[b]
	if !oka {
		ra = 50
	}
	if !okb {
		rb = 50
	}
	if ra != rb {
		return ra < rb
	}
	return a < b
}

// alertList groups the site's alerts by severity and rule group.
func (b *Builder) alertList(ix *alertrule.Index, pages []*Page) *AlertList {
	l := &AlertList{}
	for _, pg := range pages {
		if pg.Type != "plan" || pg.Plan.Kind != plan.KindAlert {
			continue
		}
		for _, n := range ix.Unknown(pg.Plan.Path, pg.Plan.AlertNames(), len(pg.Plan.Alert) > 0) {
			l.Orphans = append(l.Orphans, Orphan{Page: pg, Alert: n, Closest: ix.Closest(n)})
		}
	}
	contentRel := filepath.ToSlash(filepath.Clean(b.cfg.ContentDir)) + "/"
	bySev := map[string]*SeverityAlerts{}
	required := map[string]bool{}
	for _, s := range b.cfg.RequiredSeverities() {
		required[strings.ToLower(s)] = true
	}
	for _, f := range ix.Files {
		l.Files = append(l.Files, f.Path)
	}
	for _, j := range ix.Alerts {
		sev := j.Severity()
		if sev == "" {
			sev = "none"
		}
		sa := bySev[sev]
		if sa == nil {
			sa = &SeverityAlerts{Name: sev, Required: required[sev]}
			bySev[sev] = sa
			l.Severities = append(l.Severities, sa)
		}
		var g *GroupAlerts
		for _, x := range sa.Groups {
			if x.File == j.File && x.Name == j.Group {
				g = x
			}
		}
		if g == nil {
			g = &GroupAlerts{File: j.File, Name: j.Group}
			sa.Groups = append(sa.Groups, g)
		}
		g.Alerts = append(g.Alerts, b.alertView(j, contentRel))
		sa.Total++
		l.Total++
		if j.HasRunbook() {
			sa.Covered++
			l.Covered++
		}
	}
	sort.SliceStable(l.Severities, func(i, k int) bool { return severityLess(l.Severities[i].Name, l.Severities[k].Name) })
	for _, sa := range l.Severities {
		sort.SliceStable(sa.Groups, func(i, k int) bool {
			if sa.Groups[i].Name != sa.Groups[k].Name {
				return sa.Groups[i].Name < sa.Groups[k].Name
			}
			return sa.Groups[i].File < sa.Groups[k].File
		})
		for _, g := range sa.Groups {
			sort.SliceStable(g.Alerts, func(i, k int) bool { return g.Alerts[i].Name < g.Alerts[k].Name })
		}
	}
	return l
}

// safeSegment is an alert name usable as one folder of the site.
var safeSegment = regexp.MustCompile(`^[A-Za-z0-9_:.-]+$`)

// writeAlerts writes, for each alert with a runbook (the Alerts page is
// a row of pageTypes), /alerts/AlertName/ redirecting to it (and the lower-cased path, as
// Hugo-built runbook sites spell it). A content page already at one of
// these URLs keeps it.
func (b *Builder) writeAlerts(ctx context.Context, s *loaded, w *sitewrite.Writer) error {
	if s.alerts == nil {
		return nil
	}
	taken := map[string]bool{}
	for u := range s.byURL {
		taken[strings.ToLower(u)] = true
	}
	written := map[string]bool{}
	for _, j := range s.alerts.Alerts {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !j.HasRunbook() || !safeSegment.MatchString(j.Name) || strings.Trim(j.Name, ".") == "" {
			continue
		}
		to := strings.TrimSpace(j.URL.Value)
		if j.Page != nil {
			to = j.Page.URL
		}
		for _, u := range []string{alertrule.StableURL(j.Name), strings.ToLower(alertrule.StableURL(j.Name))} {
			if written[u] || taken[strings.ToLower(u)] && !written[strings.ToLower(u)] {
				continue
			}
			written[u] = true
			if err := w.Write(outputFile(u), redirectPage(relURL(u, to))); err != nil {
				return err
			}
		}
	}
	return nil
}

// alertTerms are the words an alert runbook is found by in search: its
// alerts' names (whole and in parts) and severities.
func alertTerms(pg *Page) (names []string, severity string) {
	for _, a := range pg.Alerts {
		names = append(names, a.Name)
		if severity == "" {
			severity = a.Severity()
		}
	}
	if pg.Plan != nil {
		for _, n := range pg.Plan.AlertNames() {
			if !containsFold(names, n) {
				names = append(names, n)
			}
		}
		if severity == "" {
			severity = strings.ToLower(pg.Plan.Severity)
		}
	}
	return names, severity
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// Broken reports whether the alert's runbook_url reaches no page here.
func (v *AlertView) Broken() bool { return v.State == alertrule.Broken }

// alertPage reports whether site path u is a generated alert page: the
// Alerts list or an alert's stable URL.
func (s *loaded) alertPage(u string) bool {
	if s.alerts == nil {
		return false
	}
	if u == alertsListURL {
		return s.byURL[alertsListURL] == nil
	}
	name, ok := strings.CutPrefix(u, "/alerts/")
	name = strings.TrimSuffix(name, "/")
	if !ok || strings.Contains(name, "/") {
		return false
	}
	for _, j := range s.alerts.Named(name) {
		if j.HasRunbook() {
			return true
		}
	}
	return false
}
