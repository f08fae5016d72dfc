package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/rollbook/rollbook/internal/plan"
)

// ExternalLinks is external_links: in rollbook.yaml, how rollbook check
// --external treats http(s) links:
//
//	external_links:
//	  skip: [localhost, "*.internal", "https://grafana.example.com/d/*"]
//	  max_age: 24h    # a result checked more recently is not asked again
//	  per_host: 2     # requests to one host at once
//	  timeout: 10s    # per request
type ExternalLinks struct {
	// Skip lists hosts ("*.internal") and URL patterns
	// ("https://wiki.example.com/private/*") never requested: dashboards
	// behind a VPN, hosts that refuse robots.
	Skip    []string `yaml:"skip"`
	MaxAge  string   `yaml:"max_age"`
	PerHost int      `yaml:"per_host"`
	Timeout string   `yaml:"timeout"`

	maxAge, timeout time.Duration
}

// Defaults of external_links.
const (
	DefaultLinkMaxAge  = 24 * time.Hour
	DefaultLinkTimeout = 10 * time.Second
	DefaultLinkPerHost = 2
)

func (e *ExternalLinks) defaults() error {
	e.maxAge, e.timeout = DefaultLinkMaxAge, DefaultLinkTimeout
	if e.PerHost == 0 {
		e.PerHost = DefaultLinkPerHost
	}
	if e.PerHost < 0 {
		return fmt.Errorf("external_links.per_host %d: write a number of requests, for example 2", e.PerHost)
	}
	for _, d := range []struct {
		key, raw string
		to       *time.Duration
		zero     bool
	}{{"max_age", e.MaxAge, &e.maxAge, true}, {"timeout", e.Timeout, &e.timeout, false}} {
		if d.raw == "" {
			continue
		}
		v, err := plan.ParseDuration(d.raw)
		if err != nil || v < 0 || v == 0 && !d.zero {
			return fmt.Errorf("external_links.%s %q is not a duration; write for example 24h", d.key, d.raw)
		}
		*d.to = v
	}
	for _, p := range e.Skip {
		if strings.TrimSpace(p) == "" {
			return fmt.Errorf("external_links.skip holds an empty pattern; write a host (grafana.internal, *.corp.example.com) or a URL pattern (https://wiki.example.com/private/*)")
		}
	}
	return nil
}

// MaxAgeDuration is how old a cached link result may be (0: check all).
func (e ExternalLinks) MaxAgeDuration() time.Duration { return e.maxAge }

// TimeoutDuration bounds one request of the link check.
func (e ExternalLinks) TimeoutDuration() time.Duration { return e.timeout }
