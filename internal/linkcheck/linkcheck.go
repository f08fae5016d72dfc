// Package linkcheck owns checking external http(s) links, as rollbook
// check --external does: each URL once, a few requests at a time per host
// and a bounded number overall, each with a timeout, one retry after a
// failure that may pass (a timeout, a 5xx, a 429 after its Retry-After),
// and results kept in a cache with the time they were checked, so a
// daily CI job asks each host again only once a result is older than the
// age it accepts. A link checker that fetches two hundred runbook links
// to one wiki at once is how a wiki learns to block CI.
package linkcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// State is what a check found out about a URL.
type State int

const (
	// OK: the server answered with the page (2xx after redirects), or
	// with a status that says the page exists behind a login (401, 403).
	OK State = iota
	// Dead: the server says there is no such page (404, 410).
	Dead
	// Unreachable: no answer that says either way: a timeout, a refused
	// connection, a 5xx, or rate limiting that outlasted the wait.
	Unreachable
	// Skipped: the URL matches the skip list; it was not requested.
	Skipped
)

func (s State) String() string {
	switch s {
	case OK:
		return "ok"
	case Dead:
		return "dead"
	case Unreachable:
		return "unreachable"
	case Skipped:
		return "skipped"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// Result is one URL's check.
type Result struct {
	URL   string // as requested: the link without its #fragment
	State State
	// Code is the last HTTP status (0 when none came back); Final the URL
	// the redirects ended at, when they moved it.
	Code  int
	Final string
	// Problem says why a URL is Dead or Unreachable, for the finding.
	Problem string
	// Checked is when the answer came; Cached that it came from the
	// cache rather than the network in this run.
	Checked time.Time
	Cached  bool
}

// Cache keeps results between runs. Get returns the last result stored
// for a URL, however old: Check decides whether it is young enough.
type Cache interface {
	Get(url string) (Result, bool)
	Put(Result)
}

// Options configures Check. Zero values take the defaults.
type Options struct {
	// Timeout bounds one request, redirects and headers included
	// (default 10s).
	Timeout time.Duration
	// PerHost is how many requests one host gets at once (default 2);
	// Workers how many run at once in all (default 8).
	PerHost int
	Workers int
	// Retries is how many times a URL that may pass is asked again
	// (default 1; negative for none). Backoff is the wait before a retry
	// when the server sets no Retry-After (default 1s).
	Retries int
	Backoff time.Duration
	// MaxWait is the longest Retry-After honoured (default 30s); a server
	// asking for longer leaves the URL Unreachable for this run.
	MaxWait time.Duration
	// MaxAge: a cached result checked within it is used as it is; 0
	// checks every URL again.
	MaxAge time.Duration
	Cache  Cache
	// Skip is the URLs never requested (rollbook.yaml's
	// external_links.skip).
	Skip Skip
	// Client makes the requests; nil uses one with Timeout.
	Client *http.Client
	// Now is the clock results are dated by (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
	// UserAgent is sent with each request (default "rollbook-linkcheck").
	UserAgent string
}

func (o *Options) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.PerHost <= 0 {
		o.PerHost = 2
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Retries == 0 {
		o.Retries = 1
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.UserAgent == "" {
		o.UserAgent = "rollbook-linkcheck"
	}
	if o.Client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxConnsPerHost = o.PerHost
		o.Client = &http.Client{Timeout: o.Timeout, Transport: tr}
	}
}

// Strip is u without its #fragment: what is requested, and the key a
// result is known by.
func Strip(u string) string {
	if i := strings.IndexByte(u, '#'); i >= 0 {
		return u[:i]
	}
	return u
}

// Check checks each URL once (fragments dropped, repeats merged) and
// returns the results by URL. It returns early, with what it has, when
// ctx ends.
func Check(ctx context.Context, urls []string, opts Options) map[string]Result {
	opts.defaults()
	c := &checker{opts: opts, hosts: map[string]*host{}, workers: make(chan struct{}, opts.Workers)}
	out := map[string]Result{}
	seen := map[string]bool{}
	var mu sync.Mutex // out, which the checks fill as they end
	var wg sync.WaitGroup
	for _, raw := range urls {
		u := Strip(raw)
		if seen[u] {
			continue
		}
		seen[u] = true
		if r, ok := c.known(u); ok {
			mu.Lock()
			out[u] = r
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.check(ctx, u)
			if ctx.Err() == nil && opts.Cache != nil && r.State != Unreachable && r.State != Skipped {
				// Unreachable is not kept: the next run asks again.
				opts.Cache.Put(r)
			}
			mu.Lock()
			out[u] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

type checker struct {
	opts    Options
	mu      sync.Mutex
	hosts   map[string]*host
	workers chan struct{}
}

// host is one server's share of the check: PerHost slots, and the time
// before which it must not be asked again (its last Retry-After).
type host struct {
	slots     chan struct{}
	mu        sync.Mutex
	notBefore time.Time
}

// known returns the result a run need not repeat: a skipped URL, or a
// cached one checked within MaxAge.
func (c *checker) known(u string) (Result, bool) {
	if c.opts.Skip.Match(u) {
		return Result{URL: u, State: Skipped}, true
	}
	if c.opts.Cache == nil || c.opts.MaxAge <= 0 {
		return Result{}, false
	}
	r, ok := c.opts.Cache.Get(u)
	if !ok || c.opts.Now().Sub(r.Checked) > c.opts.MaxAge {
		return Result{}, false
	}
	r.Cached = true
	return r, true
}

func (c *checker) host(name string) *host {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.hosts[name]
	if h == nil {
		h = &host{slots: make(chan struct{}, c.opts.PerHost)}
		c.hosts[name] = h
	}
	return h
}

// check asks for u, again after a failure that may pass.
func (c *checker) check(ctx context.Context, u string) Result {
	pu, err := url.Parse(u)
	if err != nil || pu.Host == "" {
		return Result{URL: u, State: Dead, Problem: "not a URL", Checked: c.opts.Now()}
	}
	h := c.host(strings.ToLower(pu.Host))
	var r Result
	for attempt := 0; ; attempt++ {
		var wait time.Duration
		r, wait = c.once(ctx, h, u)
		if r.State != Unreachable || attempt >= c.opts.Retries || ctx.Err() != nil {
			return r
		}
		if wait > c.opts.MaxWait {
			r.Problem += fmt.Sprintf(" (Retry-After %s is longer than the %s the check waits)", wait, c.opts.MaxWait)
			return r
		}
		if wait <= 0 {
			wait = c.opts.Backoff
		}
		h.delay(wait)
		c.opts.Logger.Debug("link check: retrying", "url", u, "after", wait, "problem", r.Problem)
	}
}

// delay keeps every request to the host back for d from now.
func (h *host) delay(d time.Duration) {
	h.mu.Lock()
	if t := time.Now().Add(d); t.After(h.notBefore) {
		h.notBefore = t
	}
	h.mu.Unlock()
}

// once makes one request in a host slot and a worker slot, after the
// host's last Retry-After. wait is the answer's Retry-After, if any.
func (c *checker) once(ctx context.Context, h *host, u string) (r Result, wait time.Duration) {
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return Result{URL: u, State: Unreachable, Problem: ctx.Err().Error()}, 0
	}
	defer func() { <-h.slots }()
	h.mu.Lock()
	until := time.Until(h.notBefore)
	h.mu.Unlock()
	if until > 0 {
		t := time.NewTimer(until)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return Result{URL: u, State: Unreachable, Problem: ctx.Err().Error()}, 0
		}
	}
	select {
	case c.workers <- struct{}{}:
	case <-ctx.Done():
		return Result{URL: u, State: Unreachable, Problem: ctx.Err().Error()}, 0
	}
	defer func() { <-c.workers }()
	return c.request(ctx, u)
}

func (c *checker) request(ctx context.Context, u string) (Result, time.Duration) {
	r := Result{URL: u}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		r.State, r.Problem, r.Checked = Dead, err.Error(), c.opts.Now()
		return r, 0
	}
	req.Header.Set("User-Agent", c.opts.UserAgent)
	// GET, not HEAD: many servers answer HEAD with 404 or 405 for pages
	// they serve. Only the start of the body is read.
	resp, err := c.opts.Client.Do(req)
	r.Checked = c.opts.Now()
	if err != nil {
		r.State, r.Problem = Unreachable, describe(err, c.opts.Timeout)
		return r, 0
	}
	_, _ = io.CopyN(io.Discard, resp.Body, 16<<10)
	resp.Body.Close()
	r.Code = resp.StatusCode
	if f := resp.Request.URL.String(); f != u {
		r.Final = f
	}
	status := fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		r.State, r.Problem = Dead, "answers "+status
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		r.State, r.Problem = Unreachable, "answers "+status
		return r, retryAfter(resp.Header.Get("Retry-After"), time.Now())
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		// A redirect the client would not follow: too many, or no Location.
		r.State, r.Problem = Unreachable, "answers "+status+" without a redirect to follow"
	default:
		r.State = OK
	}
	return r, 0
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// describe says why a request got no answer, without Go's wrapping.
func describe(err error, timeout time.Duration) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Sprintf("no answer within %s", timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Op + ": " + oe.Err.Error()
	}
	return err.Error()
}
