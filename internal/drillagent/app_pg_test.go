package drillagent

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const pgBin = "/usr/lib/postgresql/15/bin"

// hostPostgres starts a throwaway server from the host's postgresql-15
// install as the postgres user, or skips the test when it cannot.
func hostPostgres(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(pgBin, "postgres")); err != nil {
		t.Skip("no postgresql-15 on this host (apt-get install -y postgresql-15)")
	}
	if os.Geteuid() != 0 {
		t.Skip("starting a server as the postgres user needs root")
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Skip("no postgres user")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cred := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	dir, err := os.MkdirTemp("", "rollbook-agent-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(pgBin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "--locale=C")
	initdb.SysProcAttr, initdb.Dir = cred, dir
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	srv := exec.Command(filepath.Join(pgBin, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "jit=off")
	srv.SysProcAttr, srv.Dir = cred, dir
	var log strings.Builder
	srv.Stdout, srv.Stderr = &log, &log
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGINT)
		_ = srv.Wait()
	})
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
}

func startApp(t *testing.T, ctx context.Context, release, db, migrations string) (*App, *httptest.Server) {
	t.Helper()
	a, s, err := tryStartApp(t, ctx, release, db, migrations)
	if err != nil {
		t.Fatal(err)
	}
	return a, s
}

// tryStartApp may run off the test goroutine: it reports instead of failing.
func tryStartApp(t *testing.T, ctx context.Context, release, db, migrations string) (*App, *httptest.Server, error) {
	a := &App{Release: release, DB: db, Migrations: migrations, Log: slog.New(slog.DiscardHandler)}
	s := httptest.NewServer(a.Handler())
	t.Cleanup(s.Close)
	errc := make(chan error, 1)
	go func() { errc <- a.Start(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(s.URL + "/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return a, s, nil
			}
		}
		select {
		case err := <-errc:
			return nil, nil, fmt.Errorf("%s stopped: %v", release, err)
		default:
		}
		if time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("%s not ready in 30s", release)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAppAgainstPostgres checks what the drills rely on: migrations run
// once across releases, and a contract migration breaks the stable
// release's smoke check.
func TestAppAgainstPostgres(t *testing.T) {
	db := hostPostgres(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stableDir, canaryDir := t.TempDir(), t.TempDir()
	expand := "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_created ON orders (created_at);\nALTER TABLE orders ADD COLUMN IF NOT EXISTS currency text;\n"
	for _, d := range []string{stableDir, canaryDir} {
		if err := os.WriteFile(filepath.Join(d, "0001_expand.sql"), []byte(expand), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(canaryDir, "0002_drop_note.sql"), []byte("ALTER TABLE orders DROP COLUMN note;\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// Two copies of the stable release racing through the same migrations.
	var wg sync.WaitGroup
	servers := make([]*httptest.Server, 2)
	errs := make([]error, 2)
	for i := range servers {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, servers[i], errs[i] = tryStartApp(t, ctx, "stable", db, stableDir)
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	stable := servers[0]
	if code, hdr, body := do(t, "GET", stable.URL+"/smoke", nil); code != 200 || hdr.Get("X-Release") != "stable" {
		t.Fatalf("stable smoke before the contract migration: %d %s", code, body)
	}
	for i := 0; i < 30; i++ {
		if code, _, body := do(t, "GET", stable.URL+"/api/orders", nil); code != 200 || !strings.Contains(body, `"recent"`) {
			t.Fatalf("orders: %d %s", code, body)
		}
	}

	_, canary := startApp(t, ctx, "canary", db, canaryDir)
	code, _, body := do(t, "GET", stable.URL+"/smoke", nil)
	if code != 500 || !strings.Contains(body, `"error"`) || !strings.Contains(body, "note") {
		t.Errorf("stable smoke after the canary dropped orders.note: %d %s", code, body)
	}
	if code, _, body := do(t, "GET", canary.URL+"/smoke", nil); code != 500 {
		// The canary's own smoke reads note too: the demo service has one schema.
		t.Logf("canary smoke: %d %s", code, body)
	}
	// Each migration ran once and was recorded once.
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var ids []string
	rows, err := conn.Query(ctx, "SELECT id FROM schema_migrations ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if strings.Join(ids, ",") != "0001_expand.sql,0002_drop_note.sql" {
		t.Errorf("schema_migrations: %v", ids)
	}
	if code, _, body := do(t, "GET", stable.URL+"/api/orders", nil); code != 200 {
		t.Errorf("orders still read after the drop: %d %s", code, body)
	}

	// Breaking the release: unready, and errors at the asked rate.
	do(t, "POST", stable.URL+"/admin/break", map[string]any{"health": true, "error_rate": 1})
	if code, _, _ := do(t, "GET", stable.URL+"/health/ready", nil); code != 503 {
		t.Errorf("broken release ready: %d", code)
	}
	if code, _, _ := do(t, "GET", stable.URL+"/api/orders", nil); code != 500 {
		t.Errorf("error_rate 1: %d", code)
	}
}
