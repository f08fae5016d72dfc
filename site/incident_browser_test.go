package site_test

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/rollbook/rollbook/internal/browsertest"
	"github.com/rollbook/rollbook/internal/devserver"
	"github.com/rollbook/rollbook/site"
)

// The runbooks as read during an incident (SPEC 2.1), in headless
// Chromium against the example site.

// incidentBrowser builds the example site, serves it and starts Chromium.
func incidentBrowser(t *testing.T) (ctx context.Context, hs *httptest.Server) {
	t.Helper()
	path := browsertest.Chromium(t)
	out := t.TempDir()
	if _, err := site.Build(context.Background(), site.Options{Root: "..", OutDir: filepath.Join(out, "public"), Force: true}); err != nil {
		t.Fatal(err)
	}
	hs = httptest.NewServer(devserver.FileHandler(filepath.Join(out, "public")))
	t.Cleanup(hs.Close)
	ctx, cancel := browsertest.Start(path, 2*time.Minute)
	t.Cleanup(cancel)
	return ctx, hs
}

func navigate(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitFor(t, ctx, `document.readyState === "complete" ? "y" : ""`, "the page "+url)
}

// recordCopies replaces the clipboard's write with one that keeps the
// text: what the page copies is what a responder would paste.
const recordCopies = `(() => { window.copied = []; navigator.clipboard.writeText = (t) => { window.copied.push(t); return Promise.resolve(); }; return ""; })()`

// TestInputsFillCommandsInBrowser opens an alert runbook as an alert's
// runbook_url does, with label values in the query: the commands show
// them, the copy button copies the filled command, a value that is markup
// stays text, typed values are kept for the site and cleared on demand.
func TestInputsFillCommandsInBrowser(t *testing.T) {
	ctx, hs := incidentBrowser(t)
	eval := func(js string) string { t.Helper(); return browsertest.Eval(t, ctx, js) }
	const payload = `<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>`
	navigate(t, ctx, hs.URL+"/runbooks/kubepodcrashlooping/?namespace=payments&pod="+strings.NewReplacer("<", "%3C", ">", "%3E", "\"", "%22", "=", "%3D", " ", "%20").Replace(payload)+"&container=api")
	browsertest.WaitFor(t, ctx, `document.querySelector("[data-inputs-form]:not([hidden])") ? "y" : ""`, "the inputs form")
	first := `document.querySelector(".content .code[data-inputs] pre code").innerText`
	if got, want := eval(first), "kubectl -n payments describe pod "+payload+"\n"; got != want {
		t.Errorf("first command = %q, want %q", got, want)
	}
	// The value is text: no element was made from it, no script ran.
	if got := eval(`String(document.querySelectorAll(".content img, .content script").length) + " " + String(window.pwned)`); got != "0 undefined" {
		t.Errorf("a query value became markup: elements and pwned = %s", got)
	}
	// The form sits above the first command, outside its list.
	if got := eval(`(() => { const f = document.querySelector("[data-inputs-form]"); return f.parentElement.className + " " + !!(f.compareDocumentPosition(document.querySelector(".content .code[data-inputs]")) & Node.DOCUMENT_POSITION_FOLLOWING); })()`); got != "content true" {
		t.Errorf("form placement: %s", got)
	}
	eval(recordCopies)
	eval(`document.querySelectorAll(".content .code[data-inputs]")[1].querySelector("[data-copy]").click(), ""`)
	if got := browsertest.WaitFor(t, ctx, `(window.copied || []).join("|")`, "the copied command"); got != "kubectl -n payments logs "+payload+" -c api --previous\n" {
		t.Errorf("copied %q", got)
	}
	// Typing updates every command; a value that breaks the pattern is flagged.
	eval(`(() => { const i = document.getElementById("input-namespace"); i.value = "Bad_NS"; i.dispatchEvent(new Event("input", {bubbles: true})); return ""; })()`)
	if got := eval(`document.getElementById("input-namespace").getAttribute("aria-invalid") + " " + [...document.querySelectorAll('.content .input[data-input="namespace"]')].every(e => e.textContent === "Bad_NS")`); got != "true true" {
		t.Errorf("after typing: invalid and filled = %s", got)
	}
	// Without the query, the values typed last are used on the site.
	navigate(t, ctx, hs.URL+"/runbooks/kubepodcrashlooping/")
	browsertest.WaitFor(t, ctx, `document.querySelector("[data-inputs-form]:not([hidden])") ? "y" : ""`, "the inputs form")
	if got := eval(`document.getElementById("input-namespace").value + " " + document.getElementById("input-container").value`); got != "Bad_NS api" {
		t.Errorf("kept values: %q", got)
	}
	eval(`document.querySelector("[data-inputs-clear]").click(), ""`)
	if got := eval(first); got != "kubectl -n {{ .namespace }} describe pod {{ .pod }}\n" {
		t.Errorf("after clear the command reads %q", got)
	}
	if got := eval(`String(localStorage.getItem("rollbook-inputs:/"))`); got != "null" {
		t.Errorf("clear left %q stored", got)
	}
}

// TestChecklistKeepsStateInBrowser ticks a go/no-go box, reloads, copies
// the progress and starts a new run.
func TestChecklistKeepsStateInBrowser(t *testing.T) {
	ctx, hs := incidentBrowser(t)
	eval := func(js string) string { t.Helper(); return browsertest.Eval(t, ctx, js) }
	url := hs.URL + "/payments/api-2-4-canary/"
	navigate(t, ctx, url)
	browsertest.WaitFor(t, ctx, `document.querySelector("[data-checklist-bar]:not([hidden])") ? "y" : ""`, "the checklist bar")
	if got := eval(`[...document.querySelectorAll(".content input.task")].map(b => b.disabled || b.checked).join()`); strings.Contains(got, "true") {
		t.Fatalf("boxes are disabled or checked before any run: %s", got)
	}
	eval(`document.querySelector(".content input.task").click(), ""`)
	navigate(t, ctx, url)
	browsertest.WaitFor(t, ctx, `document.querySelector(".content input.task").checked ? "y" : ""`, "the checked box after a reload")
	if got := eval(`document.querySelector(".content .task-time").textContent`); !regexp.MustCompile(`^\d\d:\d\d UTC$`).MatchString(got) {
		t.Errorf("time beside the box: %q", got)
	}
	if got := eval(`document.querySelector(".checklist-count").textContent`); !strings.HasPrefix(got, "1 of 5 checked") {
		t.Errorf("count: %q", got)
	}
	eval(recordCopies)
	eval(`document.querySelector("[data-checklist-copy]").click(), ""`)
	progress := browsertest.WaitFor(t, ctx, `(window.copied || []).join("")`, "the copied progress")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`^\*\*Payments API 2\.4 canary with expand migration\*\*: 1 of \d+ checked, run started \d{4}-\d\d-\d\d \d\d:\d\d UTC\n`),
		regexp.MustCompile(`\n_Go / no-go criteria_\n- \[x\] \d\d:\d\d UTC No open SEV1/SEV2 incident: pd incident list`),
		regexp.MustCompile(`\n- \[ \] Error budget for payments-api above 25 % this month`),
	} {
		if !want.MatchString(progress) {
			t.Errorf("progress lacks %s:\n%s", want, progress)
		}
	}
	eval(`document.querySelector("[data-checklist-reset]").click(), ""`)
	navigate(t, ctx, url)
	browsertest.WaitFor(t, ctx, `document.querySelector("[data-checklist-bar]:not([hidden])") ? "y" : ""`, "the checklist bar")
	if got := eval(`document.querySelectorAll(".content input.task:checked, .content .task-time").length + ""`); got != "0" {
		t.Errorf("%s boxes or times left after reset", got)
	}
}

// TestKeyboardInBrowser walks an alert runbook with Tab: every control has
// a name, the form fields, the check boxes and the copy buttons are
// reached in order, Space ticks a box and Enter copies.
func TestKeyboardInBrowser(t *testing.T) {
	ctx, hs := incidentBrowser(t)
	eval := func(js string) string { t.Helper(); return browsertest.Eval(t, ctx, js) }
	navigate(t, ctx, hs.URL+"/runbooks/kubepodcrashlooping/?namespace=payments")
	browsertest.WaitFor(t, ctx, `document.querySelector("[data-checklist-bar]:not([hidden])") ? "y" : ""`, "the checklist bar")
	unnamed := eval(`[...document.querySelectorAll("input, button, select, textarea")].filter(e => !(e.labels && e.labels.length) && !e.getAttribute("aria-label") && !e.getAttribute("aria-labelledby") && !e.textContent.trim()).map(e => e.outerHTML.slice(0, 80)).join("\n")`)
	if unnamed != "" {
		t.Errorf("controls without a name:\n%s", unnamed)
	}
	eval(recordCopies)
	var walk []string
	ticked, copied := false, false
	for i := 0; i < 80; i++ {
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatal(err)
		}
		at := eval(`(() => { const e = document.activeElement; return e.id || e.className || e.tagName; })()`)
		walk = append(walk, at)
		if at == "task" && !ticked {
			if err := chromedp.Do(ctx, chromedp.KeyEvent(" ")); err != nil {
				t.Fatal(err)
			}
			ticked = eval(`document.activeElement.checked + ""`) == "true"
		}
		if at == "copy" && !copied && eval(`document.activeElement.closest(".content") ? "y" : ""`) == "y" {
			if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Enter)); err != nil {
				t.Fatal(err)
			}
			copied = browsertest.WaitFor(t, ctx, `(window.copied || []).join("")`, "a copy by Enter") == "kubectl -n payments describe pod {{ .pod }}\n"
		}
	}
	seq := strings.Join(walk, " ")
	for _, want := range []string{"input-namespace input-pod input-container input-deployment", "task", "copy"} {
		if !strings.Contains(seq, want) {
			t.Errorf("Tab never reached %q; it went: %s", want, seq)
		}
	}
	if i, j := strings.Index(seq, "input-namespace"), strings.Index(seq, "task"); i < 0 || j < i {
		t.Errorf("the form comes after the check boxes: %s", seq)
	}
	if !ticked || !copied {
		t.Errorf("Space ticked a box: %v; Enter copied the command: %v", ticked, copied)
	}
}

// TestPrintInBrowser prints a plan to PDF: its outline holds the rollback
// procedure, and in print the navigation is gone, collapsed drill details
// are open and no code is cut at the page edge.
func TestPrintInBrowser(t *testing.T) {
	ctx, hs := incidentBrowser(t)
	eval := func(js string) string { t.Helper(); return browsertest.Eval(t, ctx, js) }
	navigate(t, ctx, hs.URL+"/payments/api-2-4-canary/")
	yes := true
	res, err := chromedp.Call(ctx, page.PrintToPDF, page.PrintToPDFParams{GenerateDocumentOutline: &yes, GenerateTaggedPDF: &yes})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(res.Data, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", res.Data[:min(20, len(res.Data))])
	}
	if text := pdfText(res.Data); !strings.Contains(text, "Rollback procedure") || !strings.Contains(text, "Rollout procedure") {
		t.Errorf("the PDF's outline lacks the procedures")
	}
	if pages := bytes.Count(res.Data, []byte("/Type /Page\n")) + bytes.Count(res.Data, []byte("/Type /Page>>")) + len(regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(res.Data, -1)); pages < 2 {
		t.Errorf("the PDF has %d pages", pages)
	}
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatal(err)
	}
	got := eval(`(() => {
		const hidden = (s) => [...document.querySelectorAll(s)].every(e => getComputedStyle(e).display === "none");
		const rb = document.getElementById("rollback-procedure");
		const width = document.querySelector(".main").getBoundingClientRect().right;
		const cut = [...document.querySelectorAll(".content pre, .panel pre")].filter(p => p.scrollWidth > p.clientWidth + 1 || p.getBoundingClientRect().right > width + 1).length;
		const closed = [...document.querySelectorAll("details")].filter(d => !d.open && getComputedStyle(d.querySelector(":scope > :not(summary)") || d).display === "none").length;
		return [hidden(".site-header") && hidden(".toc") && hidden(".copy"), !!rb && getComputedStyle(rb).display !== "none", cut, closed].join(" ");
	})()`)
	if got != "true true 0 0" {
		t.Errorf("print: navigation hidden, rollback shown, code cut, details closed = %s", got)
	}
}

// pdfText is the PDF's bytes with its compressed streams inflated, where
// the outline's titles are (as text, or UTF-16 with zero bytes between).
func pdfText(pdf []byte) string {
	var b strings.Builder
	b.Write(pdf)
	for _, m := range regexp.MustCompile(`(?s)stream\r?\n`).FindAllIndex(pdf, -1) {
		r, err := zlib.NewReader(bytes.NewReader(pdf[m[1]:]))
		if err != nil {
			continue
		}
		data, _ := io.ReadAll(io.LimitReader(r, 1<<22))
		b.Write(data)
	}
	return strings.ReplaceAll(b.String(), "\x00", "")
}

// TestOfflineInBrowser visits a page, then takes the network away (CDP
// offline emulation, and the server itself closed): the page reloads from
// the service worker's cache, with a query in its URL, and a search on it
// still finds plans.
func TestOfflineInBrowser(t *testing.T) {
	ctx, hs := incidentBrowser(t)
	eval := func(js string) string { t.Helper(); return browsertest.Eval(t, ctx, js) }
	url := hs.URL + "/runbooks/kubepodcrashlooping/"
	navigate(t, ctx, url)
	// Evaluations do not wait for promises: each sets what the next polls.
	eval(`navigator.serviceWorker.ready.then(() => { window.swReady = "y"; }), ""`)
	browsertest.WaitFor(t, ctx, `window.swReady || ""`, "the service worker")
	// The index is fetched in the background once the worker runs.
	browsertest.WaitFor(t, ctx, `(caches.open("rollbook-v1").then(c => c.keys()).then(k => { window.shards = k.filter(r => r.url.includes("/_search/t/")).length; }), window.shards > 100 ? "y" : "")`, "the search index in the cache")
	navigate(t, ctx, url) // now controlled by the worker, which keeps the page
	browsertest.WaitFor(t, ctx, `navigator.serviceWorker.controller ? "y" : ""`, "a controlled page")
	yes := true
	if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{EmulateOfflineServiceWorker: &yes, MatchedNetworkConditions: []*network.Conditions{{Offline: true, DownloadThroughput: -1, UploadThroughput: -1}}}); err != nil {
		t.Fatal(err)
	}
	hs.CloseClientConnections()
	hs.Close()
	navigate(t, ctx, url+"?namespace=payments")
	if got := eval(`document.querySelector("h1").textContent + " | " + document.querySelector(".content .code[data-inputs] pre code").innerText`); got != "KubePodCrashLooping | kubectl -n payments describe pod {{ .pod }}\n" {
		t.Errorf("offline page: %q", got)
	}
	eval(`(() => { const i = document.getElementById("search-input"); i.focus(); i.value = "ledger"; i.dispatchEvent(new Event("input")); return ""; })()`)
	browsertest.WaitFor(t, ctx, `(() => { const f = document.querySelector("#search-results li .r-title"); return f && f.textContent.includes("Payments API 2.4") ? "y" : ""; })()`, "an offline search result",
		`document.getElementById("search-status").textContent`)
}

// TestBundleInBrowser unzips rollbook bundle's archive and opens it from
// file://: search finds a plan and its result opens the plan's page.
func TestBundleInBrowser(t *testing.T) {
	path := browsertest.Chromium(t)
	var zipped bytes.Buffer
	if _, err := site.Bundle(context.Background(), site.Options{Root: ".."}, &zipped); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	zr, err := zip.NewReader(bytes.NewReader(zipped.Bytes()), int64(zipped.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, site.BundleDir+"/") {
			t.Fatalf("%s is outside the bundle's folder", f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := browsertest.Start(path, time.Minute)
	defer cancel()
	eval := func(js string) string { t.Helper(); return browsertest.Eval(t, ctx, js) }
	navigate(t, ctx, "file://"+filepath.Join(dir, site.BundleDir, "index.html"))
	eval(`(() => { const i = document.getElementById("search-input"); i.focus(); i.value = "ledger"; i.dispatchEvent(new Event("input")); return ""; })()`)
	href := browsertest.WaitFor(t, ctx, `(() => { const f = document.querySelector("#search-results li .r-title"); return f && f.textContent.includes("Payments API 2.4") ? f.href : ""; })()`, "a search result from disk",
		`document.getElementById("search-status").textContent`)
	if !strings.HasPrefix(href, "file://") || !strings.Contains(href, "/payments/api-2-4-canary/index.html") {
		t.Errorf("result links to %s", href)
	}
	eval(`document.querySelector("#search-results li .r-title").click(), ""`)
	browsertest.WaitFor(t, ctx, `location.pathname.endsWith("/payments/api-2-4-canary/index.html") && document.readyState === "complete" ? "y" : ""`, "the plan opened from the result")
	// Folder links of the page open index.html too.
	if got := eval(`document.querySelector(".crumbs a").href`); !strings.HasSuffix(got, "/index.html") {
		t.Errorf("breadcrumb links to %s", got)
	}
}

// TestPagesFitInBrowser loads a page of every type of the example site at
// a phone's, a tablet's and a desktop's width: no element may reach past
// the viewport (a table may scroll inside its own box), and no table cell
// may be narrower than its longest word (the drill table once broke image
// references one character a line): code whole, prose up to where line
// breaking allows a break (after a space, a hyphen or a slash). With ROLLBOOK_SHOTS set to a folder,
// it writes each page's screenshot there.
func TestPagesFitInBrowser(t *testing.T) {
	ctx, hs := incidentBrowser(t)
	pages := map[string]string{
		"home": "/", "plan": "/payments/api-2-4-canary/", "plan-rollback": "/checkout/drop-legacy-status-rollback/",
		"plan-automated": "/platform/automated-rollback-design/", "alert": "/runbooks/kubepodcrashlooping/?namespace=payments",
		"section": "/payments/", "terms": "/services/", "term": "/kinds/rollout/", "stale": "/stale/",
		"drills": "/drills/", "alerts": "/alerts/", "404": "/no-such-page/",
	}
	shots := os.Getenv("ROLLBOOK_SHOTS")
	for _, width := range []int64{375, 768, 1400} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 900)); err != nil {
			t.Fatal(err)
		}
		for name, path := range pages {
			navigate(t, ctx, hs.URL+path)
			browsertest.WaitFor(t, ctx, `document.fonts.status === "loaded" ? "y" : ""`, "fonts")
			got := browsertest.Eval(t, ctx, fitCheck)
			if got != "" {
				t.Errorf("%s (%s) at %d px:\n%s", name, path, width, got)
			}
			if shots != "" && width != 768 {
				png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(shots, name+"-"+itoa(width)+".png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// fitCheck lists what does not fit: elements past the viewport's right
// edge outside a scrolling box, and table cells narrower than a word.
const fitCheck = `(() => {
	const vw = document.documentElement.clientWidth, out = [];
	const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && typeof e.className === "string" ? "." + e.className.trim().split(/\s+/).join(".") : "");
	const scrolls = (e) => { for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) { const o = getComputedStyle(p).overflowX; if (o === "auto" || o === "scroll" || o === "hidden") return true; } return false; };
	if (document.documentElement.scrollWidth > vw + 1) out.push("the page scrolls sideways: " + document.documentElement.scrollWidth + " > " + vw);
	for (const e of document.body.querySelectorAll("*")) {
		const r = e.getBoundingClientRect();
		if (r.width === 0 || r.height === 0 || getComputedStyle(e).visibility === "hidden" || e.closest(".visually-hidden, .skip, [hidden]")) continue;
		if (r.right > vw + 1 && !scrolls(e)) out.push(name(e) + " reaches " + Math.round(r.right) + " px");
	}
	const canvas = document.createElement("canvas").getContext("2d");
	for (const cell of document.querySelectorAll("td, th")) {
		if (cell.getBoundingClientRect().width === 0) continue;
		const cs = getComputedStyle(cell);
		const room = cell.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
		const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
		for (let n = walker.nextNode(); n; n = walker.nextNode()) {
			if (scrolls(n.parentElement) && n.parentElement.closest("pre")) continue; // a query that scrolls in its own box
			canvas.font = getComputedStyle(n.parentElement).font;
			// Code is one word between spaces; prose may also break after
			// a hyphen or a slash, as line breaking allows (team-payments).
			const words = n.parentElement.closest("code") ? n.textContent.split(/\s+/) : n.textContent.split(/\s+|(?<=[-\/])/);
			for (const w of words) {
				if (w && canvas.measureText(w).width > room + 1) { out.push(name(cell) + " is " + Math.round(room) + " px, narrower than " + JSON.stringify(w)); break; }
			}
		}
	}
	return [...new Set(out)].slice(0, 15).join("\n");
})()`
