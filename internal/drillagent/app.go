package drillagent

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// App is the demo service a drill rolls out: it reads and writes its own
// table, so a migration really changes what each release sees.
type App struct {
	Release    string
	DB         string
	Migrations string
	Log        *slog.Logger

	mu        sync.RWMutex
	pool      *pgxpool.Pool
	ready     bool
	broken    bool
	errorRate float64
}

const baseSchema = `CREATE TABLE IF NOT EXISTS orders (
	id bigserial PRIMARY KEY,
	amount int NOT NULL,
	note text,
	created_at timestamptz DEFAULT now()
);
CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at timestamptz DEFAULT now());`

// Start connects to the database, creates the base schema and applies
// this release's migrations once each.
func (a *App) Start(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	var pool *pgxpool.Pool
	for {
		p, err := pgxpool.New(ctx, a.DB)
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err = p.Ping(pctx)
			cancel()
			if err == nil {
				pool = p
				break
			}
			p.Close()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("database %s not reachable within a minute: %w", a.DB, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err := a.migrate(ctx, pool); err != nil {
		pool.Close()
		return err
	}
	a.mu.Lock()
	a.pool, a.ready = pool, true
	a.mu.Unlock()
	a.Log.Info("ready", "release", a.Release)
	<-ctx.Done()
	pool.Close()
	return nil
}

func (a *App) migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	defer conn.Release()
	// Both releases start against one database: one migrates at a time.
	// The lock is polled rather than waited for: a session blocked in
	// pg_advisory_lock holds a snapshot, which CREATE INDEX CONCURRENTLY
	// in the other release would wait for (a deadlock).
	for {
		var got bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock(4242)").Scan(&got); err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		if got {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock(4242)") //nolint:errcheck
	if _, err := conn.Exec(ctx, baseSchema); err != nil {
		return fmt.Errorf("base schema: %w", err)
	}
	if a.Migrations == "" {
		return nil
	}
	files, err := filepath.Glob(filepath.Join(a.Migrations, "*.sql"))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	sort.Strings(files)
	for _, f := range files {
		id := filepath.Base(f)
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM schema_migrations WHERE id = $1", id).Scan(&n); err != nil {
			return fmt.Errorf("migration %s: %w", id, err)
		}
		if n > 0 {
			continue
		}
		sql, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("migration %s: %w", id, err)
		}
		// One statement at a time: several in one Exec run as one implicit
		// transaction, where CREATE INDEX CONCURRENTLY is refused.
		for _, stmt := range SplitSQL(string(sql)) {
			if _, err := conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("migration %s: %w", id, err)
			}
		}
		if _, err := conn.Exec(ctx, "INSERT INTO schema_migrations (id) VALUES ($1)", id); err != nil {
			return fmt.Errorf("recording migration %s: %w", id, err)
		}
		a.Log.Info("migrated", "release", a.Release, "migration", id)
	}
	return nil
}

// SplitSQL splits a migration into statements at semicolons outside
// quotes, dollar quotes and comments.
func SplitSQL(src string) []string {
	var out []string
	start := 0
	for i := 0; i < len(src); i++ {
		switch c := src[i]; {
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				i = len(src)
			} else {
				i += end + 3
			}
		case c == '\'' || c == '"':
			for i++; i < len(src) && src[i] != c; i++ {
			}
		case c == '$':
			j := strings.IndexByte(src[i+1:], '$')
			if j >= 0 && isTag(src[i+1:i+1+j]) {
				tag := src[i : i+j+2]
				end := strings.Index(src[i+len(tag):], tag)
				if end < 0 {
					i = len(src)
				} else {
					i += len(tag) + end + len(tag) - 1
				}
			}
		case c == ';':
			if s := strings.TrimSpace(src[start:i]); s != "" {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	if start < len(src) {
		if s := strings.TrimSpace(src[start:]); s != "" && !onlyComments(s) {
			out = append(out, s)
		}
	}
	return out
}

func isTag(s string) bool {
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func onlyComments(s string) bool {
	for _, line := range strings.Split(s, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "--") {
			return false
		}
	}
	return true
}

func (a *App) state() (pool *pgxpool.Pool, ready, broken bool, errRate float64) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.pool, a.ready, a.broken, a.errorRate
}

// Handler serves the app's endpoints.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathLive, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"status": "live", "release": a.Release})
	})
	mux.HandleFunc("GET "+PathReady, func(w http.ResponseWriter, r *http.Request) {
		pool, ready, broken, _ := a.state()
		if !ready || broken {
			writeJSON(w, 503, map[string]any{"status": "unready", "broken": broken})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := pool.Ping(ctx); err != nil {
			writeJSON(w, 503, map[string]string{"status": "db unreachable", "error": err.Error()})
			return
		}
		writeJSON(w, 200, map[string]string{"status": "ready", "release": a.Release})
	})
	mux.HandleFunc("GET "+PathSmoke, func(w http.ResponseWriter, r *http.Request) {
		pool, ready, _, _ := a.state()
		if !ready {
			writeJSON(w, 503, map[string]string{"error": "not ready"})
			return
		}
		// The release's real queries: write an order and read it back with
		// the columns this release uses.
		var id int64
		if err := pool.QueryRow(r.Context(), "INSERT INTO orders (amount, note) VALUES ($1, $2) RETURNING id", 100, "smoke "+a.Release).Scan(&id); err != nil {
			writeJSON(w, 500, map[string]string{"error": "insert: " + err.Error()})
			return
		}
		var amount int
		var note *string
		if err := pool.QueryRow(r.Context(), "SELECT id, amount, note FROM orders WHERE id = $1", id).Scan(&id, &amount, &note); err != nil {
			writeJSON(w, 500, map[string]string{"error": "read: " + err.Error()})
			return
		}
		writeJSON(w, 200, map[string]any{"ok": true, "id": id})
	})
	mux.HandleFunc("GET "+PathOrders, func(w http.ResponseWriter, r *http.Request) {
		// A broken health check does not fail traffic: the stuck-rollback
		// drill needs a stable release that serves but reports unready.
		pool, ready, _, errRate := a.state()
		if !ready {
			writeJSON(w, 503, map[string]string{"error": "not ready: the database is not connected or migrated yet", "release": a.Release})
			return
		}
		if errRate > 0 && rand.Float64() < errRate {
			writeJSON(w, 500, map[string]string{"error": "injected failure", "release": a.Release})
			return
		}
		if rand.IntN(20) == 0 {
			if _, err := pool.Exec(r.Context(), "INSERT INTO orders (amount) VALUES ($1)", rand.IntN(1000)); err != nil {
				writeJSON(w, 500, map[string]string{"error": err.Error()})
				return
			}
		}
		rows, err := pool.Query(r.Context(), "SELECT id, amount FROM orders ORDER BY id DESC LIMIT 5")
		if err != nil {
			writeJSON(w, 500, map[string]string{"error": err.Error()})
			return
		}
		defer rows.Close()
		var ids []int64
		for rows.Next() {
			var id int64
			var amount int
			if err := rows.Scan(&id, &amount); err != nil {
				writeJSON(w, 500, map[string]string{"error": err.Error()})
				return
			}
			ids = append(ids, id)
		}
		w.Header().Set("X-Release", a.Release)
		writeJSON(w, 200, map[string]any{"release": a.Release, "recent": ids})
	})
	mux.HandleFunc("POST "+PathBreak, func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Health    bool    `json:"health"`
			ErrorRate float64 `json:"error_rate"`
		}
		if err := readJSON(r, &req); err != nil {
			writeJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		a.mu.Lock()
		a.broken, a.errorRate = req.Health, req.ErrorRate
		a.mu.Unlock()
		writeJSON(w, 200, req)
	})
	mux.HandleFunc("GET "+PathState, func(w http.ResponseWriter, r *http.Request) {
		_, ready, broken, errRate := a.state()
		writeJSON(w, 200, map[string]any{"release": a.Release, "ready": ready, "broken": broken, "error_rate": errRate})
	})
	return withRelease(a.Release, mux)
}

func withRelease(rel string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Release", rel)
		h.ServeHTTP(w, r)
	})
}
