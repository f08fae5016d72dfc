package linkcheck

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/buildcache"
)

// testServer serves what the web answers a link checker: pages, 301
// chains, 404 and 410, a slow page, rate limiting with Retry-After, a
// 500 that stays and one that passes. It counts requests per path and
// the most it had in flight at once.
type testServer struct {
	*httptest.Server
	mu       sync.Mutex
	hits     map[string]int
	inFlight atomic.Int32
	maxIn    atomic.Int32
	// limitedAt is when /limited first answered 429; retriedAt when it
	// was asked again.
	limitedAt, retriedAt time.Time
}

func newTestServer(t *testing.T) *testServer {
	ts := &testServer{hits: map[string]int{}}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := ts.inFlight.Add(1)
		defer ts.inFlight.Add(-1)
		for {
			m := ts.maxIn.Load()
			if n <= m || ts.maxIn.CompareAndSwap(m, n) {
				break
			}
		}
		ts.mu.Lock()
		ts.hits[r.URL.Path]++
		hit := ts.hits[r.URL.Path]
		ts.mu.Unlock()
		switch p := r.URL.Path; {
		case strings.HasPrefix(p, "/page/"):
			time.Sleep(20 * time.Millisecond) // long enough for requests to overlap
			w.Write([]byte("ok"))
		case p == "/moved":
			http.Redirect(w, r, "/moved-again", http.StatusMovedPermanently)
		case p == "/moved-again":
			http.Redirect(w, r, "/page/final", http.StatusMovedPermanently)
		case p == "/loop":
			http.Redirect(w, r, "/loop", http.StatusMovedPermanently)
		case p == "/gone":
			w.WriteHeader(http.StatusGone)
		case p == "/slow":
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
		case p == "/limited":
			ts.mu.Lock()
			defer ts.mu.Unlock()
			if hit == 1 {
				ts.limitedAt = time.Now()
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			ts.retriedAt = time.Now()
			w.Write([]byte("ok"))
		case p == "/limited-long":
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
		case p == "/flaky":
			if hit == 1 {
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			w.Write([]byte("ok"))
		case p == "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
		case p == "/private":
			w.WriteHeader(http.StatusUnauthorized)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *testServer) hitsOf(p string) int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.hits[p]
}

func TestCheck(t *testing.T) {
	ts := newTestServer(t)
	opts := Options{Timeout: 300 * time.Millisecond, Backoff: 50 * time.Millisecond, PerHost: 2}
	cases := []struct {
		path  string
		state State
		code  int
		final string
		hits  int // requests the server saw
		prob  string
	}{
		{"/page/a#section", OK, 200, "", 1, ""},
		{"/moved", OK, 200, "/page/final", 1, ""},
		{"/loop", Unreachable, 0, "", 20, "stopped after 10 redirects"},
		{"/missing", Dead, 404, "", 1, "answers 404 Not Found"},
		{"/gone", Dead, 410, "", 1, "answers 410 Gone"},
		{"/slow", Unreachable, 0, "", 2, "no answer within 300ms"},
		{"/limited", OK, 200, "", 2, ""},
		{"/limited-long", Unreachable, 429, "", 1, "answers 429 Too Many Requests (Retry-After 1h0m0s is longer than the 30s the check waits)"},
		{"/flaky", OK, 200, "", 2, ""},
		{"/down", Unreachable, 503, "", 2, "answers 503 Service Unavailable"},
		{"/private", OK, 401, "", 1, ""},
	}
	var urls []string
	for _, tc := range cases {
		urls = append(urls, ts.URL+tc.path)
	}
	urls = append(urls, ts.URL+"/page/a#other") // the same page: asked once
	res := Check(context.Background(), urls, opts)
	if len(res) != len(cases) {
		t.Errorf("%d results for %d URLs", len(res), len(cases))
	}
	for _, tc := range cases {
		u := Strip(ts.URL + tc.path)
		r := res[u]
		final := ""
		if r.Final != "" {
			final = strings.TrimPrefix(r.Final, ts.URL)
		}
		if r.State != tc.state || r.Code != tc.code || final != tc.final || !strings.Contains(r.Problem, tc.prob) || (tc.prob == "") != (r.Problem == "") {
			t.Errorf("%s: %v %d final %q problem %q, want %v %d final %q problem %q", tc.path, r.State, r.Code, final, r.Problem, tc.state, tc.code, tc.final, tc.prob)
		}
		p := tc.path
		if i := strings.IndexByte(p, '#'); i >= 0 {
			p = p[:i]
		}
		if got := ts.hitsOf(p); got != tc.hits {
			t.Errorf("%s: %d requests, want %d", tc.path, got, tc.hits)
		}
	}
	if m := ts.maxIn.Load(); m > 2 {
		t.Errorf("the host had %d requests in flight at once, PerHost is 2", m)
	}
	// The retry waited for Retry-After: 1.
	if d := ts.retriedAt.Sub(ts.limitedAt); d < 900*time.Millisecond {
		t.Errorf("asked again %s after a 429 with Retry-After: 1", d)
	}
}

// TestPerHost: many links to one host are asked PerHost at a time, while
// another host is asked beside them.
func TestPerHost(t *testing.T) {
	a, b := newTestServer(t), newTestServer(t)
	var urls []string
	for i := range 20 {
		urls = append(urls, a.URL+"/page/"+string(rune('a'+i)), b.URL+"/page/"+string(rune('a'+i)))
	}
	res := Check(context.Background(), urls, Options{PerHost: 3, Workers: 6})
	for u, r := range res {
		if r.State != OK {
			t.Errorf("%s: %v %s", u, r.State, r.Problem)
		}
	}
	for _, s := range []*testServer{a, b} {
		if m := s.maxIn.Load(); m > 3 || m < 2 {
			t.Errorf("a host had at most %d requests in flight; want 2 or 3 of PerHost 3", m)
		}
	}
}

func TestCacheAndMaxAge(t *testing.T) {
	ts := newTestServer(t)
	dir := t.TempDir()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	run := func(maxAge time.Duration) map[string]Result {
		c := buildcache.Open(buildcache.Options{Dir: dir, Version: CacheVersion})
		defer c.Close()
		return Check(context.Background(), []string{ts.URL + "/page/a", ts.URL + "/gone", ts.URL + "/down"},
			Options{Cache: BuildCache{C: c}, MaxAge: maxAge, Now: func() time.Time { return now }, Retries: -1})
	}
	first := run(24 * time.Hour)
	if first[ts.URL+"/page/a"].Cached || first[ts.URL+"/gone"].State != Dead {
		t.Fatalf("first run: %+v", first)
	}
	now = now.Add(23 * time.Hour)
	second := run(24 * time.Hour)
	if !second[ts.URL+"/page/a"].Cached || second[ts.URL+"/gone"].State != Dead || !second[ts.URL+"/gone"].Cached {
		t.Errorf("within max age: %+v", second)
	}
	if !second[ts.URL+"/page/a"].Checked.Equal(now.Add(-23 * time.Hour)) {
		t.Errorf("a cached result keeps when it was checked: %v", second[ts.URL+"/page/a"].Checked)
	}
	// Unreachable is not kept: asked on every run.
	if second[ts.URL+"/down"].Cached || ts.hitsOf("/down") != 2 {
		t.Errorf("/down: cached %v, %d requests", second[ts.URL+"/down"].Cached, ts.hitsOf("/down"))
	}
	if ts.hitsOf("/page/a") != 1 || ts.hitsOf("/gone") != 1 {
		t.Errorf("requests within max age: /page/a %d, /gone %d", ts.hitsOf("/page/a"), ts.hitsOf("/gone"))
	}
	now = now.Add(2 * time.Hour)
	third := run(24 * time.Hour)
	if third[ts.URL+"/page/a"].Cached || ts.hitsOf("/page/a") != 2 {
		t.Errorf("past max age: cached %v, %d requests", third[ts.URL+"/page/a"].Cached, ts.hitsOf("/page/a"))
	}
	// max age 0 asks again whatever the cache holds.
	run(0)
	if ts.hitsOf("/page/a") != 3 {
		t.Errorf("max age 0: %d requests", ts.hitsOf("/page/a"))
	}
}

func TestSkip(t *testing.T) {
	ts := newTestServer(t)
	skip := Skip{"127.0.0.1", "https://wiki.example.com/private/*", "*.internal"}
	for _, tc := range []struct {
		url  string
		skip bool
	}{
		{ts.URL + "/missing", true},
		{"https://wiki.example.com/private/a/b", true},
		{"https://wiki.example.com/public/a", false},
		{"https://grafana.internal/d/x", true},
		{"https://GRAFANA.INTERNAL:3000/d/x", true},
		{"https://internal.example.com/", false},
	} {
		if got := skip.Match(tc.url); got != tc.skip {
			t.Errorf("Match(%s) = %v", tc.url, got)
		}
	}
	res := Check(context.Background(), []string{ts.URL + "/missing"}, Options{Skip: skip})
	if r := res[ts.URL+"/missing"]; r.State != Skipped || ts.hitsOf("/missing") != 0 {
		t.Errorf("skipped URL: %v, %d requests", r.State, ts.hitsOf("/missing"))
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"5", 5 * time.Second}, {"-1", 0}, {"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	} {
		if got := retryAfter(tc.v, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %s, want %s", tc.v, got, tc.want)
		}
	}
}
