package site

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rollbook/rollbook/internal/browsertest"
)

// shotPages are the adoption fixture's pages of GitHub's and GitLab's
// shapes: details, callouts, emoji and a diagram, a wide table.
var shotPages = []string{"/kubernetes/kubepodcrashlooping/", "/kubernetes/etcdmembersdown/", "/gitlab/ci-runners/", "/gitlab/patroni/mapping_statements/"}

// TestAdoptedPagesInBrowser reads the adoption fixture in headless
// Chromium as its authors saw it on GitHub and GitLab: a details element
// opens on click, the wide table scrolls to its last column without a
// word broken inside a cell, and no page of the fixture or of the example
// site is wider than the window at 375 and 1400 px. It writes screenshots
// of the fixture's pages to $ROLLBOOK_SHOTS (a temporary folder without).
func TestAdoptedPagesInBrowser(t *testing.T) {
	path := browsertest.Chromium(t)
	adopt := adoptSite(t, "rules:\n  broken-link: warning\n  required-section: off\n  index-page: off\n")
	if _, err := build(t, adopt, nil); err != nil {
		t.Fatal(err)
	}
	example := t.TempDir()
	if _, err := Build(context.Background(), Options{Root: "..", OutDir: filepath.Join(example, "public"), Force: true}); err != nil {
		t.Fatal(err)
	}
	shots := os.Getenv("ROLLBOOK_SHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	sites := map[string]*httptest.Server{}
	for name, root := range map[string]string{"adopt": adopt, "example": example} {
		hs := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(root, "public"))))
		defer hs.Close()
		sites[name] = hs
	}
	ctx, cancel := browsertest.Start(path, 4*time.Minute)
	defer cancel()
	eval := func(js string) string { t.Helper(); return browsertest.Eval(t, ctx, js) }
	open := func(url string, width int) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), 900), chromedp.Navigate(url)); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		browsertest.WaitFor(t, ctx, `document.readyState === "complete" ? "y" : ""`, url)
	}

	t.Run("details opens on click", func(t *testing.T) {
		open(sites["adopt"].URL+"/kubernetes/kubepodcrashlooping/", 1400)
		const d = `document.querySelector(".content details:not(.callout)")`
		if got := eval(`(() => { const d = ` + d + `; return d ? String(d.open) + " " + d.querySelector("img").checkVisibility() : "none"; })()`); got != "false false" {
			t.Fatalf("before a click the details is %q, want closed with its image hidden", got)
		}
		if err := chromedp.Do(ctx, chromedp.Click(".content details:not(.callout) > summary")); err != nil {
			t.Fatal(err)
		}
		browsertest.WaitFor(t, ctx, `(() => { const d = `+d+`; return d.open && d.querySelector("img").checkVisibility() && d.querySelector("img").naturalWidth > 0 ? "y" : ""; })()`,
			"the details open, its image loaded and shown")
		open(sites["adopt"].URL+"/kubernetes/etcdmembersdown/", 1400)
		if err := chromedp.Do(ctx, chromedp.Click("details.callout-warning > summary")); err != nil {
			t.Fatal(err)
		}
		browsertest.WaitFor(t, ctx, `document.querySelector("details.callout-warning").open ? "y" : ""`, "the collapsed admonition open")
	})

	t.Run("wide table scrolls to its last column", func(t *testing.T) {
		for _, width := range []int{375, 1400} {
			open(sites["adopt"].URL+"/gitlab/patroni/mapping_statements/", width)
			got := eval(`(() => {
				const s = document.querySelector(".table-scroll");
				if (s.scrollWidth <= s.clientWidth) return "does not scroll: " + s.scrollWidth + " <= " + s.clientWidth;
				if (s.tabIndex !== 0) return "the keyboard cannot reach it";
				s.scrollLeft = s.scrollWidth;
				const last = s.querySelector("thead th:last-child").getBoundingClientRect(), box = s.getBoundingClientRect();
				// Reached: scrolled to the end, the last column ends inside the box (it may be wider than a phone).
				if (last.right > box.right + 1 || last.right < box.left + Math.min(last.width, box.width) - 1) return "last column at " + last.left + "-" + last.right + ", the box at " + box.left + "-" + box.right;
				for (const cell of s.querySelectorAll("th, td")) {
					const walk = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
					for (let n = walk.nextNode(); n; n = walk.nextNode()) {
						const re = /\S+/g;
						for (let m = re.exec(n.data); m; m = re.exec(n.data)) {
							const r = document.createRange();
							r.setStart(n, m.index); r.setEnd(n, m.index + m[0].length);
							if (r.getClientRects().length > 1) return "a word broken across lines: " + m[0];
						}
					}
				}
				return "ok";
			})()`)
			if got != "ok" {
				t.Errorf("at %d px: %s", width, got)
			}
		}
	})

	t.Run("no page overflows", func(t *testing.T) {
		for name, root := range map[string]string{"adopt": adopt, "example": example} {
			var pages []string
			pub := filepath.Join(root, "public")
			_ = filepath.WalkDir(pub, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || !strings.HasSuffix(p, ".html") {
					return err
				}
				data, err := os.ReadFile(p)
				if err != nil || strings.Contains(string(data), `http-equiv="refresh"`) {
					return err // a redirect shows nothing
				}
				rel, _ := filepath.Rel(pub, p)
				pages = append(pages, "/"+filepath.ToSlash(rel))
				return nil
			})
			if len(pages) < 10 {
				t.Fatalf("%s: only %d pages", name, len(pages))
			}
			for _, width := range []int{375, 1400} {
				for _, p := range pages {
					open(sites[name].URL+p, width)
					if got := eval(overflowJS); got != "" {
						t.Errorf("%s %s at %d px is wider than the window: %s", name, p, width, got)
					}
				}
			}
		}
	})

	for _, p := range shotPages {
		for _, width := range []int{375, 1400} {
			open(sites["adopt"].URL+p, width)
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("%s-%d.png", strings.ReplaceAll(strings.Trim(p, "/"), "/", "_"), width)
			if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// overflowJS names the first elements that reach past the window when
// the page is wider than it, or gives "".
const overflowJS = `(() => {
	const w = document.documentElement.clientWidth;
	if (document.documentElement.scrollWidth <= w) return "";
	const out = [];
	for (const el of document.body.querySelectorAll("*")) {
		const r = el.getBoundingClientRect();
		if (r.right > w + 1) out.push(el.tagName.toLowerCase() + (typeof el.className === "string" && el.className ? "." + el.className.split(" ").join(".") : "") + " to " + Math.round(r.right));
		if (out.length >= 5) break;
	}
	return "scrollWidth " + document.documentElement.scrollWidth + " > " + w + ": " + out.join(", ");
})()`
