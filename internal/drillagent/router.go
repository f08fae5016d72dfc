package drillagent

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Buckets are the latency histogram bounds in seconds; fine enough around
// the usual p99 thresholds (100 ms to 2 s) to interpolate well.
var Buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1, 1.5, 2, 3, 5, 10}

// Router splits traffic between the stable and canary releases by weight
// and counts requests, errors and latency per release.
type Router struct {
	upstream map[string]string
	client   *http.Client
	mux      *http.ServeMux

	mu     sync.Mutex
	canary int // percent
	stats  map[string]*releaseStats
}

type releaseStats struct {
	codes   map[int]uint64
	buckets []uint64 // cumulative per bound, counted at observe time
	count   uint64
	sum     float64
}

// NewRouter returns a router sending all traffic to stable until told otherwise.
func NewRouter(stable, canary string, timeout time.Duration) *Router {
	r := &Router{
		upstream: map[string]string{"stable": strings.TrimRight(stable, "/"), "canary": strings.TrimRight(canary, "/")},
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
	r.mux.HandleFunc("/", r.route)
	return r
}

func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) { rt.mux.ServeHTTP(w, r) }

// route sends one request of the service's traffic to a release.
func (rt *Router) route(w http.ResponseWriter, r *http.Request) {
	rt.mu.Lock()
	weight := rt.canary
	rt.mu.Unlock()
	rel := "stable"
	if weight > 0 && rand.IntN(100) < weight {
		rel = "canary"
	}
	start := time.Now()
	code := forward(rt.client, rt.upstream[rel], w, r)
	rt.observe(rel, code, time.Since(start).Seconds())
}

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
