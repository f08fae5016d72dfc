package site

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestExternalLinks: check --external reports a 404 as an error and a 5xx
// as a warning at the link's line and column, in Markdown, front matter
// and a runbook_url; skips what rollbook.yaml lists; and a second check
// within max age asks the server nothing.
func TestExternalLinks(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		switch r.URL.Path {
		case "/ok":
		case "/old":
			http.Redirect(w, r, "/ok", http.StatusMovedPermanently)
		case "/down":
			w.WriteHeader(http.StatusBadGateway)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	u := srv.URL
	root := writeTree(t, map[string]string{
		"rollbook.yaml": fmt.Sprintf("alert_rules: [rules.yaml]\nexternal_links: {skip: [%q], timeout: 2s}\n", u+"/private/*"),
		"rules.yaml":    "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    annotations: {runbook_url: '" + u + "/wiki/a'}\n",
		"content/a.md": "---\ntitle: A\ndashboards: [" + u + "/dash#panel=2]\n---\n" +
			"[ok](" + u + "/ok#x) [old](" + u + "/old) [gone](" + u + "/nope)\n\n[down](" + u + "/down) [private](" + u + "/private/x)\n",
	})
	cache := t.TempDir()
	check := func(ext *External) []string {
		t.Helper()
		ds, err := Check(context.Background(), Options{Root: root, Now: testNow, CacheDir: cache, External: ext})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range ds {
			if strings.HasPrefix(f.Rule, "external-") {
				out = append(out, strings.ReplaceAll(fmt.Sprintf("%s:%d:%d %s %s: %s", f.File, f.Line, f.Col, f.Severity, f.Rule, f.Message), u, "SRV"))
			}
		}
		return out
	}
	if got := check(nil); len(got) != 0 || len(hits) != 0 {
		t.Fatalf("without --external: %v, %d paths requested", got, len(hits))
	}
	want := []string{
		`content/a.md:3:1 error external-link: link "SRV/dash#panel=2" answers 404 Not Found (checked now)`,
		fmt.Sprintf(`content/a.md:5:%d error external-link: link "SRV/nope" answers 404 Not Found (checked now)`, 2*len(u)+len("[ok](/ok#x) [old](/old) [gone](")+1),
		`content/a.md:7:8 warning external-link-unreachable: link "SRV/down": answers 502 Bad Gateway`,
		`rules.yaml:6:32 error external-link: link "SRV/wiki/a" answers 404 Not Found (checked now)`,
	}
	first := check(&External{})
	if strings.Join(first, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(first, "\n"), strings.Join(want, "\n"))
	}
	if hits["/private/x"] != 0 || hits["/ok"] != 2 || hits["/down"] != 2 {
		t.Errorf("requests: %v (skipped /private/x, /ok once itself and once redirected to, /down retried once)", hits)
	}
	// Within max age only the unreachable link is asked again.
	second := check(&External{})
	for p, n := range map[string]int{"/ok": 2, "/old": 1, "/nope": 1, "/dash": 1, "/wiki/a": 1} {
		if hits[p] != n {
			t.Errorf("%s requested %d times after two checks, want %d", p, hits[p], n)
		}
	}
	if hits["/down"] != 4 {
		t.Errorf("/down requested %d times: an unreachable link is not cached", hits["/down"])
	}
	if !strings.Contains(strings.Join(second, "\n"), `"SRV/nope" answers 404 Not Found (checked `) || !strings.Contains(strings.Join(second, "\n"), "cached)") {
		t.Errorf("second check: %v", second)
	}
	// --external-max-age 0 asks again.
	check(&External{MaxAgeSet: true})
	if hits["/nope"] != 2 {
		t.Errorf("max age 0: /nope requested %d times", hits["/nope"])
	}
}
