package drillenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
	"golang.org/x/sync/errgroup"

	"github.com/rollbook/rollbook/internal/drillagent"
	"github.com/rollbook/rollbook/internal/plan"
)

// Service is the team's own service in a drill (SPEC 3.1).
type Service struct {
	Stable, Canary Image
	Port           int
	// Env are the releases' environment templates (plan.EnvData fields).
	Env   map[string]string
	Ready string
	Smoke []plan.Request
	// SmokeCanary is the canary's own smoke list (empty: Smoke).
	SmokeCanary []plan.Request
	Traffic     []plan.Request
	Deps        []Dependency
	// Database is the database's name (default app); Schema, when set,
	// is a SQL file on the host the database starts from.
	Database string
	Schema   string
	// Volume is rows per table to generate, and Seed a SQL file on the
	// host (SeedName as the plan writes it, for errors) run once, before
	// the drill; the filled database is kept as an image for the next
	// drill with the same inputs.
	Volume   map[string]int64
	Seed     string
	SeedName string
	// Migrations are SQL files on the host applied, in order, after the
	// stable release's smoke checks passed and before the canary starts.
	// A drill leaves it empty and applies each with Env.Migrate when the
	// plan's runs: says.
	Migrations []string
}

// CanarySmoke is the canary's smoke list.
func (s *Service) CanarySmoke() []plan.Request {
	if len(s.SmokeCanary) > 0 {
		return s.SmokeCanary
	}
	return s.Smoke
}

// Dependency is one more container of the service.
type Dependency struct {
	Name  string
	Image string
	Port  int
	Env   map[string]string
}

var errNotReady = errors.New("not ready")

// ReadyTimeout is how long a release may take to answer its ready path.
var ReadyTimeout = 60 * time.Second

func (s *Service) port() string { return strconv.Itoa(s.Port) + "/tcp" }

func (s *Service) dbName() string {
	if s.Database == "" {
		return "app"
	}
	return s.Database
}

func (s *Service) envData(release string) plan.EnvData {
	d := plan.EnvData{
		DatabaseURL:  fmt.Sprintf("postgres://postgres@db:5432/%s?sslmode=disable&connect_timeout=2", s.dbName()),
		DatabaseHost: "db", DatabasePort: 5432, DatabaseName: s.dbName(), DatabaseUser: "postgres",
		Release: release, Port: s.Port, Hosts: map[string]string{},
	}
	for _, dep := range s.Deps {
		d.Hosts[dep.Name] = fmt.Sprintf("%s:%d", dep.Name, dep.Port)
	}
	return d
}

// startService starts the database and dependencies, the stable release
// with the agent roles around it, checks the stable release's smoke list
// before any migration, applies the migrations, then starts the canary.
func (e *Env) startService(ctx context.Context, opts Options, run runFunc) error {
	s := opts.Service
	e.Service, e.ReadyPath = s, s.Ready
	if s.Port <= 0 {
		return errors.New("gameday.service.port is not set: write the port the service listens on, for example port: 8080")
	}
	if e.ReadyPath == "" {
		e.ReadyPath = "/"
	}
	stableEnv, err := plan.RenderEnv(s.Env, s.envData("stable"))
	if err != nil {
		return fmt.Errorf("gameday.service.%w (use %s)", err, plan.EnvFields)
	}
	canaryEnv, err := plan.RenderEnv(s.Env, s.envData("canary"))
	if err != nil {
		return fmt.Errorf("gameday.service.%w (use %s)", err, plan.EnvFields)
	}
	mix, err := json.Marshal(s.Traffic)
	if err != nil {
		return err
	}
	agentReady := func(path string) wait.Strategy {
		return wait.ForHTTP(path).WithPort(agentPort).WithPollInterval(50 * time.Millisecond).WithStartupTimeout(60 * time.Second)
	}
	port := s.port()
	upstream := func(host string) string { return fmt.Sprintf("http://%s:%d", host, s.Port) }
	var dbEnv map[string]string
	if !strings.HasPrefix(opts.DBImage, "rollbook-postgres:") {
		dbEnv = map[string]string{"POSTGRES_HOST_AUTH_METHOD": "trust"}
	}

	// The database and the dependencies first: the stable release may
	// migrate at start-up and needs its dependencies there.
	dbImage, volumeKey := opts.DBImage, ""
	if s.HasVolume() {
		if volumeKey, err = e.cachedVolume(ctx, opts.DBImage, s); err != nil {
			return err
		}
		if e.Fill.Cached {
			dbImage = e.Fill.ImageRef
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := run(gctx, "db", dbImage, postgresReady{timeout: 60 * time.Second}, nil, dbEnv, dbPort); err != nil {
			return err
		}
		if e.Fill.Cached {
			return nil
		}
		return e.prepareDatabase(gctx, s)
	})
	for _, d := range s.Deps {
		g.Go(func() error {
			p := strconv.Itoa(d.Port) + "/tcp"
			if err := run(gctx, d.Name, d.Image, depReady{name: d.Name, port: p, settle: time.Second}, nil, d.Env, p); err != nil {
				return fmt.Errorf("dependency %s (depends_on): %w", d.Name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}

	g, gctx = errgroup.WithContext(ctx)
	if !opts.ExternalReleases {
		g.Go(func() error {
			return e.runRelease(gctx, run, "stable", s.Stable, stableEnv, port)
		})
	}
	g.Go(func() error {
		return run(gctx, "pager", opts.AgentImage, agentReady(drillagent.PathReady), nil, nil, agentPort, "pager")
	})
	g.Go(func() error {
		return run(gctx, "load", opts.AgentImage, agentReady(drillagent.PathReady), nil, nil, agentPort, "load", "--target", "http://router:8080", "--mix", string(mix), "--rate", "0")
	})
	g.Go(func() error {
		return run(gctx, "faults", opts.AgentImage, agentReady(drillagent.PathFaults), nil, nil, agentPort, "faults", "--upstream", upstream("canary"))
	})
	g.Go(func() error {
		return run(gctx, "stable-health", opts.AgentImage, agentReady(drillagent.PathFaults), nil, nil, agentPort, "faults", "--upstream", upstream("stable"))
	})
	g.Go(func() error {
		return run(gctx, "router", opts.AgentImage, agentReady(drillagent.PathWeights), nil, nil, agentPort, "router", "--stable", upstream("stable"), "--canary", "http://faults:8080")
	})
	if err := g.Wait(); err != nil {
		return err
	}
	for name, dst := range map[string]*string{"router": &e.RouterURL, "faults": &e.FaultsURL, "pager": &e.PagerURL, "load": &e.LoadURL, "stable-health": &e.StableHealthURL} {
		if *dst, err = e.endpoint(ctx, name, agentPort); err != nil {
			return err
		}
	}
	if opts.ExternalReleases {
		// The volume is generated before the releases start, from the
		// schema the plan names (gameday.database.schema).
		return e.fillVolume(ctx, s, volumeKey)
	}
	if e.StableURL, err = e.endpoint(ctx, "stable", port); err != nil {
		return err
	}
	if err := e.fillVolume(ctx, s, volumeKey); err != nil {
		return err
	}
	// The smoke list must hold on the stable release before anything
	// changes: if it fails now, the list is wrong, not the migration.
	if err := Smoke(ctx, e.StableURL, s.Smoke); err != nil {
		return fmt.Errorf("the stable release fails its own smoke checks before any migration, so the drill does not start (the smoke list is wrong, not the migration): %w; fix gameday.service.smoke", err)
	}
	if opts.BeforeCanary != nil {
		if err := opts.BeforeCanary(ctx, e); err != nil {
			return fmt.Errorf("before the canary: %w", err)
		}
	}
	if err := e.migrate(ctx, s, s.Migrations); err != nil {
		return err
	}
	if err := e.runRelease(ctx, run, "canary", s.Canary, canaryEnv, port); err != nil {
		return err
	}
	e.CanaryAddr = upstream("canary")
	if e.CanaryURL, err = e.endpoint(ctx, "canary", port); err != nil {
		return err
	}
	if opts.LoadRate > 0 {
		return setRate(ctx, e.LoadURL, opts.LoadRate)
	}
	return nil
}

// fillVolume generates gameday.database.volume's rows, unless the drill
// started from a database an earlier drill filled, and keeps the result
// for the next drill.
func (e *Env) fillVolume(ctx context.Context, s *Service, volumeKey string) error {
	if !s.HasVolume() || e.Fill.Cached {
		return nil
	}
	start := time.Now()
	rows, err := e.fill(ctx, s)
	if err != nil {
		return err
	}
	e.Fill.Rows, e.Fill.Took = rows, time.Since(start)
	e.log.Info("volume filled", "drill", e.RunID, "rows", sortedRows(rows), "took", e.Fill.Took.Round(time.Millisecond))
	if err := e.saveVolume(ctx, volumeKey); err != nil {
		e.log.Warn("the filled database is not kept for the next drill", "err", err)
	}
	return nil
}

// runRelease starts one release and explains what went wrong when it
// does not become ready.
func (e *Env) runRelease(ctx context.Context, run runFunc, release string, img Image, env map[string]string, port string) error {
	wt := &httpReady{path: e.ReadyPath, port: port, timeout: ReadyTimeout}
	err := run(ctx, release, img.Ref, wt, nil, env, port)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	e.mu.Lock()
	ct := e.containers[release]
	e.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "the %s release (%s) did not become ready: %s", release, img.Ref, wt.problem(ctx, ct))
	if lines := lastLogLines(ctx, ct, logLines); len(lines) > 0 {
		fmt.Fprintf(&b, "\nits last %d log lines:\n%s", len(lines), strings.Join(lines, "\n"))
	} else {
		b.WriteString("\nit wrote no log lines")
	}
	return errors.New(b.String())
}

// httpReady polls GET path on the mapped port until it answers 200,
// remembering the last answer so that the error says what was seen.
type httpReady struct {
	path, port string
	timeout    time.Duration

	url        string
	lastStatus int
	lastErr    error
	exited     *int
}

func (h *httpReady) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	notFound := 0
	for {
		if st, err := target.State(ctx); err == nil && !st.Running {
			code := st.ExitCode
			h.exited = &code
			return fmt.Errorf("the container exited with code %d", code)
		}
		host, herr := target.Host(ctx)
		mp, perr := target.MappedPort(ctx, h.port)
		if herr == nil && perr == nil && !mp.IsZero() {
			h.url = "http://" + net.JoinHostPort(host, strconv.Itoa(int(mp.Num()))) + h.path
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.url, nil)
			resp, err := client.Do(req)
			h.lastErr = err
			if err == nil {
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
				resp.Body.Close()
				h.lastStatus = resp.StatusCode
				if resp.StatusCode == http.StatusOK {
					return nil
				}
				// A path the service does not serve will not start to:
				// two seconds of 404 are enough to say so.
				if resp.StatusCode == http.StatusNotFound {
					if notFound++; notFound >= 20 {
						return errNotReady
					}
				} else {
					notFound = 0
				}
			}
		}
		select {
		case <-ctx.Done():
			return errNotReady
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// problem says what the last poll saw and what to do about it.
func (h *httpReady) problem(ctx context.Context, ct *testcontainers.DockerContainer) string {
	switch {
	case h.exited != nil:
		return fmt.Sprintf("it exited with code %d", *h.exited)
	case h.lastStatus == http.StatusNotFound:
		return fmt.Sprintf("GET %s answers 404 Not Found: set gameday.service.ready to the path the service reports readiness on", h.url)
	case h.lastStatus != 0:
		return fmt.Sprintf("GET %s answered %d for %s, never 200", h.url, h.lastStatus, h.timeout)
	case h.url == "":
		return fmt.Sprintf("port %s was never published", h.port)
	}
	hint := ""
	if ct != nil {
		if exposed := imagePorts(ctx, ct.Image); len(exposed) > 0 && !contains(exposed, h.port) {
			hint = fmt.Sprintf("; the image exposes %s: set gameday.service.port to the port the service listens on", strings.Join(exposed, ", "))
		} else {
			hint = "; check gameday.service.port is the port the service listens on"
		}
	}
	return fmt.Sprintf("nothing answered GET %s within %s (last error: %v)%s", h.url, h.timeout, h.lastErr, hint)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// imagePorts lists the ports an image declares with EXPOSE.
func imagePorts(ctx context.Context, ref string) []string {
	c, err := dockerClient(ctx)
	if err != nil {
		return nil
	}
	defer c.Close()
	res, err := c.ImageInspect(ctx, ref)
	if err != nil || res.Config == nil {
		return nil
	}
	var out []string
	for p := range res.Config.ExposedPorts {
		out = append(out, p)
	}
	return out
}

// depReady waits until a dependency runs and is still running a moment
// later: a container that exits at once is caught with its code.
type depReady struct {
	name, port string
	settle     time.Duration
}

func (d depReady) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	deadline := time.Now().Add(d.settle)
	for {
		st, err := target.State(ctx)
		if err != nil {
			return err
		}
		if !st.Running && st.Status != "created" {
			msg := fmt.Sprintf("it exited with code %d", st.ExitCode)
			if ct, ok := target.(*testcontainers.DockerContainer); ok {
				if lines := lastLogLines(ctx, ct, logLines); len(lines) > 0 {
					msg += "; its last log lines:\n" + strings.Join(lines, "\n")
				}
			}
			return errors.New(msg)
		}
		if st.Running && time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// dbConn connects from the host to the drill database.
func (e *Env) dbConn(ctx context.Context, name, app string) (*pgx.Conn, error) {
	e.mu.Lock()
	ct := e.containers["db"]
	e.mu.Unlock()
	host, err := ct.Host(ctx)
	if err != nil {
		return nil, err
	}
	mp, err := ct.MappedPort(ctx, dbPort)
	if err != nil {
		return nil, err
	}
	return pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable&connect_timeout=5&application_name=%s", net.JoinHostPort(host, strconv.Itoa(int(mp.Num()))), name, url.QueryEscape(app)))
}

// prepareDatabase creates the service's database and loads its schema.
func (e *Env) prepareDatabase(ctx context.Context, s *Service) error {
	if name := s.dbName(); name != "postgres" {
		conn, err := e.dbConn(ctx, "postgres", "rollbook")
		if err != nil {
			return fmt.Errorf("connecting to the drill database: %w", err)
		}
		_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
		conn.Close(ctx)
		if err != nil {
			return fmt.Errorf("creating database %s: %w", name, err)
		}
	}
	if s.Schema == "" {
		return nil
	}
	if err := e.applySQL(ctx, s, s.Schema); err != nil {
		return fmt.Errorf("gameday.database.schema: %w", err)
	}
	return nil
}

// migrate applies the plan's migrations in order.
func (e *Env) migrate(ctx context.Context, s *Service, files []string) error {
	for _, f := range files {
		if err := e.applySQL(ctx, s, f); err != nil {
			return fmt.Errorf("applying the plan's migration: %w", err)
		}
		e.log.Debug("migrated", "drill", e.RunID, "file", f)
	}
	return nil
}

// applySQL runs a SQL file one statement at a time (CREATE INDEX
// CONCURRENTLY refuses a transaction).
func (e *Env) applySQL(ctx context.Context, s *Service, file string) error {
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	conn, err := e.dbConn(ctx, s.dbName(), "rollbook")
	if err != nil {
		return fmt.Errorf("connecting to database %s: %w", s.dbName(), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, stmt := range drillagent.SplitSQL(string(src)) {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	return nil
}

// Smoke runs each smoke request against base and returns the first that
// does not answer its expected status.
func Smoke(ctx context.Context, base string, reqs []plan.Request) error {
	client := &http.Client{Timeout: 5 * time.Second}
	for _, r := range reqs {
		method := r.Method
		if method == "" {
			method = http.MethodGet
		}
		req, err := http.NewRequestWithContext(ctx, method, base+r.Path, strings.NewReader(r.Body))
		if err != nil {
			return err
		}
		if r.Body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, r.Path, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		resp.Body.Close()
		if resp.StatusCode != r.Expect {
			return fmt.Errorf("%s %s answered %d, want %d: %s", method, r.Path, resp.StatusCode, r.Expect, strings.TrimSpace(string(body)))
		}
	}
	return nil
}
