package drillenv

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rollbook/rollbook/internal/drillagent"
	"github.com/rollbook/rollbook/internal/drillreport"
	"github.com/rollbook/rollbook/internal/migrate"
)

// sampleEvery is how often a running migration's locks are read: often
// enough to see a wait of a tenth of a second, rarely enough that the
// reading is not what the database is busy with.
var sampleEvery = 50 * time.Millisecond

// lockRetries is how many times a statement that gave up on its
// lock_timeout is tried again, as migration runners do
// (strong_migrations' lock_timeout_retries, Flyway's and Rails' retries):
// the migration that waits a bounded time and retries is the safe shape.
const lockRetries = 5

// Names the drill's own database sessions go by, so that the sampler
// tells them from the service's.
const (
	appMigration  = "rollbook-migration"
	appSampler    = "rollbook-sampler"
	appLongReader = "rollbook-long-reader"
)

// statement is one statement of a SQL file and the line it starts on.
type statement struct {
	line int
	text string
}

// statements splits src as the drill runs it, keeping each statement's
// first line that is not a comment.
func statements(src string) []statement {
	var out []statement
	off := 0
	for _, s := range drillagent.SplitSQL(src) {
		i := strings.Index(src[off:], s)
		if i < 0 {
			out = append(out, statement{line: 0, text: s})
			continue
		}
		at := off + i
		off = at + len(s)
		body := migrate.SkipComments(s)
		at += len(s) - len(body)
		out = append(out, statement{line: 1 + strings.Count(src[:at], "\n"), text: body})
	}
	return out
}

// Migrate applies one SQL file to the team's database, one statement at
// a time, while both releases serve traffic, and reports what it cost
// them: the locks it held, how long it queued for them, and the longest
// wait of each release's queries on it. A statement that gives up on its
// own lock_timeout is retried (lockRetries), from the start of its
// transaction when it was in one.
func (e *Env) Migrate(ctx context.Context, file string) (drillreport.MigrationLoad, error) {
	var load drillreport.MigrationLoad
	if e.Service == nil {
		return load, errors.New("drillenv: the demo service's canary applies its own migrations")
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return load, err
	}
	stmts := statements(string(src))
	conn, err := e.dbConn(ctx, e.Service.dbName(), appMigration)
	if err != nil {
		return load, fmt.Errorf("connecting to database %s: %w", e.Service.dbName(), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var pid uint32
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		return load, err
	}
	s, err := e.startSampler(ctx, pid)
	if err != nil {
		return load, err
	}
	start := time.Now()
	load.Attempts = 1
	runErr := func() error {
		txStart := -1
		retries := 0
		for i := 0; i < len(stmts); i++ {
			st := stmts[i]
			s.cur.Store(int64(i))
			if isBegin(st.text) {
				txStart = i
			}
			_, err := conn.Exec(ctx, st.text)
			if err == nil {
				if isEnd(st.text) {
					txStart = -1
				}
				continue
			}
			if !lockTimedOut(err) || retries >= lockRetries || ctx.Err() != nil {
				return fmt.Errorf("%s:%d: %w", file, st.line, err)
			}
			retries++
			load.Attempts++
			if conn.PgConn().TxStatus() == 'E' && txStart >= 0 {
				if _, rerr := conn.Exec(ctx, "ROLLBACK"); rerr != nil {
					return fmt.Errorf("%s:%d: rolling back after lock_timeout: %w", file, st.line, rerr)
				}
				i = txStart - 1
				txStart = -1
			} else {
				i--
			}
			e.log.Debug("migration statement gave up on its lock_timeout; retrying", "drill", e.RunID, "file", file, "line", st.line, "retry", retries)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(retries) * 200 * time.Millisecond):
			}
		}
		return nil
	}()
	load.Duration = time.Since(start)
	s.stop(&load, stmts)
	if runErr != nil {
		return load, fmt.Errorf("applying the plan's migration: %w", runErr)
	}
	e.log.Debug("migrated", "drill", e.RunID, "file", file, "took", load.Duration)
	return load, nil
}

func isBegin(s string) bool {
	u := strings.ToUpper(strings.TrimSpace(s))
	return u == "BEGIN" || strings.HasPrefix(u, "BEGIN ") || strings.HasPrefix(u, "START TRANSACTION")
}

func isEnd(s string) bool {
	u := strings.ToUpper(strings.TrimSpace(s))
	return strings.HasPrefix(u, "COMMIT") || strings.HasPrefix(u, "END") || strings.HasPrefix(u, "ROLLBACK")
}

// lockTimedOut is PostgreSQL's lock_not_available (55P03): the
// statement's lock_timeout ran out.
func lockTimedOut(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "55P03"
}

// sampler reads pg_locks and pg_stat_activity while a migration runs.
type sampler struct {
	cur  atomic.Int64 // index of the statement running now
	done chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	held    map[[2]string]*heldSpan
	waited  time.Duration
	blocked map[string]drillreport.BlockedWait
	worst   int // statement behind the longest wait
	worstAt time.Duration
	samples int
}

type heldSpan struct {
	first, last time.Time
	stmt        int
}

// sampleSQL reads, in one round trip, the relation locks the migration
// holds or waits for, and every session its locks block (pg_blocking_pids
// counts the queries queued behind a lock it waits for, too: those are
// the requests a migration stuck behind a long query stalls).
const sampleSQL = `
SELECT 'lock', c.relname, l.mode, l.granted, 0::float8, '', '', ''
FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
WHERE l.pid = $1 AND l.locktype = 'relation' AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'pg_toast'::regnamespace)
UNION ALL
SELECT 'blocked', '', '', false, extract(epoch FROM clock_timestamp() - coalesce(a.query_start, clock_timestamp()))::float8,
       a.application_name, coalesce(host(a.client_addr), ''), left(a.query, 200)
FROM pg_stat_activity a
WHERE a.pid <> $1 AND $1 = ANY(pg_blocking_pids(a.pid))`

func (e *Env) startSampler(ctx context.Context, pid uint32) (*sampler, error) {
	conn, err := e.dbConn(ctx, e.Service.dbName(), appSampler)
	if err != nil {
		return nil, fmt.Errorf("connecting the lock sampler: %w", err)
	}
	names := e.clientNames(ctx)
	s := &sampler{done: make(chan struct{}), held: map[[2]string]*heldSpan{}, blocked: map[string]drillreport.BlockedWait{}, worst: -1}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer conn.Close(context.WithoutCancel(ctx))
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			s.read(ctx, conn, pid, names)
			select {
			case <-s.done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s, nil
}

func (s *sampler) read(ctx context.Context, conn *pgx.Conn, pid uint32, names map[string]string) {
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	rows, err := conn.Query(rctx, sampleSQL, pid)
	if err != nil {
		return
	}
	defer rows.Close()
	now := time.Now()
	stmt := int(s.cur.Load())
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples++
	waiting := false
	for rows.Next() {
		var kind, rel, mode, app, host, query string
		var granted bool
		var secs float64
		if rows.Scan(&kind, &rel, &mode, &granted, &secs, &app, &host, &query) != nil {
			continue
		}
		switch kind {
		case "lock":
			if !granted {
				waiting = true
				continue
			}
			k := [2]string{rel, mode}
			if h := s.held[k]; h != nil {
				h.last = now
			} else {
				s.held[k] = &heldSpan{first: now, last: now, stmt: stmt}
			}
		case "blocked":
			who := names[host]
			if who == "" {
				who = app
			}
			if who == "" || who == appLongReader || who == appSampler {
				continue
			}
			d := time.Duration(secs * float64(time.Second))
			if b := s.blocked[who]; d > b.For {
				s.blocked[who] = drillreport.BlockedWait{Release: who, For: d, Query: migrate.OneLine(query)}
			}
			if d > s.worstAt {
				s.worstAt, s.worst = d, stmt
			}
		}
	}
	if waiting {
		s.waited += sampleEvery
	}
}

// stop ends sampling and writes what it saw into load.
func (s *sampler) stop(load *drillreport.MigrationLoad, stmts []statement) {
	close(s.done)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	load.Samples = s.samples
	load.Waited = s.waited
	for k, h := range s.held {
		hl := drillreport.HeldLock{Relation: k[0], Mode: k[1], For: h.last.Sub(h.first) + sampleEvery}
		if h.stmt >= 0 && h.stmt < len(stmts) {
			hl.Line = stmts[h.stmt].line
		}
		load.Held = append(load.Held, hl)
	}
	sortHeld(load.Held)
	for _, b := range s.blocked {
		load.Blocked = append(load.Blocked, b)
	}
	sortBlocked(load.Blocked)
	if s.worst >= 0 && s.worst < len(stmts) {
		load.Worst = &drillreport.Statement{Line: stmts[s.worst].line, Text: migrate.OneLine(stmts[s.worst].text)}
	}
}

// clientNames maps each release container's address on the drill
// network to its name, so a blocked session is named by the release that
// opened it whatever its connection string says.
func (e *Env) clientNames(ctx context.Context) map[string]string {
	out := map[string]string{}
	e.mu.Lock()
	defer e.mu.Unlock()
	for name, ct := range e.containers {
		if name == "db" {
			continue
		}
		ips, err := ct.ContainerIPs(ctx)
		if err != nil {
			continue
		}
		for _, ip := range ips {
			out[ip] = name
		}
	}
	return out
}

// HoldRead opens a transaction that reads each table and keeps it open
// for hold, as a report or a pg_dump would: its ACCESS SHARE locks make a
// migration that wants an ACCESS EXCLUSIVE one queue behind it, and every
// later query queue behind the migration. Names that are not tables yet
// are passed over. It returns the tables it holds once their locks are
// held; the transaction ends after hold or when ctx ends.
func (e *Env) HoldRead(ctx context.Context, tables []string, hold time.Duration) ([]string, error) {
	if e.Service == nil {
		return nil, errors.New("drillenv: a long reader needs the team's own database")
	}
	conn, err := e.dbConn(ctx, e.Service.dbName(), appLongReader)
	if err != nil {
		return nil, fmt.Errorf("connecting the long reader: %w", err)
	}
	fail := func(err error) ([]string, error) {
		conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	if _, err := conn.Exec(ctx, "BEGIN"); err != nil {
		return fail(err)
	}
	var read []string
	for _, t := range tables {
		var rel *string
		if err := conn.QueryRow(ctx, "SELECT to_regclass($1)::text", t).Scan(&rel); err != nil || rel == nil {
			continue // a column's name, or a table the migration creates
		}
		if _, err := conn.Exec(ctx, "SELECT count(*) FROM "+*rel); err != nil {
			return fail(fmt.Errorf("the long reader reading %s: %w", t, err))
		}
		read = append(read, *rel)
	}
	if len(read) == 0 {
		return fail(fmt.Errorf("none of %s is a table yet, so there is nothing to hold", strings.Join(tables, ", ")))
	}
	go func() {
		defer conn.Close(context.WithoutCancel(ctx))
		select {
		case <-ctx.Done():
		case <-time.After(hold):
		}
		_, _ = conn.Exec(context.WithoutCancel(ctx), "COMMIT")
	}()
	return read, nil
}

func sortHeld(h []drillreport.HeldLock) {
	slices.SortFunc(h, func(a, b drillreport.HeldLock) int {
		return cmp.Or(cmp.Compare(b.For, a.For), cmp.Compare(a.Relation, b.Relation), cmp.Compare(a.Mode, b.Mode))
	})
}

func sortBlocked(b []drillreport.BlockedWait) {
	slices.SortFunc(b, func(x, y drillreport.BlockedWait) int {
		return cmp.Or(cmp.Compare(y.For, x.For), cmp.Compare(x.Release, y.Release))
	})
}
