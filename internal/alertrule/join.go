package alertrule

import (
	"net/url"
	"sort"
	"strings"

	"github.com/rollbook/rollbook/internal/diag"
)

// Page is a page of the site an alert may be joined to.
type Page struct {
	Path  string   // source path inside the content folder ("k8s/KubePodCrashLooping.md")
	URL   string   // site path ("/k8s/kubepodcrashlooping/")
	Names []string // the alerts an alert runbook says it explains; nil for other pages
}

// How an alert found its runbook page.
const (
	ByURL  = "runbook_url"
	ByName = "alert name"
)

// URLState says what an alert's runbook_url is.
type URLState int

const (
	NoURL URLState = iota
	// Internal: resolved against base_url to a page of this site.
	Internal
	// External: a runbook hosted elsewhere; not checked.
	External
	// Templated: holds {{ }}, so only Prometheus can tell where it points.
	Templated
	// Broken: points into this site but reaches no page.
	Broken
	// Invalid: not a URL at all.
	Invalid
)

// Joined is an alert with its runbook.
type Joined struct {
	*Alert
	// Page is the runbook page on this site, or nil.
	Page *Page
	// By says how Page was found: ByURL or ByName.
	By string
	// URL is the runbook_url annotation; State what it is.
	URL   Pair
	State URLState
	// Problem says why an Invalid URL is not one.
	Problem string
}

// HasRunbook reports whether the alert has a runbook: a page here or one
// hosted elsewhere.
func (j *Joined) HasRunbook() bool { return j.Page != nil || j.State == External }

// Index is every alert of the rule files joined to the site's pages.
type Index struct {
	Files  []*File
	Alerts []*Joined
	// byPage: page path -> the alerts joined to it, in rule-file order.
	byPage map[string][]*Joined
	// names: lower-cased alert name -> its alerts.
	names map[string][]*Joined
	// linked: page paths some runbook_url reaches.
	linked map[string]bool
}

// ForPage returns the alerts joined to the page at path.
func (ix *Index) ForPage(path string) []*Joined { return ix.byPage[path] }

// Named returns the alerts of a name, matched without regard to case.
func (ix *Index) Named(name string) []*Joined { return ix.names[strings.ToLower(name)] }

// Linked reports whether some alert's runbook_url reaches the page.
func (ix *Index) Linked(path string) bool { return ix.linked[path] }

// Unknown returns the names of an alert runbook (at path) that no rule
// file has: each name its alert: key writes (explicit), or the name its
// file gives it when no runbook_url reaches it either. A renamed or deleted
// alert leaves such a runbook.
func (ix *Index) Unknown(path string, names []string, explicit bool) []string {
	var out []string
	for _, n := range names {
		if len(ix.Named(n)) == 0 && (explicit || !ix.Linked(path)) {
			out = append(out, n)
		}
	}
	return out
}

// Closest returns the alert name nearest to name (a renamed alert), or ""
// when none is close.
func (ix *Index) Closest(name string) string {
	keys := make([]string, 0, len(ix.names))
	for k := range ix.names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if k := diag.Closest(name, keys, max(3, len(name)/4+1)); k != "" {
		return ix.names[k][0].Name
	}
	return ""
}

// Join joins each alert of files to its runbook page: by its runbook_url
// resolved against baseURL (ignoring case, a trailing .md, a trailing slash
// and an #anchor, so Hugo's lower-cased URLs of CamelCase files match),
// else by a page whose alert names (its alert: key, or its file name) hold
// the alert's name.
func Join(files []*File, pages []*Page, baseURL string) *Index {
	ix := &Index{Files: files, byPage: map[string][]*Joined{}, names: map[string][]*Joined{}, linked: map[string]bool{}}
	base, err := url.Parse(baseURL)
	if err != nil {
		base = &url.URL{Path: "/"}
	}
	byKey := map[string]*Page{}
	byName := map[string]*Page{}
	byFold := map[string]*Page{}
	for _, p := range pages {
		for _, k := range []string{pageKey(p.URL), pageKey(p.Path)} {
			if _, taken := byKey[k]; !taken {
				byKey[k] = p
			}
		}
		for _, n := range p.Names {
			if _, taken := byName[n]; !taken {
				byName[n] = p
			}
			if _, taken := byFold[strings.ToLower(n)]; !taken {
				byFold[strings.ToLower(n)] = p
			}
		}
	}
	for _, a := range Alerts(files) {
		j := &Joined{Alert: a}
		if u, ok := a.RunbookURL(); ok {
			j.URL = u
			j.State, j.Page, j.Problem = resolve(base, strings.TrimSpace(u.Value), a.Name, byKey)
			if j.Page != nil {
				j.By = ByURL
				ix.linked[j.Page.Path] = true
			}
		}
		if j.Page == nil && j.State != Broken {
			if p := byName[a.Name]; p != nil {
				j.Page, j.By = p, ByName
			} else if p := byFold[strings.ToLower(a.Name)]; p != nil {
				j.Page, j.By = p, ByName
			}
		}
		if j.State == Internal && j.Page == nil {
			j.State = Broken // the stable URL of an alert no page explains
		}
		if j.Page != nil {
			ix.byPage[j.Page.Path] = append(ix.byPage[j.Page.Path], j)
		}
		ix.names[strings.ToLower(a.Name)] = append(ix.names[strings.ToLower(a.Name)], j)
		ix.Alerts = append(ix.Alerts, j)
	}
	return ix
}

// StableURL is the site path that redirects to an alert's runbook, so a
// rule can link one URL per alert: /alerts/AlertName/.
func StableURL(name string) string { return "/alerts/" + name + "/" }

// resolve finds the page a runbook_url reaches.
func resolve(base *url.URL, raw, alert string, byKey map[string]*Page) (URLState, *Page, string) {
	if strings.Contains(raw, "{{") {
		return Templated, nil, ""
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		msg := err.Error()
		if ue, ok := err.(*url.Error); ok {
			msg = ue.Err.Error()
		}
		return Invalid, nil, msg
	case strings.ContainsAny(raw, " \t\n"):
		return Invalid, nil, "it holds spaces"
	case u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https":
		return Invalid, nil, "scheme " + u.Scheme + ": is not http or https"
	case u.Scheme != "" && u.Host == "":
		return Invalid, nil, "it has no host"
	case u.Scheme == "" && u.Host == "" && u.Path == "":
		return Invalid, nil, "it has no path"
	}
	if u.Host != "" && !strings.EqualFold(u.Host, base.Host) {
		return External, nil, ""
	}
	ref := base.ResolveReference(u)
	p := ref.Path
	bp := strings.ToLower(base.Path)
	if !strings.HasSuffix(bp, "/") {
		bp += "/"
	}
	if !strings.HasPrefix(strings.ToLower(p)+"/", bp) {
		if u.Host != "" {
			return External, nil, "" // the same host, outside the site
		}
		return Broken, nil, ""
	}
	key := pageKey(p[min(len(bp), len(p)):])
	if pg := byKey[key]; pg != nil {
		return Internal, pg, ""
	}
	if strings.EqualFold(key, strings.Trim(StableURL(alert), "/")) {
		// The stable URL redirects to whatever runbook the name finds.
		return Internal, nil, ""
	}
	return Broken, nil, ""
}

// pageKey is how a page's URL or source path and a runbook_url are
// compared: lower-case, without slashes at the ends, a .md or .html, or
// an index file name.
func pageKey(p string) string {
	k := strings.Trim(strings.ToLower(p), "/")
	for _, suf := range []string{".md", ".html"} {
		k = strings.TrimSuffix(k, suf)
	}
	for _, idx := range []string{"_index", "index", "readme"} {
		if k == idx {
			return ""
		}
		k = strings.TrimSuffix(k, "/"+idx)
	}
	return k
}
