package site_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rollbook/rollbook/internal/browsertest"
	"github.com/rollbook/rollbook/internal/devserver"
	"github.com/rollbook/rollbook/site"
)

// TestAlertSearchInBrowser finds the example's alert runbooks in headless
// Chromium by an alert's name, by words of it, and by the severity facet.
func TestAlertSearchInBrowser(t *testing.T) {
	path := browsertest.Chromium(t)
	out := t.TempDir()
	if _, err := site.Build(context.Background(), site.Options{Root: "..", OutDir: filepath.Join(out, "public"), Force: true}); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(devserver.FileHandler(filepath.Join(out, "public")))
	defer hs.Close()
	ctx, cancel := browsertest.Start(path, time.Minute)
	defer cancel()
	eval := func(js string) string { t.Helper(); return browsertest.Eval(t, ctx, js) }
	waitFor := func(js, what string) string {
		t.Helper()
		return browsertest.WaitFor(t, ctx, js, what, `document.getElementById("search-status").textContent`, `(document.querySelector("#search-results li .r-title")||{textContent:""}).textContent`)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/alerts/")); err != nil {
		t.Fatal(err)
	}
	waitFor(`document.readyState === "complete" ? "y" : ""`, "the Alerts page")
	if got := eval(`document.querySelector(".alerts-page strong").textContent`); got != "4 of 5" {
		t.Errorf("coverage on the Alerts page: %q", got)
	}
	setQuery := func(q string) {
		eval(`(() => { const i = document.getElementById("search-input"); i.focus(); i.value = ` + quote(q) + `; i.dispatchEvent(new Event("input")); return ""; })()`)
	}
	first := func(title, what string) {
		t.Helper()
		waitFor(`(() => { const r = document.getElementById("search-results"); const f = r.querySelector("li .r-title"); return r.dataset.query === document.getElementById("search-input").value && f && f.textContent.includes(`+quote(title)+`) ? "y" : ""; })()`, what)
	}
	// The alert's name, which only its rule and the runbook's alert: key hold.
	setQuery("PaymentsHighErrorRate")
	first("Payments API error rate", "the runbook by its alert's name")
	// Words of a name: the CamelCase parts are terms too.
	setQuery("crash looping")
	first("KubePodCrashLooping", "the runbook by words of its alert's name")
	setQuery("kubepersistentvolumefillingup")
	first("KubePersistentVolumeFillingUp", "the runbook by its lower-cased name")
	// The severity facet keeps the critical runbooks.
	setQuery(" ")
	waitFor(`(() => { const b = [...document.querySelectorAll("#search-facets button")].find(b => b.dataset.facet === "severity" && b.dataset.value === "critical"); if (!b) return ""; b.click(); return "y"; })()`, "the severity: critical facet")
	waitFor(`(() => { const ts = [...document.querySelectorAll("#search-results li .r-title")].map(e => e.textContent); return ts.length === 2 && ts.some(t => t.includes("Payments API error rate")) && ts.some(t => t.includes("KubePersistentVolumeFillingUp")) ? "y" : ""; })()`, "the two critical runbooks")
	// The stable URL of an alert reaches its runbook.
	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/alerts/PaymentsHighErrorRate/")); err != nil {
		t.Fatal(err)
	}
	waitFor(`location.pathname === "/runbooks/payments-errors/" && (document.querySelector(".panel-alert code")||{}).textContent === "PaymentsHighErrorRate" ? "y" : ""`, "the redirect to the runbook and its Alert panel")
}
