package drillagent

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Faults sits in front of the canary and makes it fail on demand.
type Faults struct {
	client *http.Client
	mux    *http.ServeMux

	mu       sync.Mutex
	cfg      FaultConfig
	upstream upstreams // "canary"
}

// FaultConfig is what is injected.
type FaultConfig struct {
	ErrorRate float64 `json:"error_rate"`
	Latency   string  `json:"latency,omitempty"`
	Hang      bool    `json:"hang"`
	// Health applies the faults to /health/* too.
	Health bool `json:"faults_health,omitempty"`

	latency time.Duration
}

// NewFaults returns a pass-through proxy to upstream.
func NewFaults(upstream string) *Faults {
	f := &Faults{upstream: upstreams{"canary": strings.TrimRight(upstream, "/")}, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
	f.mux = http.NewServeMux()
	f.mux.HandleFunc("GET "+PathFaults, f.show)
	f.mux.HandleFunc("PUT "+PathFaults, f.set)
	f.mux.HandleFunc("POST "+PathFaults, f.set)
	f.mux.HandleFunc("GET "+PathUpstreams, func(w http.ResponseWriter, r *http.Request) { f.upstream.serve(&f.mu, w, r) })
	f.mux.HandleFunc("PUT "+PathUpstreams, func(w http.ResponseWriter, r *http.Request) { f.upstream.serve(&f.mu, w, r) })
	f.mux.HandleFunc("/", f.proxy)
	return f
}

func (f *Faults) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.mux.ServeHTTP(w, r) }

func (f *Faults) set(w http.ResponseWriter, r *http.Request) {
	var c FaultConfig
	if err := readJSON(r, &c); err != nil || c.ErrorRate < 0 || c.ErrorRate > 1 {
		writeJSON(w, 400, map[string]string{"error": `send {"error_rate": 0..1, "latency": "300ms", "hang": false}`})
		return
	}
	if c.Latency != "" {
		d, err := time.ParseDuration(c.Latency)
		if err != nil {
			writeJSON(w, 400, map[string]string{"error": "latency: " + err.Error()})
			return
		}
		c.latency = d
	}
	f.mu.Lock()
	f.cfg = c
	f.mu.Unlock()
	f.show(w, r)
}

func (f *Faults) show(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	c := f.cfg
	f.mu.Unlock()
	writeJSON(w, 200, c)
}

// proxy passes a request on to the canary, with the faults applied.
func (f *Faults) proxy(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	c, to := f.cfg, f.upstream["canary"]
	f.mu.Unlock()
	if strings.HasPrefix(r.URL.Path, "/health/") && !c.Health {
		forward(f.client, to, w, r)
		return
	}
	if c.Hang {
		<-r.Context().Done()
		return
	}
	if c.latency > 0 {
		select {
		case <-time.After(c.latency):
		case <-r.Context().Done():
			return
		}
	}
	if c.ErrorRate > 0 && rand.Float64() < c.ErrorRate {
		writeJSON(w, 500, map[string]string{"error": "injected by faults"})
		return
	}
	forward(f.client, to, w, r)
}
