// Package drillagent owns the small programs a game-day drill runs in its
// containers: the demo service (app), the traffic router with per-release
// metrics, the fault injector, the pager and the load generator. They are
// one static binary, so one scratch image serves every role.
package drillagent

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"
)

// Main runs the role named by args[0] until ctx is done; it returns the
// process exit code.
func Main(ctx context.Context, args []string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: rollbook-agent app|router|faults|pager|load [flags]")
		return 2
	}
	role, rest := args[0], args[1:]
	fs := flag.NewFlagSet(role, flag.ContinueOnError)
	listen := fs.String("listen", ":8080", "address to listen on")
	var h http.Handler
	var start func(context.Context) error
	switch role {
	case "app":
		a := &App{}
		fs.StringVar(&a.Release, "release", "stable", "release name reported in X-Release")
		fs.StringVar(&a.DB, "db", "postgres://postgres@db:5432/postgres?sslmode=disable", "database URL")
		fs.StringVar(&a.Migrations, "migrations", "", "folder of *.sql migrations to apply at start")
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		a.Log = log
		h, start = a.Handler(), a.Start
	case "router":
		var stable, canary string
		var timeout time.Duration
		fs.StringVar(&stable, "stable", "http://stable:8080", "stable release URL")
		fs.StringVar(&canary, "canary", "http://faults:8080", "canary release URL")
		fs.DurationVar(&timeout, "timeout", 5*time.Second, "upstream timeout")
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		h = NewRouter(stable, canary, timeout)
	case "faults":
		var upstream string
		fs.StringVar(&upstream, "upstream", "http://canary:8080", "the service the faults are put in front of")
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		h = NewFaults(upstream)
	case "pager":
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		h = NewPager()
	case "load":
		var target, mix string
		var rate float64
		fs.StringVar(&target, "target", "http://router:8080"+PathOrders, "URL to send requests to (with --mix: the base URL)")
		fs.StringVar(&mix, "mix", "", `request mix as JSON: [{"Method": "GET", "Path": "/orders", "Body": "", "Weight": 9}, …]`)
		fs.Float64Var(&rate, "rate", 50, "requests per second")
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		l := NewLoad(target, rate)
		if mix != "" {
			var m []MixRequest
			if err := json.Unmarshal([]byte(mix), &m); err != nil || len(m) == 0 {
				fmt.Fprintf(os.Stderr, "--mix: want a JSON list of requests: %v\n", err)
				return 2
			}
			l.SetMix(m)
		}
		h, start = l, l.Run
	default:
		fmt.Fprintf(os.Stderr, "unknown role %q: use app, router, faults, pager or load\n", role)
		return 2
	}
	if err := serve(ctx, *listen, h, start, log.With("role", role)); err != nil {
		log.Error("agent stopped", "role", role, "err", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, addr string, h http.Handler, start func(context.Context) error, log *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if start != nil {
		go func() {
			if err := start(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errc <- err
			}
		}()
	}
	log.Info("listening", "addr", addr)
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	// Requests held by a hang fault would keep Shutdown waiting: after two
	// seconds the remaining connections are closed.
	shut, c2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer c2()
	if err := srv.Shutdown(shut); err != nil {
		log.Warn("closing connections still open after 2s", "err", err)
		_ = srv.Close()
	}
	log.Info("stopped")
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func readJSON(r *http.Request, v any) error {
	return json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(v)
}

// forward sends r to base+path and copies the answer to w. It returns the
// status the client saw: 502 when the upstream cannot be reached, 504 when
// it does not answer in time.
func forward(c *http.Client, base string, w http.ResponseWriter, r *http.Request) int {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, base+r.URL.RequestURI(), r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return http.StatusBadGateway
	}
	req.Header = r.Header.Clone()
	resp, err := c.Do(req)
	if err != nil {
		code := http.StatusBadGateway
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			code = http.StatusGatewayTimeout
		}
		http.Error(w, err.Error(), code)
		return code
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
	return resp.StatusCode
}
