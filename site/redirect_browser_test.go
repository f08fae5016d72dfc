package site

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rollbook/rollbook/internal/browsertest"
)

// TestRedirectsKeepQueryAndFragmentInBrowser follows an alert's stable
// URL and a page's alias in headless Chromium: the ?query and #fragment
// the visitor came with reach the page, and the browser scrolls to the
// section (a pager's runbook_url …/alerts/Name/#mitigation).
func TestRedirectsKeepQueryAndFragmentInBrowser(t *testing.T) {
	chromium := browsertest.Chromium(t)
	filler := strings.Repeat("A paragraph that pushes the next section below the fold.\n\n", 60)
	root := writeTree(t, map[string]string{
		"rollbook.yaml": "alert_rules: [rules.yaml]\n",
		"rules.yaml":    "groups:\n- name: g\n  rules:\n  - alert: DiskFull\n    expr: up == 0\n    labels: {severity: critical}\n    annotations: {runbook_url: /alerts/DiskFull/#mitigation}\n",
		"content/runbooks/DiskFull.md": "---\nkind: alert\nreviewed: 2026-11-01\n---\n## Meaning\n\n" + filler + "## Impact\n\n" + filler +
			"## Diagnosis\n\n" + filler + "## Mitigation\n\nFree space.\n\n" + filler,
		"content/new.md": "---\ntitle: New home\naliases: [/old/]\n---\n## One\n\n" + filler + "## Two\n\n" + filler,
	})
	out := filepath.Join(t.TempDir(), "public")
	if _, err := Build(context.Background(), Options{Root: root, OutDir: out, Now: testNow, Force: true}); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(http.FileServer(http.Dir(out)))
	defer hs.Close()
	ctx, cancel := browsertest.Start(chromium, time.Minute)
	defer cancel()
	for _, tc := range []struct {
		from, want string
		section    string // an id the browser must have scrolled to, or ""
	}{
		{"/alerts/DiskFull/?from=pager&incident=42#mitigation", "/runbooks/diskfull/?from=pager&incident=42#mitigation", "mitigation"},
		{"/alerts/diskfull/#diagnosis", "/runbooks/diskfull/#diagnosis", "diagnosis"},
		{"/alerts/DiskFull/", "/runbooks/diskfull/", ""},
		{"/old/?q=disk#two", "/new/?q=disk#two", "two"},
		{"/old/", "/new/", ""},
	} {
		if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+tc.from)); err != nil {
			t.Fatal(err)
		}
		browsertest.WaitFor(t, ctx, `document.readyState === "complete" && location.pathname + location.search + location.hash === `+quoteJS(tc.want)+` ? "y" : ""`,
			tc.from+" redirecting to "+tc.want, `location.href`)
		if tc.section == "" {
			if y := browsertest.Eval(t, ctx, `String(window.scrollY)`); y != "0" {
				t.Errorf("%s: scrolled to %s with no fragment", tc.from, y)
			}
			continue
		}
		// The section's heading is at the top of the window, below the
		// sticky header (not under it), not the page's top.
		browsertest.WaitFor(t, ctx, `(() => { const h = document.getElementById(`+quoteJS(tc.section)+`); if (!h || window.scrollY < 500) return ""; const top = h.getBoundingClientRect().top; const hd = document.querySelector(".site-header"); const floor = hd && getComputedStyle(hd).position === "sticky" ? hd.getBoundingClientRect().bottom - 1 : -2; return top >= floor && top < 200 ? "y" : ""; })()`,
			tc.from+": the browser at #"+tc.section, `String(window.scrollY)`, `String((document.getElementById(`+quoteJS(tc.section)+`)||{getBoundingClientRect(){return {top:"none"}}}).getBoundingClientRect().top)`)
	}
}

func quoteJS(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
