package devserver

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"

	"github.com/rollbook/rollbook/internal/browsertest"
	"github.com/rollbook/rollbook/themes"
)

// fixture writes a small site: one plan and a home page.
func fixture(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write(t, filepath.Join(root, "content", "_index.md"), "---\ntitle: Dev site\n---\nHome.\n")
	write(t, filepath.Join(root, "content", "ops", "flip.md"), page("First version"))
	return root
}

func page(text string) string {
	return "---\ntitle: Flip\nkind: process\nrisk: low\nreviewed: 2026-11-20\n---\n## Expectations\n\n" + text + "\n\n## Rollout steps\n\n1. Run `flagctl set x true`. Verify: it prints true.\n"
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func start(t *testing.T, root string) (*Server, *httptest.Server, func()) {
	t.Helper()
	return startWith(t, Options{Root: root})
}

func startWith(t *testing.T, opts Options) (*Server, *httptest.Server, func()) {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Watch(ctx); close(done) }()
	hs := httptest.NewServer(s.Handler())
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-done
			s.Close()
			hs.Close()
		})
	}
	t.Cleanup(stop)
	// A save made before the watches are in place would go unseen.
	select {
	case <-s.watching:
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not start watching its sources")
	}
	return s, hs, stop
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIgnored(t *testing.T) {
	for name, want := range map[string]bool{
		"content/a.md": false, "content/.a.md.swp": true, "content/a.md~": true, "content/4913": true,
		"content/.#a.md": true, "content/#a.md#": true, "content/a.md.bck": true, "content/a.md___jb_tmp___": true, "content/x.tmp": true,
	} {
		if got := ignored(name); got != want {
			t.Errorf("ignored(%q) = %v", name, got)
		}
	}
}

func TestServeSafety(t *testing.T) {
	root := fixture(t)
	_, hs, _ := start(t, root)
	for _, p := range []string{"/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/ops/../../../etc/passwd", "/.rollbook-build", "/..%5c..%5cetc%5cpasswd"} {
		req, _ := http.NewRequest("GET", hs.URL+p, nil)
		req.URL.RawPath = p
		req.URL.Path = p
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 404 && resp.StatusCode != 400 && resp.StatusCode != 301 && resp.StatusCode != 307 || strings.Contains(string(b), "root:") {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	if code, body := get(t, hs.URL+"/no/such/page/"); code != 404 || !strings.Contains(body, "Page not found") {
		t.Errorf("missing page: %d", code)
	}
	resp, err := http.Get(hs.URL + "/style.css")
	if err != nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Errorf("style.css content type %q %v", resp.Header.Get("Content-Type"), err)
	}
	resp.Body.Close()
}

// 1000 rapid writes end with the final content served, and nothing leaks.
func TestRapidWrites(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	func() {
		root := fixture(t)
		_, hs, stop := start(t, root)
		defer stop()
		file := filepath.Join(root, "content", "ops", "flip.md")
		for i := 0; i < 1000; i++ {
			if err := os.WriteFile(file, []byte(page(fmt.Sprintf("Version %d", i))), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, "the last write to be served", func() bool {
			_, body := get(t, hs.URL+"/ops/flip/")
			return strings.Contains(body, "Version 999")
		})
		http.DefaultClient.CloseIdleConnections()
	}()
}

// chromium starts a headless browser for a test of a minute at most.
func chromium(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	return browsertest.Start(browsertest.Chromium(t), time.Minute)
}

func TestBrowserLiveReload(t *testing.T) {
	root := fixture(t)
	_, hs, _ := start(t, root)
	ctx, cancel := chromium(t)
	defer cancel()
	file := filepath.Join(root, "content", "ops", "flip.md")
	var text string
	waitText := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
			if err != nil {
				t.Fatal(err)
			}
			text = v
			if strings.Contains(text, want) {
				return
			}
			if time.Now().After(deadline) {
				st, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.readyState + " " + location.href + " " + document.documentElement.outerHTML.slice(0, 3000)`))
				t.Fatalf("page never showed %q (%s); it shows:\n%.500s", want, st, text)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/ops/flip/")); err != nil {
		t.Fatal(err)
	}
	waitText("First version")
	time.Sleep(200 * time.Millisecond) // the event stream connects after load

	// Edit: the open tab reloads and shows the new text.
	write(t, file, page("Second version"))
	waitText("Second version")
	time.Sleep(200 * time.Millisecond)

	// Break the YAML: an overlay names the file and line; the page stays.
	write(t, file, "---\ntitle: Flip\nkind: [process\n---\n")
	var overlay string
	deadline := time.Now().Add(10 * time.Second)
	for {
		overlay, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("rollbook-overlay")||{}).innerText||""`))
		if strings.Contains(overlay, "content/ops/flip.md:3") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no overlay with the line; overlay: %q", overlay)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Fix it: the overlay goes away by itself.
	write(t, file, page("Third version"))
	waitText("Third version")
	gone, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("rollbook-overlay")===null`))
	if !gone {
		t.Error("overlay still shown after the fix")
	}

	// Rename the folder, then edit the file inside it: the change shows.
	if err := os.Rename(filepath.Join(root, "content", "ops"), filepath.Join(root, "content", "runbooks")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the old URL to go", func() bool { code, _ := get(t, hs.URL+"/ops/flip/"); return code == 404 })
	write(t, filepath.Join(root, "content", "runbooks", "flip.md"), page("Moved version"))
	eventually(t, "the edit in the moved folder to be served", func() bool {
		_, body := get(t, hs.URL+"/runbooks/flip/")
		return strings.Contains(body, "Moved version")
	})
	// The old tab keeps reloading on its own (its page is gone); the
	// moved page is opened in a tab of its own.
	tab, closeTab := chromedp.NewContext(ctx)
	defer closeTab()
	ctx = tab
	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/runbooks/flip/")); err != nil {
		t.Fatal(err)
	}
	waitText("Moved version")
	if code, _ := get(t, hs.URL+"/ops/flip/"); code != 404 {
		t.Errorf("the old URL still answers %d after the folder moved", code)
	}
}

// A renamed plan moves to its new URL; a deleted plan is taken off the
// site: its page answers 404 and its section and search no longer list it.
func TestRenamedAndDeletedFiles(t *testing.T) {
	root := fixture(t)
	write(t, filepath.Join(root, "content", "ops", "_index.md"), "---\ntitle: Ops\n---\nOps plans.\n")
	first := filepath.Join(root, "content", "ops", "drain.md")
	write(t, first, strings.Replace(page("Drain the node pool"), "title: Flip", "title: Drain nodes", 1))
	_, hs, _ := start(t, root)
	if code, _ := get(t, hs.URL+"/ops/drain/"); code != 200 {
		t.Fatalf("the plan answers %d before the rename", code)
	}
	gone := filepath.Join(root, "content", "ops", "drain-nodes.md")
	if err := os.Rename(first, gone); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the renamed plan at its new URL", func() bool { code, _ := get(t, hs.URL+"/ops/drain-nodes/"); return code == 200 })
	if code, _ := get(t, hs.URL+"/ops/drain/"); code != 404 {
		t.Errorf("the old URL answers %d after the rename", code)
	}
	// Applied in place, not by a full build: search lists the old
	// document as gone.
	if _, m := get(t, hs.URL+"/_search/manifest.json"); !strings.Contains(m, `"gone":[`) {
		t.Errorf("the rename built the whole site; manifest %s", m)
	}
	if _, body := get(t, hs.URL+"/ops/"); !strings.Contains(body, "drain-nodes/") {
		t.Fatal("the section does not link the renamed plan")
	}
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted plan to answer 404", func() bool { code, _ := get(t, hs.URL+"/ops/drain-nodes/"); return code == 404 })
	if _, body := get(t, hs.URL+"/ops/"); strings.Contains(body, "Drain nodes") || !strings.Contains(body, "Flip") {
		t.Errorf("the section after the delete:\n%.2000s", body)
	}
	if _, body := get(t, hs.URL+"/_search/d/0.json"); strings.Contains(body, "Drain nodes") {
		t.Errorf("search still holds the deleted plan: %s", body)
	}
}

// A plan deleted while serving is taken out of search in place (its
// number listed as gone): the browser no longer finds it, not even in the
// list of every plan an empty query shows.
func TestSearchAfterDeleteInBrowser(t *testing.T) {
	root := fixture(t)
	gone := filepath.Join(root, "content", "ops", "drain.md")
	write(t, gone, strings.Replace(page("Drain the node pool"), "title: Flip", "title: Drain nodes", 1))
	_, hs, _ := start(t, root)
	ctx, cancel := chromium(t)
	defer cancel()
	search := func(q string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
			const i = document.getElementById("search-input"), status = document.getElementById("search-status");
			status.textContent = "";
			i.value = `+"`"+q+"`"+`; i.dispatchEvent(new Event("input"));
			for (let k = 0; k < 500 && !status.textContent; k++) await new Promise(r => setTimeout(r, 10));
			return status.textContent + " | " + [...document.querySelectorAll("#search-results li .r-title")].map(a => a.textContent).join(", ");
		})()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	open := func() {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/")); err != nil {
			t.Fatal(err)
		}
	}
	open()
	if got := search(" "); !strings.HasPrefix(got, "2 plans") || !strings.Contains(got, "Drain nodes") {
		t.Fatalf("every plan before the delete: %q", got)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.beforeDelete = true`)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the plan to leave search in place", func() bool {
		_, m := get(t, hs.URL+"/_search/manifest.json")
		return strings.Contains(m, `"gone":[`)
	})
	// The open tab reloads by itself once the update is served.
	eventually(t, "the tab to reload", func() bool {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!window.beforeDelete && document.readyState === "complete" && !!document.getElementById("search-input")`))
		return err == nil && v
	})
	if got := search(" "); !strings.HasPrefix(got, "1 plan |") || strings.Contains(got, "Drain nodes") {
		t.Errorf("every plan after the delete: %q", got)
	}
	if got := search("drain"); !strings.HasPrefix(got, "No plans match") {
		t.Errorf("the deleted plan's word after the delete: %q", got)
	}
}

// In the browser: a save keeps the tab at its scroll position; a theme
// stylesheet change is swapped in without a reload; a check warning shows
// as a banner that can be dismissed.
func TestBrowserScrollStylesAndWarnings(t *testing.T) {
	root := fixture(t)
	long := func(text string) string {
		var b strings.Builder
		b.WriteString(page(text))
		b.WriteString("\n## Notes\n\n")
		for i := range 150 {
			fmt.Fprintf(&b, "Paragraph %d of the notes, long enough to scroll.\n\n", i)
		}
		return b.String()
	}
	file := filepath.Join(root, "content", "ops", "flip.md")
	write(t, file, long("Long version"))
	css, err := fs.ReadFile(themes.Default, "default/static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	cssFile := filepath.Join(root, "themes", "default", "static", "style.css")
	write(t, cssFile, string(css))
	_, hs, _ := start(t, root)
	ctx, cancel := chromium(t)
	defer cancel()
	eval := func(js string) string { t.Helper(); return browsertest.Eval(t, ctx, js) }
	waitJS := func(js, what string) {
		t.Helper()
		eventually(t, what, func() bool {
			v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
			return err == nil && v
		})
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/ops/flip/")); err != nil {
		t.Fatal(err)
	}
	waitJS(`document.readyState === "complete" && document.body.innerText.includes("Long version") && !!window.rollbookLive && window.rollbookLive.readyState === 1`, "the page and its event stream")

	// A save: the tab reloads and comes back to where it was scrolled.
	eval(`(() => { window.scrollTo(0, 900); window.beforeSave = true; return ""; })()`)
	write(t, file, long("Edited version"))
	waitJS(`!window.beforeSave && document.readyState === "complete" && document.body.innerText.includes("Edited version")`, "the reload with the edit")
	waitJS(`Math.abs(window.scrollY - 900) < 5`, "the scroll position to come back (at "+eval(`String(window.scrollY)`)+")")

	// A stylesheet: swapped in place, no reload.
	waitJS(`!!window.rollbookLive && window.rollbookLive.readyState === 1`, "the event stream after the reload")
	eval(`(() => { window.beforeCSS = true; return ""; })()`)
	write(t, cssFile, string(css)+"\nbody { border-top: 7px solid rgb(1, 2, 3); }\n")
	waitJS(`getComputedStyle(document.body).borderTopWidth === "7px"`, "the new stylesheet")
	if eval(`window.beforeCSS ? "kept" : "reloaded"`) != "kept" {
		t.Error("a stylesheet change reloaded the page")
	}

	// A warning: a banner, which the × dismisses.
	write(t, file, strings.Replace(long("Unreviewed version"), "reviewed: 2026-11-20\n", "", 1))
	waitJS(`document.body.innerText.includes("Unreviewed version") && !!document.getElementById("rollbook-warnings")`, "the warnings banner")
	if b := eval(`document.getElementById("rollbook-warnings").innerText`); !strings.Contains(b, "content/ops/flip.md") || !strings.Contains(b, "no review date") {
		t.Errorf("warnings banner: %q", b)
	}
	eval(`(() => { document.querySelector('#rollbook-warnings button').click(); return ""; })()`)
	waitJS(`!document.getElementById("rollbook-warnings")`, "the banner to be dismissed")
}

// TestCloseEndsEventStreams: Close ends an open tab's event stream (an
// http.Server's Shutdown would otherwise wait for it), a tab connecting
// afterwards gets its greeting and an ended stream, and pages are still
// served.
func TestCloseEndsEventStreams(t *testing.T) {
	s, hs, _ := start(t, fixture(t))
	resp, err := http.Get(hs.URL + "/_rollbook/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := resp.Body.Read(make([]byte, 1)); err != nil {
		t.Fatalf("event stream before Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { _, err := io.ReadAll(resp.Body); ended <- err }()
	select {
	case err := <-ended:
		if err != nil {
			t.Errorf("event stream ended with %v, want a clean end", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the event stream is still open 10 s after Close")
	}
	// The client's timeout fails the read if the stream stays open.
	after, err := (&http.Client{Timeout: 10 * time.Second}).Get(hs.URL + "/_rollbook/events")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(after.Body)
	after.Body.Close()
	if err != nil || !strings.Contains(string(body), "event: hello") {
		t.Errorf("a tab connecting after Close read %q, %v", body, err)
	}
	if code, _ := get(t, hs.URL+"/ops/flip/"); code != http.StatusOK {
		t.Errorf("a page after Close: status %d", code)
	}
}
