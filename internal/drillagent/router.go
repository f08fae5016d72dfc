package drillagent

import (
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Buckets are the latency histogram bounds in seconds; fine enough around
// the usual p99 thresholds (100 ms to 2 s) to interpolate well.
var Buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1, 1.5, 2, 3, 5, 10}

// Router splits traffic between the stable and canary releases by weight
// and counts requests, errors and latency per release. It also keeps the
// first failing responses of each release (PathFailures): what users got.
type Router struct {
	client *http.Client
	mux    *http.ServeMux

	mu       sync.Mutex
	upstream upstreams
	canary   int // percent
	stats    map[string]*releaseStats
	// kept are the failing responses kept since the last drain, in the
	// order they were kept.
	kept []Failure
}

type releaseStats struct {
	codes   map[int]uint64
	buckets []uint64 // cumulative per bound, counted at observe time
	count   uint64
	sum     float64
	// kept counts the release's entries in Router.kept; full is set when
	// it reaches MaxFailures, so that until the next drain a failing
	// response is not even captured (read without the lock).
	kept int
	full atomic.Bool
}

// MaxFailures is how many failing responses the router keeps per release
// between two reads of PathFailures; FailureBody how many bytes of each
// body.
const (
	MaxFailures = 5
	FailureBody = 300
)

// Failure is one failing response (status 500 or more) as the client got
// it. Its JSON is drillreport.Failure's (the drill controller adds the
// drill time): the agent does not import drillreport, which would build
// the controller's Prometheus and expression libraries into the binary of
// every drill container.
type Failure struct {
	Release string `json:"release"`
	Method  string `json:"method"`
	Path    string `json:"path"` // with the query
	Status  int    `json:"status"`
	Body    string `json:"body"` // the first FailureBody bytes
}

// NewRouter returns a router sending all traffic to stable until told otherwise.
func NewRouter(stable, canary string, timeout time.Duration) *Router {
	r := &Router{
		upstream: upstreams{"stable": strings.TrimRight(stable, "/"), "canary": strings.TrimRight(canary, "/")},
		client:   &http.Client{Timeout: timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 256}},
		stats:    map[string]*releaseStats{},
	}
	for _, rel := range []string{"stable", "canary"} {
		r.stats[rel] = &releaseStats{codes: map[int]uint64{}, buckets: make([]uint64, len(Buckets))}
	}
	r.mux = http.NewServeMux()
	r.mux.HandleFunc("GET "+PathMetrics, func(w http.ResponseWriter, _ *http.Request) { r.metrics(w) })
	r.mux.HandleFunc("GET "+PathWeights, r.weights)
	r.mux.HandleFunc("PUT "+PathWeights, r.weights)
	r.mux.HandleFunc("POST "+PathWeights, r.weights)
	r.mux.HandleFunc("GET "+PathFailures, r.failures)
	r.mux.HandleFunc("GET "+PathUpstreams, func(w http.ResponseWriter, req *http.Request) { r.upstream.serve(&r.mu, w, req) })
	r.mux.HandleFunc("PUT "+PathUpstreams, func(w http.ResponseWriter, req *http.Request) { r.upstream.serve(&r.mu, w, req) })
	r.mux.HandleFunc("/", r.route)
	return r
}

func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) { rt.mux.ServeHTTP(w, r) }

// route sends one request of the service's traffic to a release.
func (rt *Router) route(w http.ResponseWriter, r *http.Request) {
	rt.mu.Lock()
	weight := rt.canary
	rel := "stable"
	if weight > 0 && rand.IntN(100) < weight {
		rel = "canary"
	}
	to := rt.upstream[rel]
	rt.mu.Unlock()
	start := time.Now()
	tee := &failureTee{ResponseWriter: w, full: &rt.stats[rel].full}
	code := forward(rt.client, to, tee, r)
	rt.observe(rel, code, time.Since(start).Seconds())
	if tee.capturing {
		rt.keep(rel, Failure{Release: rel, Method: r.Method, Path: r.URL.RequestURI(), Status: tee.status, Body: excerpt(tee.body)})
	}
}

// keep adds a failing response to the release's first ones, unless it
// has MaxFailures already (others may have been captured at the same time).
func (rt *Router) keep(rel string, f Failure) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	s := rt.stats[rel]
	if s.kept >= MaxFailures {
		return
	}
	rt.kept = append(rt.kept, f)
	s.kept++
	if s.kept >= MaxFailures {
		s.full.Store(true)
	}
}

// failures answers the failing responses kept since the last call and
// forgets them: each analysis interval sees the first failures of that
// interval.
func (rt *Router) failures(w http.ResponseWriter, _ *http.Request) {
	rt.mu.Lock()
	out := rt.kept
	rt.kept = nil
	for _, s := range rt.stats {
		s.kept = 0
		s.full.Store(false)
	}
	rt.mu.Unlock()
	if out == nil {
		out = []Failure{}
	}
	writeJSON(w, 200, out)
}

// excerpt is a captured body as text, without a character cut in two at
// its end.
func excerpt(b []byte) string {
	if len(b) == FailureBody {
		for i := len(b) - 1; i >= len(b)-(utf8.UTFMax-1); i-- {
			if utf8.RuneStart(b[i]) {
				if !utf8.FullRune(b[i:]) {
					b = b[:i]
				}
				break
			}
		}
	}
	return string(b)
}

// failureTee passes a response on to the client unchanged and, when its
// status is a failure and the release's failures are not full, keeps a
// copy of the body's first FailureBody bytes. Bodies of other responses
// are neither copied nor buffered.
type failureTee struct {
	http.ResponseWriter
	full      *atomic.Bool
	status    int
	capturing bool
	body      []byte
}

func (t *failureTee) WriteHeader(code int) {
	if t.status == 0 {
		t.status = code
		if code >= 500 && !t.full.Load() {
			t.capturing, t.body = true, make([]byte, 0, FailureBody)
		}
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *failureTee) Write(p []byte) (int, error) {
	if t.status == 0 {
		t.WriteHeader(http.StatusOK)
	}
	if t.capturing && len(t.body) < FailureBody {
		t.body = append(t.body, p[:min(len(p), FailureBody-len(t.body))]...)
	}
	return t.ResponseWriter.Write(p)
}

// ReadFrom keeps io.Copy on the server's own buffered path: only a kept
// body's first bytes go through Write.
func (t *failureTee) ReadFrom(src io.Reader) (int64, error) {
	if t.status == 0 {
		t.WriteHeader(http.StatusOK)
	}
	var n int64
	if t.capturing && len(t.body) < FailureBody {
		m, err := io.CopyN(writerOnly{t}, src, int64(FailureBody-len(t.body)))
		n += m
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	if rf, ok := t.ResponseWriter.(io.ReaderFrom); ok {
		m, err := rf.ReadFrom(src)
		return n + m, err
	}
	m, err := io.Copy(writerOnly{t.ResponseWriter}, src)
	return n + m, err
}

// Unwrap gives http.ResponseController the client's own writer.
func (t *failureTee) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// writerOnly hides a writer's ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }

func (rt *Router) observe(rel string, code int, secs float64) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	s := rt.stats[rel]
	s.codes[code]++
	s.count++
	s.sum += secs
	for i, b := range Buckets {
		if secs <= b {
			s.buckets[i]++
		}
	}
}

func (rt *Router) weights(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut || r.Method == http.MethodPost {
		var req struct {
			Canary *int `json:"canary"`
		}
		if err := readJSON(r, &req); err != nil || req.Canary == nil || *req.Canary < 0 || *req.Canary > 100 {
			writeJSON(w, 400, map[string]string{"error": `send {"canary": 0..100}`})
			return
		}
		rt.mu.Lock()
		rt.canary = *req.Canary
		rt.mu.Unlock()
	}
	rt.mu.Lock()
	c := rt.canary
	rt.mu.Unlock()
	writeJSON(w, 200, map[string]int{"stable": 100 - c, "canary": c})
}

// metrics writes the counters in the Prometheus text exposition format.
func (rt *Router) metrics(w http.ResponseWriter) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	var b strings.Builder
	b.WriteString("# HELP rollbook_requests_total Requests served, by release and status code.\n# TYPE rollbook_requests_total counter\n")
	for _, rel := range []string{"canary", "stable"} {
		s := rt.stats[rel]
		codes := make([]int, 0, len(s.codes))
		for c := range s.codes {
			codes = append(codes, c)
		}
		sort.Ints(codes)
		for _, c := range codes {
			fmt.Fprintf(&b, "rollbook_requests_total{release=%q,code=%q} %d\n", rel, strconv.Itoa(c), s.codes[c])
		}
	}
	b.WriteString("# HELP rollbook_request_duration_seconds Request latency, by release.\n# TYPE rollbook_request_duration_seconds histogram\n")
	for _, rel := range []string{"canary", "stable"} {
		s := rt.stats[rel]
		for i, bound := range Buckets {
			fmt.Fprintf(&b, "rollbook_request_duration_seconds_bucket{release=%q,le=%q} %d\n", rel, strconv.FormatFloat(bound, 'g', -1, 64), s.buckets[i])
		}
		fmt.Fprintf(&b, "rollbook_request_duration_seconds_bucket{release=%q,le=\"+Inf\"} %d\n", rel, s.count)
		fmt.Fprintf(&b, "rollbook_request_duration_seconds_sum{release=%q} %g\n", rel, s.sum)
		fmt.Fprintf(&b, "rollbook_request_duration_seconds_count{release=%q} %d\n", rel, s.count)
	}
	fmt.Fprintf(&b, "# HELP rollbook_canary_weight Percent of traffic sent to the canary.\n# TYPE rollbook_canary_weight gauge\nrollbook_canary_weight %d\n", rt.canary)
	_, _ = w.Write([]byte(b.String()))
}

// upstreams are where each release's requests go, by release; a PUT may
// move some of them (only those the holder already has).
type upstreams map[string]string

func (u upstreams) serve(mu *sync.Mutex, w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut {
		var req map[string]string
		if err := readJSON(r, &req); err != nil || len(req) == 0 {
			writeJSON(w, 400, map[string]string{"error": `send {"stable": "http://host:port", "canary": "http://host:port"}`})
			return
		}
		for rel, to := range req {
			if _, ok := u[rel]; !ok {
				writeJSON(w, 400, map[string]string{"error": "no release " + strconv.Quote(rel) + " here"})
				return
			}
			if p, err := url.Parse(to); err != nil || p.Scheme != "http" || p.Host == "" {
				writeJSON(w, 400, map[string]string{"error": rel + ": want an http://host:port URL, not " + strconv.Quote(to)})
				return
			}
		}
		mu.Lock()
		for rel, to := range req {
			u[rel] = strings.TrimRight(to, "/")
		}
		mu.Unlock()
	}
	mu.Lock()
	out := maps.Clone(u)
	mu.Unlock()
	writeJSON(w, 200, out)
}
