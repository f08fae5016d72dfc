package drillenv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
	"golang.org/x/sync/errgroup"
)

var prepareOnce sync.Once

// prepare configures testcontainers for drills, once, when the first drill
// (or image build, or cleanup) talks to the engine, so importing the
// package changes nothing in the process.
func prepare() {
	prepareOnce.Do(prepareTestcontainers)
}

func prepareTestcontainers() {
	// The reaper image cannot be pulled here; drills clean up by label.
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	// Drill ports are published on this machine's loopback. Inside a
	// container (/.dockerenv) testcontainers would otherwise dial the
	// default gateway, which is not where a local engine publishes them.
	if os.Getenv("TESTCONTAINERS_HOST_OVERRIDE") == "" && strings.HasPrefix(dockerHost(), "unix://") {
		os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	}
	// testcontainers' own banner and progress go to slog at debug level,
	// not over the drill's terminal output.
	tclog.SetDefault(tcLogger{slog.Default()})
}

// Options says what one drill runs.
type Options struct {
	// RunID names the drill; every object carries rollbook.drill=RunID
	// and rollbook.managed=true. Required.
	RunID string
	// AgentImage is the drill agent image (see AgentImage). Required.
	AgentImage string
	// DBImage is the database image: one built by PostgresImage, or a
	// registry image such as postgres:16 (run with trust authentication).
	// Required.
	DBImage string
	// StableMigrations and CanaryMigrations are SQL files on the host.
	// The stable release applies its own; the canary applies the stable
	// ones and then its own, each file once, in name order.
	StableMigrations []string
	CanaryMigrations []string
	// LoadRate is the load generator's starting rate in requests per
	// second (0: idle until PUT /admin/rate).
	LoadRate float64
	// BeforeCanary, if set, runs once the stable release is ready and
	// before the canary starts (and migrates); StableURL is set by then.
	// An error stops Start.
	BeforeCanary func(ctx context.Context, e *Env) error
	// Log receives progress at debug level; nil discards it.
	Log *slog.Logger
	// Service, when set, runs the team's own releases instead of the demo
	// app (SPEC 3.1); StableMigrations and CanaryMigrations are then
	// unused.
	Service *Service
	// ExternalReleases leaves the team's stable and canary releases to
	// something else that runs them on the drill network (the Argo
	// engine's node agent runs them as the Rollout's pods): Start runs the
	// database, dependencies, router, fault injector, pager and load
	// generator, and the router's and fault injector's upstreams point
	// nowhere until told (PUT /admin/upstreams). Service only.
	ExternalReleases bool
}

// Env is a running drill environment. The URLs are http://127.0.0.1:PORT
// addresses reachable from the host.
type Env struct {
	RunID string
	// RouterURL is where traffic and the router's /admin/weights and
	// /metrics are; FaultsURL is the fault injector's (/admin/faults);
	// PagerURL serves /pages; LoadURL serves /stats and /admin/rate;
	// StableURL and CanaryURL reach each release directly.
	RouterURL, FaultsURL, PagerURL, LoadURL, StableURL, CanaryURL string
	// CanaryAddr is the canary's base URL on the drill network, as the
	// load generator reaches it (its warm-up goes there, past the router).
	CanaryAddr string
	// StableHealthURL reaches the stable release through a fault injector
	// of its own (the team's service only: stuck-rollback breaks its
	// health there); ReadyPath is the releases' readiness path.
	StableHealthURL, ReadyPath string
	// Service is the team's service this drill runs (nil: the demo app).
	Service *Service
	// Fill is how the service's volume was loaded (gameday.database.volume).
	Fill FillStats

	log        *slog.Logger
	mu         sync.Mutex
	containers map[string]*testcontainers.DockerContainer
}

const (
	agentPort = "8080/tcp"
	dbPort    = "5432/tcp"
	// dbURL is how the releases reach the database on the drill network.
	dbURL = "postgres://postgres@db:5432/postgres?sslmode=disable&connect_timeout=2"
)

// Start creates the drill network and its containers: db, then stable
// (which migrates first) together with pager, load, faults and router,
// then canary. It returns when every service answers. On any failure or
// cancellation of ctx, everything it created is removed before it returns.
func Start(ctx context.Context, opts Options) (env *Env, err error) {
	switch {
	case opts.RunID == "":
		return nil, errors.New("drillenv: Options.RunID is required")
	case opts.AgentImage == "":
		return nil, errors.New("drillenv: Options.AgentImage is required (build one with AgentImage)")
	case opts.DBImage == "":
		return nil, errors.New("drillenv: Options.DBImage is required (build one with PostgresImage, or name one such as postgres:16)")
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stableFiles, err := migrationFiles(opts.StableMigrations)
	if err != nil {
		return nil, err
	}
	canaryFiles, err := migrationFiles(append(append([]string{}, opts.StableMigrations...), opts.CanaryMigrations...))
	if err != nil {
		return nil, err
	}
	c, err := dockerClient(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := ensureImage(ctx, c, opts.AgentImage, "build it with drillenv.AgentImage"); err != nil {
		return nil, err
	}
	if err := ensureImage(ctx, c, opts.DBImage, "build one from postgresql-15 with drillenv.PostgresImage, or pull a postgres image first"); err != nil {
		return nil, err
	}

	e := &Env{RunID: opts.RunID, log: log, containers: map[string]*testcontainers.DockerContainer{}}
	defer func() {
		if err == nil {
			return
		}
		// Cancellation must not stop the cleanup.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if cerr := Cleanup(cctx, opts.RunID); cerr != nil {
			err = fmt.Errorf("%w (and cleaning up: %v)", err, cerr)
		}
	}()
	labels := map[string]string{labelManaged: "true", labelDrill: opts.RunID, labelOwner: ownerLabel()}
	nw, err := tcnetwork.New(ctx, tcnetwork.WithLabels(labels), tcnetwork.WithAttachable())
	if err != nil {
		return nil, fmt.Errorf("creating the drill network: %w", startErr(ctx, err))
	}
	tcl := tcLogger{log}

	run := func(ctx context.Context, name, image string, wt wait.Strategy, files []testcontainers.ContainerFile, env map[string]string, port string, cmd ...string) error {
		return e.run(ctx, nw, labels, tcl, name, image, wt, files, env, port, cmd...)
	}
	if opts.Service != nil {
		if err := e.startService(ctx, opts, run); err != nil {
			return nil, err
		}
		return e, nil
	}
	e.ReadyPath = "/health/ready"
	if err := e.startDemo(ctx, opts, run, stableFiles, canaryFiles); err != nil {
		return nil, err
	}
	return e, nil
}

// runFunc starts one container of the drill and waits for wt.
type runFunc func(ctx context.Context, name, image string, wt wait.Strategy, files []testcontainers.ContainerFile, env map[string]string, port string, cmd ...string) error

func (e *Env) run(ctx context.Context, nw *testcontainers.DockerNetwork, labels map[string]string, tcl tcLogger, name, image string, wt wait.Strategy, files []testcontainers.ContainerFile, env map[string]string, port string, cmd ...string) error {
	start := time.Now()
	copts := []testcontainers.ContainerCustomizer{
		testcontainers.WithLogger(tcl),
		testcontainers.WithLabels(labels),
		tcnetwork.WithNetwork([]string{name}, nw),
		testcontainers.WithName(fmt.Sprintf("rollbook-%s-%s", e.RunID, name)),
		testcontainers.WithExposedPorts(port),
		testcontainers.WithWaitStrategy(wt),
	}
	if len(cmd) > 0 {
		copts = append(copts, testcontainers.WithCmd(cmd...))
	}
	if len(files) > 0 {
		copts = append(copts, testcontainers.WithFiles(files...))
	}
	if len(env) > 0 {
		copts = append(copts, testcontainers.WithEnv(env))
	}
	ct, err := testcontainers.Run(ctx, image, copts...)
	if ct != nil {
		e.mu.Lock()
		e.containers[name] = ct
		e.mu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("starting %s (%s): %w%s", name, image, startErr(ctx, err), logSuffix(ctx, ct))
	}
	e.log.Debug("container ready", "drill", e.RunID, "name", name, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func (e *Env) startDemo(ctx context.Context, opts Options, run runFunc, stableFiles, canaryFiles []testcontainers.ContainerFile) (err error) {
	// The fault injector and the router pass /health/* on to releases that
	// may not be up yet: they are ready when their own admin API answers.
	ready := func(path string) wait.Strategy {
		return wait.ForHTTP(path).WithPort(agentPort).WithPollInterval(50 * time.Millisecond).WithStartupTimeout(60 * time.Second)
	}
	var dbEnv map[string]string
	if !strings.HasPrefix(opts.DBImage, "rollbook-postgres:") {
		dbEnv = map[string]string{"POSTGRES_HOST_AUTH_METHOD": "trust"}
	}

	// Everything but the canary starts at once; the stable release waits
	// for the database itself and is ready once it has migrated.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return run(gctx, "db", opts.DBImage, postgresReady{timeout: 30 * time.Second}, nil, dbEnv, dbPort)
	})
	g.Go(func() error {
		return run(gctx, "stable", opts.AgentImage, ready("/health/ready"), stableFiles, nil, agentPort, "app", "--release", "stable", "--db", dbURL, "--migrations", "/migrations")
	})
	g.Go(func() error {
		return run(gctx, "pager", opts.AgentImage, ready("/health/ready"), nil, nil, agentPort, "pager")
	})
	g.Go(func() error {
		return run(gctx, "load", opts.AgentImage, ready("/health/ready"), nil, nil, agentPort, "load", "--target", "http://router:8080/api/orders", "--rate", "0")
	})
	g.Go(func() error {
		return run(gctx, "faults", opts.AgentImage, ready("/admin/faults"), nil, nil, agentPort, "faults", "--upstream", "http://canary:8080")
	})
	g.Go(func() error {
		return run(gctx, "router", opts.AgentImage, ready("/admin/weights"), nil, nil, agentPort, "router", "--stable", "http://stable:8080", "--canary", "http://faults:8080")
	})
	if err := g.Wait(); err != nil {
		return err
	}
	for name, dst := range map[string]*string{"router": &e.RouterURL, "faults": &e.FaultsURL, "pager": &e.PagerURL, "load": &e.LoadURL, "stable": &e.StableURL} {
		if *dst, err = e.endpoint(ctx, name, agentPort); err != nil {
			return err
		}
	}
	if opts.BeforeCanary != nil {
		if err := opts.BeforeCanary(ctx, e); err != nil {
			return fmt.Errorf("before the canary: %w", err)
		}
	}
	if err := run(ctx, "canary", opts.AgentImage, ready("/health/ready"), canaryFiles, nil, agentPort, "app", "--release", "canary", "--db", dbURL, "--migrations", "/migrations"); err != nil {
		return err
	}
	e.CanaryAddr = "http://canary:8080"
	if e.CanaryURL, err = e.endpoint(ctx, "canary", agentPort); err != nil {
		return err
	}
	// Load starts once the whole path behind the router answers, so its
	// counts hold no start-up errors.
	if opts.LoadRate > 0 {
		if err := setRate(ctx, e.LoadURL, opts.LoadRate); err != nil {
			return err
		}
	}
	return nil
}

func setRate(ctx context.Context, loadURL string, rate float64) error {
	body := strings.NewReader(`{"rate": ` + strconv.FormatFloat(rate, 'f', -1, 64) + `}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, loadURL+"/admin/rate", body)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("setting the load rate: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("setting the load rate to %g: %s", rate, resp.Status)
	}
	return nil
}

func (e *Env) endpoint(ctx context.Context, name, port string) (string, error) {
	e.mu.Lock()
	ct := e.containers[name]
	e.mu.Unlock()
	u, err := ct.PortEndpoint(ctx, port, "http")
	if err != nil {
		return "", fmt.Errorf("finding the %s port on the host: %w", name, err)
	}
	return u, nil
}

// startErr makes an engine error say what to do about it.
func startErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "port is already allocated") || strings.Contains(msg, "address already in use"):
		return fmt.Errorf("a host port the drill needs is taken by another process: %w", err)
	case strings.Contains(msg, "Cannot connect to the Docker daemon") || strings.Contains(msg, "connection refused") && strings.Contains(msg, "docker"):
		return fmt.Errorf("cannot reach the Docker engine at %s: start dockerd or set DOCKER_HOST: %w", dockerHost(), err)
	}
	return err
}

// postgresReady waits until the database answers a query on its mapped
// port (a listening port alone is not enough: official images restart the
// server once after their first initialisation).
type postgresReady struct{ timeout time.Duration }

func (p postgresReady) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var last error
	for {
		if st, err := target.State(ctx); err == nil && !st.Running {
			return fmt.Errorf("the database container stopped (exit code %d)", st.ExitCode)
		}
		host, herr := target.Host(ctx)
		port, perr := target.MappedPort(ctx, dbPort)
		if herr == nil && perr == nil && !port.IsZero() {
			u := fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable&connect_timeout=2", net.JoinHostPort(host, strconv.Itoa(int(port.Num()))))
			cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
			conn, err := pgx.Connect(cctx, u)
			if err == nil {
				var one int
				err = conn.QueryRow(cctx, "SELECT 1").Scan(&one)
				conn.Close(cctx)
			}
			ccancel()
			if err == nil {
				return nil
			}
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the database did not accept connections: %w (last: %v)", ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// tcLogger sends testcontainers' chatter to slog at debug level.
type tcLogger struct{ log *slog.Logger }

func (l tcLogger) Printf(format string, v ...any) {
	l.log.Debug(strings.TrimSpace(fmt.Sprintf(format, v...)), "from", "testcontainers")
}

func migrationFiles(paths []string) ([]testcontainers.ContainerFile, error) {
	var files []testcontainers.ContainerFile
	seen := map[string]string{}
	for _, p := range paths {
		base := filepath.Base(p)
		if !strings.HasSuffix(base, ".sql") {
			return nil, fmt.Errorf("migration %s: the demo service applies only *.sql files", p)
		}
		if prev, ok := seen[base]; ok {
			if prev == p {
				continue
			}
			return nil, fmt.Errorf("two migrations named %s: %s and %s", base, prev, p)
		}
		seen[base] = p
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("migration file: %w", err)
		}
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("migration %s is not a regular file", p)
		}
		files = append(files, testcontainers.ContainerFile{HostFilePath: p, ContainerFilePath: "/migrations/" + base, FileMode: 0o644})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].ContainerFilePath < files[j].ContainerFilePath })
	return files, nil
}

// StopCanary stops the canary container (SIGTERM, then SIGKILL after two
// seconds). Stopping a stopped canary is a no-op.
func (e *Env) StopCanary(ctx context.Context) error {
	e.mu.Lock()
	ct := e.containers["canary"]
	e.mu.Unlock()
	if ct == nil {
		return nil
	}
	timeout := 2 * time.Second
	if err := ct.Stop(ctx, &timeout); err != nil {
		return fmt.Errorf("stopping the canary: %w", err)
	}
	return nil
}

// running reports whether the named container (db, stable, canary,
// faults, router, pager, load) is running.
func (e *Env) running(ctx context.Context, name string) (bool, error) {
	e.mu.Lock()
	ct := e.containers[name]
	e.mu.Unlock()
	if ct == nil {
		return false, fmt.Errorf("no %s container in this drill", name)
	}
	st, err := ct.State(ctx)
	if err != nil {
		return false, fmt.Errorf("inspecting %s: %w", name, err)
	}
	return st.Running, nil
}

// Close removes every container, the network and any volume of the drill,
// found by label, and checks that none is left. It is safe to call more
// than once.
func (e *Env) Close(ctx context.Context) error {
	return cleanup(ctx, e.RunID, 1)
}
