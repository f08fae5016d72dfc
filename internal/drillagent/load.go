package drillagent

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Load sends requests to a target at a steady rate and counts the answers.
type Load struct {
	target string
	client *http.Client
	mux    *http.ServeMux
	// mix is the request mix (empty: GET target); total its weights.
	mix   []MixRequest
	total int

	mu      sync.Mutex
	rate    float64
	codes   map[string]uint64
	sent    uint64
	dropped uint64
}

// NewLoad returns a load generator; Run starts it.
func NewLoad(target string, rate float64) *Load {
	l := &Load{target: target, rate: rate, codes: map[string]uint64{},
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
	l.mux = http.NewServeMux()
	l.mux.HandleFunc("GET "+PathRate, l.showRate)
	l.mux.HandleFunc("PUT "+PathRate, l.setRate)
	l.mux.HandleFunc("POST "+PathRate, l.setRate)
	l.mux.HandleFunc("GET "+PathStats, l.stats)
	l.mux.HandleFunc("POST "+PathWarm, l.warm)
	l.mux.HandleFunc("GET "+PathReady, ready)
	return l
}

// Run paces requests every 5 ms with a bounded pool of workers (enough for
// a second of injected latency at drill rates), so a slow
// target shows up as dropped sends rather than unbounded goroutines.
func (l *Load) Run(ctx context.Context) error {
	jobs := make(chan struct{}, 512)
	var wg sync.WaitGroup
	for i := 0; i < 1024; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				l.one(ctx)
			}
		}()
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	last := time.Now()
	owed := 0.0
	for {
		select {
		case <-ctx.Done():
			close(jobs)
			wg.Wait()
			return nil
		case now := <-tick.C:
			l.mu.Lock()
			rate := l.rate
			l.mu.Unlock()
			owed += rate * now.Sub(last).Seconds()
			last = now
			for ; owed >= 1; owed-- {
				select {
				case jobs <- struct{}{}:
				default:
					l.mu.Lock()
					l.dropped++
					l.mu.Unlock()
				}
			}
		}
	}
}

// MixRequest is one request of a traffic mix, sent in proportion to its
// weight (plan.Request's fields, as JSON).
type MixRequest struct {
	Method string `json:"Method"`
	Path   string `json:"Path"`
	Body   string `json:"Body"`
	Weight int    `json:"Weight"`
}

// SetMix makes the load generator send mix to target+path instead of GET
// target. A weight of 0 counts as 1.
func (l *Load) SetMix(mix []MixRequest) {
	l.mix, l.total = mix, 0
	for i := range l.mix {
		if l.mix[i].Weight <= 0 {
			l.mix[i].Weight = 1
		}
		if l.mix[i].Method == "" {
			l.mix[i].Method = http.MethodGet
		}
		l.total += l.mix[i].Weight
	}
}

// request picks the next request of the mix and sends it to target (the
// load's own, or another release's for the warm-up: see retarget).
func (l *Load) request(ctx context.Context, target string) (*http.Request, error) {
	if len(l.mix) == 0 {
		return http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	}
	n := rand.IntN(l.total)
	m := l.mix[0]
	for _, x := range l.mix {
		if n < x.Weight {
			m = x
			break
		}
		n -= x.Weight
	}
	var body io.Reader
	if m.Body != "" {
		body = strings.NewReader(m.Body)
	}
	req, err := http.NewRequestWithContext(ctx, m.Method, target+m.Path, body)
	if err == nil && m.Body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, err
}

// retarget is the load's target on base's scheme and host: the same
// requests, sent to another release.
func (l *Load) retarget(base *url.URL) (string, error) {
	u, err := url.Parse(l.target)
	if err != nil {
		return "", err
	}
	u.Scheme, u.Host = base.Scheme, base.Host
	return u.String(), nil
}

// do sends req and reads its answer whole.
func (l *Load) do(req *http.Request) (int, error) {
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (l *Load) one(ctx context.Context) {
	code := "error"
	req, err := l.request(ctx, l.target)
	if err == nil {
		if n, err := l.do(req); err == nil {
			code = strconv.Itoa(n)
		}
	}
	if ctx.Err() != nil {
		return
	}
	l.mu.Lock()
	l.codes[code]++
	l.sent++
	l.mu.Unlock()
}

func (l *Load) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mux.ServeHTTP(w, r)
}

func (l *Load) setRate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Rate float64 `json:"rate"`
	}
	if err := readJSON(r, &req); err != nil || req.Rate < 0 || req.Rate > 20000 {
		writeJSON(w, 400, map[string]string{"error": `send {"rate": 0..20000}`})
		return
	}
	l.mu.Lock()
	l.rate = req.Rate
	l.mu.Unlock()
	l.showRate(w, r)
}

func (l *Load) showRate(w http.ResponseWriter, _ *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	writeJSON(w, 200, map[string]float64{"rate": l.rate})
}

// stats answers the load generator's own count, to hold the router's
// against: total requests answered or failed, failed those answered 500
// or more or not answered at all ("error" in codes), dropped the sends
// no worker was free for.
func (l *Load) stats(w http.ResponseWriter, _ *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	codes := map[string]uint64{}
	var failed uint64
	for k, v := range l.codes {
		codes[k] = v
		if n, err := strconv.Atoi(k); err != nil || n >= 500 {
			failed += v
		}
	}
	writeJSON(w, 200, map[string]any{"rate": l.rate, "total": l.sent, "failed": failed, "dropped": l.dropped, "codes": codes})
}
