package site_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rollbook/rollbook/internal/bench"
	"github.com/rollbook/rollbook/internal/browsertest"
	"github.com/rollbook/rollbook/internal/devserver"
	"github.com/rollbook/rollbook/site"
)

// TestSearchInBrowser types into the search box of a served build of the
// example content in headless Chromium.
func TestSearchInBrowser(t *testing.T) {
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
		return browsertest.WaitFor(t, ctx, js, what, `document.getElementById("search-status").textContent`)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/edge/haproxy-2-8-upgrade/")); err != nil {
		t.Fatal(err)
	}
	waitFor(`document.readyState === "complete" ? "y" : ""`, "the page")

	// "/" focuses the box from anywhere on the page.
	if err := chromedp.Do(ctx, chromedp.KeyEvent("/")); err != nil {
		t.Fatal(err)
	}
	if got := eval(`document.activeElement.id`); got != "search-input" {
		t.Fatalf("/ focused %q", got)
	}

	// Type a query: the expected plan comes first, with the word marked.
	if err := chromedp.Do(ctx, chromedp.KeyEvent("ledger")); err != nil {
		t.Fatal(err)
	}
	// Results follow every keystroke ("l", "le", …), so wait for the list
	// drawn for the whole word before judging it. (chromedp sends "/" as a
	// separate char event that the box receives once focused, unlike a
	// real keyboard, hence the suffix.)
	waitFor(`(() => { const v = document.getElementById("search-input").value; return v.endsWith("ledger") && document.getElementById("search-results").dataset.query === v ? "y" : ""; })()`, "the results for ledger")
	if first := eval(`(document.querySelector("#search-results li .r-title")||{}).textContent||""`); !strings.Contains(first, "Payments API 2.4 canary") {
		t.Errorf("first result for ledger: %q", first)
	}
	if eval(`document.querySelector("#search-results mark") ? "y" : ""`) == "" {
		t.Error("matched words are not marked")
	}
	if eval(`document.getElementById("search-input").getAttribute("aria-expanded")`) != "true" {
		t.Error("combobox not expanded")
	}

	// Identifier parts: "kill" finds the search kill switch, "legacy_status" the checkout plan.
	setQuery := func(q string) {
		eval(`(() => { const i = document.getElementById("search-input"); i.value = ` + quote(q) + `; i.dispatchEvent(new Event("input")); return ""; })()`)
	}
	setQuery("legacy_status")
	waitFor(`(document.querySelector("#search-results li .r-title")||{textContent:""}).textContent.includes("Checkout") ? "y" : ""`, "the checkout plan for legacy_status")

	// A typo of one letter still finds it.
	setQuery("hapraxy")
	waitFor(`(document.querySelector("#search-results li .r-title")||{textContent:""}).textContent.includes("HAProxy") ? "y" : ""`, "HAProxy despite the typo")

	// Facets: an empty query lists everything; a facet narrows it and the counts change.
	setQuery("")
	setQuery(" ")
	before := waitFor(`(document.getElementById("search-status").textContent.match(/^(\d+) plans/)||[])[1]||""`, "the count")
	waitFor(`(() => { const b = [...document.querySelectorAll("#search-facets button")].find(b => b.dataset.facet === "risk" && b.dataset.value === "high"); if (!b) return ""; b.click(); return "y"; })()`, "the risk: high facet")
	after := waitFor(`(() => { const m = document.getElementById("search-status").textContent.match(/^(\d+) plan/); return m && m[1] !== `+quote(before)+` ? m[1] : ""; })()`, "the facet to narrow the results")
	if after >= before && len(after) >= len(before) {
		t.Errorf("risk:high facet did not narrow %s → %s", before, after)
	}
	if eval(`document.querySelector('#search-facets button[aria-pressed="true"]') ? "y" : ""`) == "" {
		t.Error("the chosen facet is not shown pressed")
	}
	waitFor(`(() => { const b = document.querySelector('#search-facets button[aria-pressed="true"]'); if (!b) return ""; b.click(); return "y"; })()`, "unpressing the facet")

	// No results says so.
	setQuery("zzqqxx")
	waitFor(`document.getElementById("search-status").textContent.includes("No plans match") ? "y" : ""`, "the no-results message")

	// Partial matches: when no plan has every word, the plans with most
	// of them are shown, each marked with the word it lacks; with a plan
	// having every word, only exact matches are shown.
	setQuery("ledger canary expand zzqqxx ")
	waitFor(`document.getElementById("search-status").textContent.includes("No plan has every word") ? "y" : ""`, "the partial-match status")
	if first := eval(`(document.querySelector("#search-results li .r-title")||{}).textContent||""`); !strings.Contains(first, "Payments API 2.4 canary") {
		t.Errorf("first partial result for ledger canary expand zzqqxx: %q", first)
	}
	if n := eval(`String(document.querySelectorAll("#search-results li").length === document.querySelectorAll("#search-results li.partial[data-partial=true]").length)`); n != "true" {
		t.Error("partial results are not all marked partial")
	}
	if m := eval(`(document.querySelector("#search-results li .r-missing")||{}).textContent||""`); !strings.Contains(m, "zzqqxx") || strings.Contains(m, "ledger") {
		t.Errorf("partial result names the wrong missing words: %q", m)
	}
	if st := eval(`document.getElementById("search-status").textContent`); !strings.Contains(st, "3 of 4") {
		t.Errorf("partial status %q does not say 3 of 4 words", st)
	}
	setQuery("ledger canary ")
	waitFor(`(() => { const s = document.getElementById("search-status").textContent; return /^\d+ plans?/.test(s) ? "y" : ""; })()`, "exact results for ledger canary")
	if eval(`document.querySelector("#search-results li.partial") ? "y" : ""`) != "" {
		t.Error("a query some plan fully matches shows partial matches")
	}
	setQuery("zzqqxx yyqqxx ")
	waitFor(`document.getElementById("search-status").textContent.includes("No plans match") ? "y" : ""`, "no results when no word matches")

	// Keyboard: arrows move, Enter opens the page at the matching heading.
	setQuery("contingency")
	waitFor(`document.querySelectorAll("#search-results li").length > 0 ? "y" : ""`, "results for contingency")
	// The section the word is in is named, with the word marked.
	if m := eval(`(document.querySelector("#search-results li .r-meta mark")||{}).textContent||""`); !strings.EqualFold(m, "contingency") {
		t.Errorf("the matching section is not named with the word marked: %q", eval(`document.querySelector("#search-results li .r-meta").textContent`))
	}
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\ue015"), chromedp.KeyEvent("\ue013")); err != nil { // down, up
		t.Fatal(err)
	}
	want := eval(`document.querySelector('#search-results li[aria-selected="true"] a').href`)
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	waitFor(`location.href === `+quote(want)+` ? "y" : ""`, "Enter to open "+want)
	if !strings.Contains(want, "#contingency-plans") {
		t.Errorf("result does not link to the matching heading: %s", want)
	}

	// The copy button of a console block copies the commands a responder
	// runs: no "$ " prompts, no output lines.
	waitFor(`document.readyState === "complete" ? "y" : ""`, "the plan page")
	eval(`(() => { Object.defineProperty(navigator, "clipboard", {value: {writeText: (t) => { window.copied = t; return Promise.resolve(); }}}); return ""; })()`)
	eval(`(() => { const c = [...document.querySelectorAll("code.language-console")].find(c => c.textContent.includes("rollouts abort payments-api")); c.closest(".code").querySelector("[data-copy]").click(); return ""; })()`)
	copied := waitFor(`window.copied || ""`, "the copied commands")
	if want := "kubectl -n payments argo rollouts abort payments-api\nkubectl -n payments argo rollouts get rollout payments-api\n"; copied != want {
		t.Errorf("copied console block %q, want %q", copied, want)
	}
	if eval(`document.querySelector("code.language-console .gp") && document.querySelector("code.language-sql .k") ? "y" : ""`) == "" {
		t.Error("console and sql blocks are not highlighted")
	}

	// A missing shard shows a readable message, not a broken box.
	os.Remove(filepath.Join(out, "public", "_search", "t", "ha.json"))
	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/")); err != nil {
		t.Fatal(err)
	}
	waitFor(`document.readyState === "complete" ? "y" : ""`, "the home page")
	setQuery("haproxy")
	waitFor(`document.getElementById("search-status").textContent.includes("Search is unavailable") ? "y" : ""`, "a readable error for a missing shard")

	// So does a malformed one: not JSON, or JSON of the wrong shape.
	for _, c := range []struct{ file, body, q string }{
		{"le.json", "{not json", "ledger"},
		{"ca.json", `{"t": [1, 2, 3], "r": {}}`, "canary"},
	} {
		if err := os.WriteFile(filepath.Join(out, "public", "_search", "t", c.file), []byte(c.body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/")); err != nil {
			t.Fatal(err)
		}
		waitFor(`document.readyState === "complete" ? "y" : ""`, "the home page")
		setQuery(c.q)
		msg := waitFor(`(() => { const s = document.getElementById("search-status").textContent; return s.includes("Search is unavailable") ? s : ""; })()`, "a readable error for a malformed shard "+c.file)
		if c.q == "canary" && !strings.Contains(msg, "malformed") {
			t.Errorf("malformed shard message: %q", msg)
		}
	}

	// Broken facet data: the results still show, the filters say why not.
	if err := os.WriteFile(filepath.Join(out, "public", "_search", "f.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/")); err != nil {
		t.Fatal(err)
	}
	waitFor(`document.readyState === "complete" ? "y" : ""`, "the home page")
	setQuery("postgres")
	waitFor(`document.getElementById("search-facets").textContent.includes("Filters are unavailable") ? "y" : ""`, "a readable error for broken facet data")
	waitFor(`document.querySelectorAll("#search-results li").length > 0 ? "y" : ""`, "results while the facet data is broken")
}

func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// gzipHandler compresses responses, as any static host does.
func gzipHandler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		zw := gzip.NewWriter(w)
		_, _ = zw.Write(rec.Body.Bytes())
		_ = zw.Close()
	})
}

// BenchmarkSearchInBrowser measures, in headless Chromium on a synthetic
// site (BENCH_PLANS, default 10 000), what the first query transfers and
// the time from a keystroke to results shown, p50 and p95.
func BenchmarkSearchInBrowser(b *testing.B) {
	path := browsertest.Chromium(b)
	root := b.TempDir()
	if err := bench.Generate(root, bench.Plans(10000), 1); err != nil {
		b.Fatal(err)
	}
	if _, err := site.Build(context.Background(), site.Options{Root: root, Force: true}); err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(gzipHandler(devserver.FileHandler(filepath.Join(root, "public"))))
	defer hs.Close()
	ctx, cancel := browsertest.Start(path, 5*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/")); err != nil {
		b.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	// The page's own resources are loaded; count what the first query adds,
	// and everything search fetched before it (search.js, the manifest).
	first, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(async () => {
		const before = new Set(performance.getEntriesByType("resource").filter(e => !e.name.includes("search.js") && !e.name.includes("/_search/")).map(e => e.name));
		const i = document.getElementById("search-input");
		i.focus(); i.value = "payments-api"; i.dispatchEvent(new Event("input"));
		for (let k = 0; k < 200 && !document.querySelector("#search-results li"); k++) await new Promise(r => setTimeout(r, 10));
		await new Promise(r => setTimeout(r, 200));
		return performance.getEntriesByType("resource").filter(e => !before.has(e.name)).reduce((s, e) => s + (e.transferSize || e.encodedBodySize), 0);
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.Fatal(err)
	}
	queries := []string{"canary", "rollback", "payments", "etcd", "checkout", "latency", "migration", "pod", "kafka", "search", "failover", "drain", "ledger", "throttle", "breaker"}
	// Queries of several words, each timed beside the same words with one
	// no plan holds (a partial match); reported apart, as ms-multi-*.
	multi := []string{"payments canary", "payments canary zzqqxx", "etcd latency rollback", "etcd latency rollback qqzzy"}
	query := func(typed string) (float64, string) { return query(b, ctx, typed) }
	// Each round starts from a fresh page, so shards are fetched again.
	var times, full, partial []float64
	for b.Loop() {
		times, full, partial = times[:0], full[:0], partial[:0]
		for round := 0; round < 3; round++ {
			if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/")); err != nil {
				b.Fatal(err)
			}
			for _, q := range queries {
				for _, typed := range []string{q[:3], q} {
					ms, _ := query(typed)
					times = append(times, ms)
					if os.Getenv("BENCH_VERBOSE") != "" {
						fmt.Printf("%-12s %.1f ms\n", typed, ms)
					}
				}
			}
			for i, q := range multi {
				ms, _ := query(q + " ")
				if i%2 == 0 {
					full = append(full, ms)
				} else {
					partial = append(partial, ms)
				}
				if os.Getenv("BENCH_VERBOSE") != "" {
					fmt.Printf("%-28s %.1f ms\n", q, ms)
				}
			}
		}
	}
	sort.Float64s(times)
	b.ReportMetric(first/1024, "KB-first-query")
	b.ReportMetric(times[len(times)/2], "ms-p50")
	b.ReportMetric(times[len(times)*95/100], "ms-p95")
	sort.Float64s(full)
	sort.Float64s(partial)
	b.ReportMetric(full[len(full)/2], "ms-multi-full-p50")
	b.ReportMetric(partial[len(partial)/2], "ms-multi-partial-p50")
	b.ReportMetric(partial[len(partial)-1], "ms-multi-partial-max")

	// Recall: each sampled plan's exact title, typed into the box, must
	// bring that plan first (BENCH_RECALL plans, default 500, spread over
	// the site).
	sample := 500
	if v := os.Getenv("BENCH_RECALL"); v != "" {
		fmt.Sscan(v, &sample)
	}
	hits, misses := titleRecall(b, ctx, filepath.Join(root, "public"), sample)
	for _, m := range misses[:min(5, len(misses))] {
		b.Log(m)
	}
	b.ReportMetric(100*float64(hits)/float64(hits+len(misses)), "%-title-first")
}

// query types text into the search box at once and returns the time to
// results and the first result's link (or the status when there is none).
func query(tb testing.TB, ctx context.Context, typed string) (ms float64, first string) {
	v, err := chromedp.Run(ctx, chromedp.Evaluate[[]any](`(async () => {
		const i = document.getElementById("search-input");
		const status = document.getElementById("search-status");
		status.textContent = "";
		const t0 = performance.now();
		i.value = `+quote(typed)+`; i.dispatchEvent(new Event("input"));
		while (!status.textContent) await new Promise(r => setTimeout(r, 0));
		const a = document.querySelector("#search-results li a");
		return [performance.now() - t0, a ? a.getAttribute("href") : status.textContent];
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.Fatal(err)
	}
	return v[0].(float64), v[1].(string)
}

// titleRecall types the exact titles of sample plans spread over the
// built site and counts those that come first.
func titleRecall(tb testing.TB, ctx context.Context, public string, sample int) (hits int, misses []string) {
	plans := sitePlans(tb, public)
	tried := 0
	for i := 0; i < len(plans) && tried < sample; i += max(1, len(plans)/sample) {
		tried++
		if _, href := query(tb, ctx, plans[i].title); strings.HasSuffix(strings.SplitN(href, "#", 2)[0], strings.TrimPrefix(plans[i].url, "/")) {
			hits++
		} else {
			misses = append(misses, fmt.Sprintf("title %q: first result %s, want %s", plans[i].title, href, plans[i].url))
		}
	}
	return hits, misses
}

// TestSearchTitlesInBrowser types plan titles on a synthetic site large
// enough to have split shards, words in every plan (scored zero) and big
// terms with lists of their own: each title finds its plan first.
func TestSearchTitlesInBrowser(t *testing.T) {
	path := browsertest.Chromium(t)
	root := t.TempDir()
	if err := bench.Generate(root, 1500, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := site.Build(context.Background(), site.Options{Root: root, Force: true}); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(devserver.FileHandler(filepath.Join(root, "public")))
	defer hs.Close()
	ctx, cancel := browsertest.Start(path, 2*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/")); err != nil {
		t.Fatal(err)
	}
	// Typing the title then a space: the last word is then a whole word,
	// not a prefix still being typed.
	hits, misses := titleRecall(t, ctx, filepath.Join(root, "public"), 60)
	if len(misses) > 0 {
		t.Errorf("%d of %d titles did not find their plan first:\n%s", len(misses), hits+len(misses), strings.Join(misses, "\n"))
	}

	// A word in every title is a big term: ranked from the postings its
	// shard holds, counted from its full list, which the facets wait for;
	// so too while it is still being typed, with its completions.
	for _, typed := range []string{"change ", "change"} {
		if _, first := query(t, ctx, typed); !strings.Contains(first, "/plan-") {
			t.Fatalf("no result for %q, a word in every plan: %s", typed, first)
		}
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
			let v = "";
			for (let k = 0; k < 200; k++) {
				const kinds = [...document.querySelectorAll('#search-facets button[data-facet="kind"]')].map(b => +b.textContent.match(/\((\d+)\)$/)[1]);
				v = document.getElementById("search-status").textContent + " | " + kinds.reduce((a, b) => a + b, 0);
				if (v.startsWith("1500 plans") && v.endsWith("| 1500")) break;
				await new Promise(r => setTimeout(r, 10));
			}
			return v;
		})()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(v, "1500 plans") || !strings.HasSuffix(v, "| 1500") {
			t.Errorf("%q, a word in all 1500 plans: status and kind facet total %q, want 1500 plans and 1500", typed, v)
		}
	}

	// A malformed full list: the results ranked from the shard still
	// show, and the filters that need the list say why they are missing.
	if err := os.WriteFile(filepath.Join(root, "public", "_search", "l", "change.json"), []byte(`{"d": [1, 2], "s": [3]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/")); err != nil {
		t.Fatal(err)
	}
	if _, first := query(t, ctx, "change "); !strings.Contains(first, "/plan-") {
		t.Fatalf("no result for a word in every plan with its full list broken: %s", first)
	}
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
		const f = document.getElementById("search-facets");
		for (let k = 0; k < 200 && !f.textContent.includes("unavailable"); k++) await new Promise(r => setTimeout(r, 10));
		return f.textContent;
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(v, "Filters are unavailable") || !strings.Contains(v, "index entry change is malformed") {
		t.Errorf("filters with a malformed full list show %q", v)
	}
}

type indexedPlan struct{ url, title string }

// sitePlans reads every indexed page's URL and title from the built
// index's document chunks.
func sitePlans(b testing.TB, public string) []indexedPlan {
	var out []indexedPlan
	for c := 0; ; c++ {
		data, err := os.ReadFile(filepath.Join(public, "_search", "d", fmt.Sprintf("%d.json", c)))
		if err != nil {
			break
		}
		var rows [][]any
		if err := json.Unmarshal(data, &rows); err != nil {
			b.Fatal(err)
		}
		for _, r := range rows {
			out = append(out, indexedPlan{url: r[0].(string), title: r[1].(string)})
		}
	}
	if len(out) == 0 {
		b.Fatal("no documents in the index")
	}
	return out
}
