package drillagent

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func do(t *testing.T, method, url string, body any) (int, http.Header, string) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// upstream answers 200 and counts its calls.
func upstream(t *testing.T, name string, n *atomic.Int64) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("X-Release", name)
		writeJSON(w, 200, map[string]string{"release": name, "path": r.URL.Path})
	}))
	t.Cleanup(s.Close)
	return s
}

func TestRouterSplitsByWeight(t *testing.T) {
	var ns, nc atomic.Int64
	st, ca := upstream(t, "stable", &ns), upstream(t, "canary", &nc)
	rt := httptest.NewServer(NewRouter(st.URL, ca.URL, 5*time.Second))
	defer rt.Close()

	if code, _, body := do(t, "GET", rt.URL+"/admin/weights", nil); code != 200 || !strings.Contains(body, `"canary":0`) {
		t.Fatalf("default weights: %d %s", code, body)
	}
	for i := 0; i < 50; i++ {
		do(t, "GET", rt.URL+"/api/orders", nil)
	}
	if nc.Load() != 0 || ns.Load() != 50 {
		t.Fatalf("at weight 0: stable %d canary %d", ns.Load(), nc.Load())
	}
	for _, bad := range []string{`{"canary": 101}`, `{"canary": -1}`, `{}`, `nope`} {
		req, _ := http.NewRequest("PUT", rt.URL+"/admin/weights", strings.NewReader(bad))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("PUT %s: %d, want 400", bad, resp.StatusCode)
		}
	}
	if code, _, body := do(t, "PUT", rt.URL+"/admin/weights", map[string]int{"canary": 30}); code != 200 || !strings.Contains(body, `"canary":30`) {
		t.Fatalf("set weights: %d %s", code, body)
	}
	ns.Store(0)
	const n = 2000
	for i := 0; i < n; i++ {
		do(t, "GET", rt.URL+"/api/orders", nil)
	}
	// 30% of 2000: mean 600, sd about 20.
	if c := nc.Load(); c < 480 || c > 720 || ns.Load()+c != n {
		t.Errorf("at weight 30: canary %d stable %d of %d", c, ns.Load(), n)
	}
	do(t, "PUT", rt.URL+"/admin/weights", map[string]int{"canary": 100})
	nc.Store(0)
	ns.Store(0)
	for i := 0; i < 50; i++ {
		do(t, "GET", rt.URL+"/api/orders", nil)
	}
	if nc.Load() != 50 {
		t.Errorf("at weight 100: stable %d canary %d", ns.Load(), nc.Load())
	}
}

func TestRouterMetricsParse(t *testing.T) {
	var ns, nc atomic.Int64
	st := upstream(t, "stable", &ns)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc.Add(1)
		time.Sleep(20 * time.Millisecond)
		writeJSON(w, 500, map[string]string{"error": "boom"})
	}))
	defer failing.Close()
	rt := httptest.NewServer(NewRouter(st.URL, failing.URL, 5*time.Second))
	defer rt.Close()
	do(t, "PUT", rt.URL+"/admin/weights", map[string]int{"canary": 50})
	for i := 0; i < 200; i++ {
		do(t, "GET", rt.URL+"/api/orders", nil)
	}
	code, hdr, body := do(t, "GET", rt.URL+"/metrics", nil)
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %s", code, hdr.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing metrics: %v\n%s", err, body)
	}
	reqs := fams["rollbook_requests_total"]
	if reqs == nil {
		t.Fatalf("no rollbook_requests_total:\n%s", body)
	}
	counts := map[string]float64{}
	for _, m := range reqs.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		counts[labels["release"]+"/"+labels["code"]] += m.GetCounter().GetValue()
	}
	if counts["stable/200"] != float64(ns.Load()) || counts["canary/500"] != float64(nc.Load()) || counts["stable/200"]+counts["canary/500"] != 200 {
		t.Errorf("counts %v, upstreams saw stable %d canary %d", counts, ns.Load(), nc.Load())
	}
	hist := fams["rollbook_request_duration_seconds"]
	if hist == nil {
		t.Fatal("no rollbook_request_duration_seconds")
	}
	for _, m := range hist.Metric {
		h := m.GetHistogram()
		// The parser keeps the +Inf bucket too.
		if len(h.Bucket) != len(Buckets)+1 {
			t.Errorf("%d buckets, want %d and +Inf", len(h.Bucket), len(Buckets))
		}
		rel := m.Label[0].GetValue()
		var under10ms uint64
		for _, b := range h.Bucket {
			if b.GetUpperBound() == 0.01 {
				under10ms = b.GetCumulativeCount()
			}
		}
		if rel == "canary" && (h.GetSampleCount() != uint64(nc.Load()) || under10ms != 0) {
			t.Errorf("canary histogram: count %d, %d under 10ms (each took 20ms)", h.GetSampleCount(), under10ms)
		}
		if rel == "stable" && h.GetSampleCount() != uint64(ns.Load()) {
			t.Errorf("stable histogram count %d, want %d", h.GetSampleCount(), ns.Load())
		}
	}
}

func TestRouterUpstreamFailures(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer hang.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	rt := httptest.NewServer(NewRouter(deadURL, hang.URL, 200*time.Millisecond))
	defer rt.Close()
	if code, _, _ := do(t, "GET", rt.URL+"/x", nil); code != 502 {
		t.Errorf("unreachable stable: %d, want 502", code)
	}
	do(t, "PUT", rt.URL+"/admin/weights", map[string]int{"canary": 100})
	if code, _, _ := do(t, "GET", rt.URL+"/x", nil); code != 504 {
		t.Errorf("hanging canary: %d, want 504", code)
	}
	_, _, body := do(t, "GET", rt.URL+"/metrics", nil)
	for _, want := range []string{`rollbook_requests_total{release="stable",code="502"} 1`, `rollbook_requests_total{release="canary",code="504"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s:\n%s", want, body)
		}
	}
}

func TestFaults(t *testing.T) {
	var n atomic.Int64
	up := upstream(t, "canary", &n)
	f := httptest.NewServer(NewFaults(up.URL))
	defer f.Close()

	if code, _, body := do(t, "GET", f.URL+"/api/orders", nil); code != 200 || !strings.Contains(body, "canary") {
		t.Fatalf("pass-through: %d %s", code, body)
	}
	if code, _, _ := do(t, "PUT", f.URL+"/admin/faults", map[string]any{"error_rate": 1.5}); code != 400 {
		t.Errorf("error_rate 1.5 accepted: %d", code)
	}
	if code, _, _ := do(t, "PUT", f.URL+"/admin/faults", map[string]any{"latency": "soon"}); code != 400 {
		t.Errorf("latency soon accepted: %d", code)
	}
	if code, _, body := do(t, "PUT", f.URL+"/admin/faults", map[string]any{"error_rate": 0.3}); code != 200 || !strings.Contains(body, `"error_rate":0.3`) {
		t.Fatalf("set faults: %d %s", code, body)
	}
	if _, _, body := do(t, "GET", f.URL+"/admin/faults", nil); !strings.Contains(body, `"error_rate":0.3`) {
		t.Errorf("GET faults: %s", body)
	}
	n.Store(0)
	fails := 0
	const total = 2000
	for i := 0; i < total; i++ {
		if code, _, _ := do(t, "GET", f.URL+"/api/orders", nil); code == 500 {
			fails++
		}
	}
	// 30% of 2000: mean 600, sd about 20. Failed requests never reach the canary.
	if fails < 480 || fails > 720 || int(n.Load()) != total-fails {
		t.Errorf("error_rate 0.3: %d of %d failed, upstream saw %d", fails, total, n.Load())
	}
	// Health checks pass through untouched.
	do(t, "PUT", f.URL+"/admin/faults", map[string]any{"error_rate": 1})
	for i := 0; i < 20; i++ {
		if code, _, _ := do(t, "GET", f.URL+"/health/ready", nil); code != 200 {
			t.Fatalf("health through faults at error_rate 1: %d", code)
		}
	}

	do(t, "PUT", f.URL+"/admin/faults", map[string]any{"latency": "150ms"})
	start := time.Now()
	if code, _, _ := do(t, "GET", f.URL+"/api/orders", nil); code != 200 {
		t.Errorf("with latency: %d", code)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("latency 150ms answered in %s", d)
	}

	do(t, "PUT", f.URL+"/admin/faults", map[string]any{"hang": true})
	c := &http.Client{Timeout: 200 * time.Millisecond}
	if resp, err := c.Get(f.URL + "/api/orders"); err == nil {
		resp.Body.Close()
		t.Errorf("hang answered %d", resp.StatusCode)
	}
	if code, _, _ := do(t, "GET", f.URL+"/health/live", nil); code != 200 {
		t.Errorf("health while hanging: %d", code)
	}
	do(t, "PUT", f.URL+"/admin/faults", map[string]any{})
	if code, _, _ := do(t, "GET", f.URL+"/api/orders", nil); code != 200 {
		t.Errorf("after clearing faults: %d", code)
	}
}

func TestPagerRoundTrip(t *testing.T) {
	p := httptest.NewServer(NewPager())
	defer p.Close()
	if code, _, body := do(t, "GET", p.URL+"/pages", nil); code != 200 || strings.TrimSpace(body) != "[]" {
		t.Fatalf("empty pager: %d %q", code, body)
	}
	for i, summary := range []string{"first", "second", "third"} {
		code, _, _ := do(t, "POST", p.URL+"/pages", map[string]any{"summary": summary, "n": i, "labels": map[string]string{"plan": "x"}})
		if code != 201 {
			t.Fatalf("POST page: %d", code)
		}
	}
	req, _ := http.NewRequest("POST", p.URL+"/pages", strings.NewReader(`[1,2]`))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 400 {
		t.Errorf("a JSON array accepted as a page: %v %v", resp, err)
	}
	_, _, body := do(t, "GET", p.URL+"/pages", nil)
	var pages []map[string]any
	if err := json.Unmarshal([]byte(body), &pages); err != nil {
		t.Fatal(err)
	}
	if len(pages) != 3 || pages[0]["summary"] != "first" || pages[2]["summary"] != "third" || pages[1]["labels"].(map[string]any)["plan"] != "x" {
		t.Errorf("pages: %s", body)
	}
}

func TestLoadRate(t *testing.T) {
	var n atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%10 == 0 {
			w.WriteHeader(500)
			return
		}
		w.WriteHeader(200)
	}))
	defer target.Close()
	l := NewLoad(target.URL, 200)
	srv := httptest.NewServer(l)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	time.Sleep(time.Second)
	var st struct {
		Rate  float64           `json:"rate"`
		Total uint64            `json:"total"`
		Codes map[string]uint64 `json:"codes"`
	}
	_, _, body := do(t, "GET", srv.URL+"/stats", nil)
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	// 200/s for a second: anything from a slow start to a little over.
	if st.Total < 80 || st.Total > 320 || st.Codes["200"]+st.Codes["500"] != st.Total || st.Codes["500"] == 0 {
		t.Errorf("after 1s at 200/s: %s", body)
	}
	if code, _, body := do(t, "PUT", srv.URL+"/admin/rate", map[string]float64{"rate": 0}); code != 200 || !strings.Contains(body, `"rate":0`) {
		t.Fatalf("set rate: %d %s", code, body)
	}
	time.Sleep(100 * time.Millisecond)
	before := n.Load()
	time.Sleep(300 * time.Millisecond)
	if after := n.Load(); after-before > 2 {
		t.Errorf("rate 0 still sent %d requests", after-before)
	}
	if code, _, _ := do(t, "PUT", srv.URL+"/admin/rate", map[string]float64{"rate": -1}); code != 400 {
		t.Errorf("negative rate accepted: %d", code)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop after cancel")
	}
}

func TestAppWithoutDatabase(t *testing.T) {
	a := &App{Release: "canary", Log: slog.New(slog.DiscardHandler)}
	s := httptest.NewServer(a.Handler())
	defer s.Close()
	code, hdr, _ := do(t, "GET", s.URL+"/health/ready", nil)
	if code != 503 || hdr.Get("X-Release") != "canary" {
		t.Errorf("ready before the database: %d %q", code, hdr.Get("X-Release"))
	}
	if code, _, _ := do(t, "GET", s.URL+"/health/live", nil); code != 200 {
		t.Errorf("live: %d", code)
	}
	if code, _, body := do(t, "GET", s.URL+"/smoke", nil); code != 503 || !json.Valid([]byte(body)) {
		t.Errorf("smoke before the database: %d %s", code, body)
	}
	if code, _, _ := do(t, "GET", s.URL+"/api/orders", nil); code != 500 && code != 503 {
		t.Errorf("orders before the database: %d", code)
	}
	if code, _, _ := do(t, "POST", s.URL+"/admin/break", map[string]any{"health": true, "error_rate": 0.5}); code != 200 {
		t.Errorf("break: %d", code)
	}
	if _, _, body := do(t, "GET", s.URL+"/admin/state", nil); !strings.Contains(body, `"broken":true`) || !strings.Contains(body, `"error_rate":0.5`) {
		t.Errorf("state: %s", body)
	}
}

func TestSplitSQL(t *testing.T) {
	src := `-- a comment; with a semicolon
CREATE TABLE a (x text DEFAULT 'a;b');
CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;
/* block; comment */ CREATE INDEX CONCURRENTLY i ON a (x);
ALTER TABLE "we;ird" ADD COLUMN y int
-- trailing comment`
	got := SplitSQL(src)
	if len(got) != 4 || !strings.Contains(got[1], "$$ SELECT 1; $$") || !strings.HasPrefix(got[3], "ALTER TABLE \"we;ird\"") {
		t.Errorf("SplitSQL: %q", got)
	}
	if got := SplitSQL("-- only a comment\n"); len(got) != 0 {
		t.Errorf("comment only: %q", got)
	}
}

func TestMainUsage(t *testing.T) {
	if code := Main(context.Background(), nil); code != 2 {
		t.Errorf("no role: %d", code)
	}
	if code := Main(context.Background(), []string{"juggler"}); code != 2 {
		t.Errorf("unknown role: %d", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- Main(ctx, []string{"pager", "--listen", "127.0.0.1:0"}) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("pager exit after shutdown: %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pager did not shut down")
	}
}

// Where Argo Rollouts runs the releases, its traffic-router plugin moves
// the router's (and the fault injector's) upstreams to the ReplicaSets it
// names; the requests that follow go there, the weight unchanged.
func TestUpstreamsMove(t *testing.T) {
	var n1, n2, n3 atomic.Int64
	old, stable2, canary2 := upstream(t, "old", &n1), upstream(t, "stable2", &n2), upstream(t, "canary2", &n3)
	faults := httptest.NewServer(NewFaults(old.URL))
	defer faults.Close()
	rt := httptest.NewServer(NewRouter(old.URL, faults.URL, 5*time.Second))
	defer rt.Close()

	for _, tc := range []struct {
		url, body string
	}{
		{rt.URL, `{"blue": "http://x:1"}`},
		{rt.URL, `{"stable": "ftp://x"}`},
		{rt.URL, `{}`},
		{faults.URL, `{"stable": "http://x:1"}`}, // faults has only the canary
	} {
		req, _ := http.NewRequest("PUT", tc.url+PathUpstreams, strings.NewReader(tc.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("PUT %s: %d, want 400", tc.body, resp.StatusCode)
		}
	}
	if code, _, body := do(t, "PUT", rt.URL+PathUpstreams, map[string]string{"stable": stable2.URL + "/"}); code != 200 || !strings.Contains(body, `"stable":"`+stable2.URL+`"`) || !strings.Contains(body, `"canary":"`+faults.URL+`"`) {
		t.Fatalf("router upstreams: %d %s", code, body)
	}
	if code, _, body := do(t, "PUT", faults.URL+PathUpstreams, map[string]string{"canary": canary2.URL}); code != 200 || !strings.Contains(body, canary2.URL) {
		t.Fatalf("faults upstreams: %d %s", code, body)
	}
	do(t, "PUT", rt.URL+"/admin/weights", map[string]int{"canary": 0})
	for range 10 {
		do(t, "GET", rt.URL+"/api/orders", nil)
	}
	do(t, "PUT", rt.URL+"/admin/weights", map[string]int{"canary": 100})
	for range 7 {
		do(t, "GET", rt.URL+"/api/orders", nil)
	}
	if n1.Load() != 0 || n2.Load() != 10 || n3.Load() != 7 {
		t.Errorf("after the move: old %d, new stable %d (want 10), new canary through faults %d (want 7)", n1.Load(), n2.Load(), n3.Load())
	}
}
