// Command example-orders is the example service the checkout and payments
// plans drill: a small orders API on PostgreSQL that is not the drill
// agent. Its releases differ as real ones do (see releases): checkout
// 5.9.2 still reads and writes orders.legacy_status, which 6.0.0 and the
// plan's contract migration 0107 drop; payments 2.4.0 writes the
// ledger_ref column that the expand migration 0042 adds, and 2.3.1 never
// touches it. checkout 6.1.0 is the release that cannot be canaried: it
// reads orders.state, which only its own contract migration (renaming
// status) creates. `make example-images` builds it into FROM scratch images.
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// schema is the stable releases' start-up migration (MIGRATE=startup).
//
//go:embed schema.sql
var schema string

// release is what one version of the service does with the database.
type release struct {
	legacyStatus bool // reads and writes orders.legacy_status
	ledgerRef    bool // writes orders.ledger_ref
	renamed      bool // status is called state
}

// status is the column this release keeps an order's status in.
func (r release) status() string {
	if r.renamed {
		return "state"
	}
	return "status"
}

// releases are the versions the examples ship.
var releases = map[string]release{
	"5.9.2": {legacyStatus: true},                  // checkout stable
	"6.0.0": {},                                    // checkout canary: status only
	"6.1.0": {renamed: true},                       // checkout canary that needs its rename
	"2.3.1": {legacyStatus: true},                  // payments stable
	"2.4.0": {legacyStatus: true, ledgerRef: true}, // payments canary
	"2.4.1": {legacyStatus: true, ledgerRef: true}, // payments: the orders-by-SKU lookup
}

func main() {
	version := flag.String("version", os.Getenv("VERSION"), "release to run: "+versions())
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("version", *version)
	rel, ok := releases[*version]
	if !ok {
		log.Error("unknown version", "use", versions())
		os.Exit(2)
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s := &server{version: *version, rel: rel, log: log}
	if err := s.run(ctx, os.Getenv("DATABASE_URL"), os.Getenv("MIGRATE") == "startup", ":"+port); err != nil {
		log.Error("stopped", "err", err)
		os.Exit(1)
	}
}

func versions() string {
	return "5.9.2, 6.0.0, 6.1.0 (checkout), 2.3.1, 2.4.0 (payments)"
}

type server struct {
	version string
	rel     release
	log     *slog.Logger

	pool  atomic.Pointer[pgxpool.Pool]
	mu    sync.Mutex
	codes map[int]uint64
	made  uint64
}

func (s *server) run(ctx context.Context, dbURL string, migrate bool, addr string) error {
	if dbURL == "" {
		return errors.New("DATABASE_URL is not set")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	go s.connect(ctx, dbURL, migrate)
	s.log.Info("listening", "addr", addr, "legacy_status", s.rel.legacyStatus, "ledger_ref", s.rel.ledgerRef)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// connect retries until the database answers, migrates when asked, and
// only then makes the release ready.
func (s *server) connect(ctx context.Context, dbURL string, migrate bool) {
	for ctx.Err() == nil {
		pool, err := newPool(ctx, dbURL)
		if err == nil {
			if err = pool.Ping(ctx); err == nil && migrate {
				_, err = pool.Exec(ctx, schema)
			}
			if err == nil {
				s.pool.Store(pool)
				s.log.Info("ready", "migrated", migrate)
				return
			}
			pool.Close()
		}
		s.log.Warn("database not ready", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// newPool allows more connections than pgx's default of four: at drill
// rates a release serves hundreds of requests a second, and a readiness
// ping queued behind them would read as an unhealthy release.
func newPool(ctx context.Context, dbURL string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 16
	return pgxpool.NewWithConfig(ctx, cfg)
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health/live", func(w http.ResponseWriter, _ *http.Request) { s.reply(w, 200, map[string]string{"status": "live"}) })
	mux.HandleFunc("GET /health/ready", s.ready)
	mux.HandleFunc("GET /metrics", s.metrics)
	mux.HandleFunc("GET /orders", s.list)
	mux.HandleFunc("POST /orders", s.create)
	mux.HandleFunc("GET /stats", s.stats)
	return mux
}

func (s *server) reply(w http.ResponseWriter, code int, v any) {
	s.mu.Lock()
	if s.codes == nil {
		s.codes = map[int]uint64{}
	}
	s.codes[code]++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Version", s.version)
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *server) fail(w http.ResponseWriter, err error) {
	s.log.Error("request failed", "err", err)
	s.reply(w, 500, map[string]string{"error": err.Error(), "version": s.version})
}

func (s *server) ready(w http.ResponseWriter, r *http.Request) {
	pool := s.pool.Load()
	if pool == nil {
		s.reply(w, 503, map[string]string{"status": "connecting to the database"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	if err := pool.Ping(ctx); err != nil {
		s.reply(w, 503, map[string]string{"status": "database unreachable", "error": err.Error()})
		return
	}
	s.reply(w, 200, map[string]string{"status": "ready", "version": s.version})
}

type order struct {
	ID           int64   `json:"id"`
	SKU          string  `json:"sku"`
	Qty          int     `json:"qty"`
	Status       string  `json:"status"`
	LegacyStatus *string `json:"legacy_status,omitempty"`
}

func (s *server) list(w http.ResponseWriter, r *http.Request) {
	pool := s.pool.Load()
	if pool == nil {
		s.reply(w, 503, map[string]string{"error": "not ready"})
		return
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > 100 {
		limit = 10
	}
	legacy := "NULL::text"
	if s.rel.legacyStatus {
		// 5.x renders the order page from legacy_status.
		legacy = "legacy_status"
	}
	q := fmt.Sprintf("SELECT id, sku, qty, %s, %s FROM orders ORDER BY id DESC LIMIT $1", s.rel.status(), legacy)
	rows, err := pool.Query(r.Context(), q, limit)
	if err != nil {
		s.fail(w, err)
		return
	}
	defer rows.Close()
	out := []order{}
	for rows.Next() {
		var o order
		if err := rows.Scan(&o.ID, &o.SKU, &o.Qty, &o.Status, &o.LegacyStatus); err != nil {
			s.fail(w, err)
			return
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		s.fail(w, err)
		return
	}
	s.reply(w, 200, out)
}

func (s *server) create(w http.ResponseWriter, r *http.Request) {
	pool := s.pool.Load()
	if pool == nil {
		s.reply(w, 503, map[string]string{"error": "not ready"})
		return
	}
	var in struct {
		SKU string `json:"sku"`
		Qty int    `json:"qty"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil || in.SKU == "" || in.Qty <= 0 {
		s.reply(w, 400, map[string]string{"error": `send {"sku": "A-1", "qty": 1}`})
		return
	}
	cols, vals := "sku, qty, "+s.rel.status(), "$1, $2, 'new'"
	if s.rel.legacyStatus {
		cols, vals = cols+", legacy_status", vals+", 'NEW'"
	}
	if s.rel.ledgerRef {
		cols, vals = cols+", ledger_ref", vals+", 'L-' || $1"
	}
	var id int64
	if err := pool.QueryRow(r.Context(), fmt.Sprintf("INSERT INTO orders (%s) VALUES (%s) RETURNING id", cols, vals), in.SKU, in.Qty).Scan(&id); err != nil {
		s.fail(w, err)
		return
	}
	s.mu.Lock()
	s.made++
	s.mu.Unlock()
	s.reply(w, 201, map[string]any{"id": id})
}

// stats counts orders by status: the checkout hot path, which reads only
// the status column (state, in 6.1.0).
func (s *server) stats(w http.ResponseWriter, r *http.Request) {
	pool := s.pool.Load()
	if pool == nil {
		s.reply(w, 503, map[string]string{"error": "not ready"})
		return
	}
	rows, err := pool.Query(r.Context(), fmt.Sprintf("SELECT %[1]s, count(*) FROM orders GROUP BY %[1]s", s.rel.status()))
	if err != nil {
		s.fail(w, err)
		return
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			s.fail(w, err)
			return
		}
		out[st] = n
	}
	if err := rows.Err(); err != nil {
		s.fail(w, err)
		return
	}
	s.reply(w, 200, out)
}

// metrics are the service's own, in the Prometheus text format.
func (s *server) metrics(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintf(w, "# HELP orders_created_total Orders created.\n# TYPE orders_created_total counter\norders_created_total{version=%q} %d\n", s.version, s.made)
	fmt.Fprintf(w, "# HELP orders_http_responses_total Responses by status code.\n# TYPE orders_http_responses_total counter\n")
	for code, n := range s.codes {
		fmt.Fprintf(w, "orders_http_responses_total{code=\"%d\"} %d\n", code, n)
	}
}
