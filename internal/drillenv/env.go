package drillenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

func init() {
	// The reaper image cannot be pulled here; drills clean up by label.
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	// Drill ports are published on this machine's loopback. Without the
	// override testcontainers, seeing /.dockerenv, would dial the default
	// gateway instead, which is not where the engine publishes them.
	if os.Getenv("TESTCONTAINERS_HOST_OVERRIDE") == "" {
		os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	}
	// Drill progress is reported by rollbook itself; testcontainers' own
	// chatter would drown it. Failures still carry the container's log.
	tclog.SetDefault(tclog.NewNoopLogger())
}

// Options says what one drill runs.
type Options struct {
	// RunID names the drill; every object carries rollbook.drill=RunID.
	RunID string
	// AgentImage and DBImage are image references (built locally by
	// AgentImage and PostgresImage, or a user's own).
	AgentImage string
	DBImage    string
	// StableMigrations and CanaryMigrations are SQL files each release
	// applies at start, in name order.
	StableMigrations []string
	CanaryMigrations []string
	// LoadRate is the load generator's starting rate, requests per second.
	LoadRate float64
}

// Env is a running drill environment. URLs are reachable from the host.
type Env struct {
	RunID                                                         string
	RouterURL, FaultsURL, PagerURL, LoadURL, StableURL, CanaryURL string

	net        *testcontainers.DockerNetwork
	containers map[string]*testcontainers.DockerContainer
	mu         sync.Mutex
	closed     bool
}

const agentPort = "8080/tcp"

// Start creates the network and containers. On any failure, everything it
// created is removed before it returns.
func Start(ctx context.Context, opts Options) (env *Env, err error) {
	if opts.RunID == "" {
		return nil, errors.New("drillenv: RunID is required")
	}
	if err := CheckDocker(ctx); err != nil {
		return nil, err
	}
	labels := map[string]string{LabelManaged: "true", LabelDrill: opts.RunID}
	e := &Env{RunID: opts.RunID, containers: map[string]*testcontainers.DockerContainer{}}
	defer func() {
		if err != nil {
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = Cleanup(cctx, opts.RunID)
		}
	}()
	nw, err := tcnetwork.New(ctx, tcnetwork.WithLabels(labels))
	if err != nil {
		return nil, fmt.Errorf("creating the drill network: %w", err)
	}
	e.net = nw

	run := func(name, image string, wt wait.Strategy, files []testcontainers.ContainerFile, cmd ...string) error {
		opts := []testcontainers.ContainerCustomizer{
			testcontainers.WithLabels(labels),
			tcnetwork.WithNetwork([]string{name}, nw),
			testcontainers.WithName(fmt.Sprintf("rollbook-%s-%s", opts.RunID, name)),
		}
		if len(cmd) > 0 {
			opts = append(opts, testcontainers.WithCmd(cmd...))
		}
		if wt != nil {
			opts = append(opts, testcontainers.WithWaitStrategy(wt))
		}
		if len(files) > 0 {
			opts = append(opts, testcontainers.WithFiles(files...))
		}
		if name != "db" {
			opts = append(opts, testcontainers.WithExposedPorts(agentPort))
		}
		c, err := testcontainers.Run(ctx, image, opts...)
		if c != nil {
			e.mu.Lock()
			e.containers[name] = c
			e.mu.Unlock()
		}
		if err != nil {
			return fmt.Errorf("starting %s (%s): %w%s", name, image, err, logsTail(c))
		}
		return nil
	}
	ready := func() wait.Strategy {
		return wait.ForHTTP("/health/ready").WithPort(agentPort).WithPollInterval(100 * time.Millisecond).WithStartupTimeout(60 * time.Second)
	}
	dbImage := opts.DBImage
	dbWait := wait.ForListeningPort("5432/tcp").WithPollInterval(100 * time.Millisecond).WithStartupTimeout(60 * time.Second)
	dbURL := "postgres://postgres@db:5432/postgres?sslmode=disable"

	// The database, pager and (idle) load generator start together.
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Add(3)
	go func() {
		defer wg.Done()
		errs <- runDB(ctx, e, dbImage, labels, nw, dbWait)
	}()
	go func() {
		defer wg.Done()
		errs <- run("pager", opts.AgentImage, ready(), nil, "pager")
	}()
	go func() {
		defer wg.Done()
		errs <- run("load", opts.AgentImage, ready(), nil, "load", "--target", "http://router:8080/api/orders", "--rate", "0")
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return nil, err
		}
	}
	// The stable release migrates first, as it did when it shipped.
	stableFiles, err := migrationFiles(opts.StableMigrations)
	if err != nil {
		return nil, err
	}
	if err := run("stable", opts.AgentImage, ready(), stableFiles, "app", "--release", "stable", "--db", dbURL, "--migrations", "/migrations"); err != nil {
		return nil, err
	}
	canaryFiles, err := migrationFiles(append(append([]string{}, opts.StableMigrations...), opts.CanaryMigrations...))
	if err != nil {
		return nil, err
	}
	errs = make(chan error, 3)
	wg.Add(3)
	go func() {
		defer wg.Done()
		errs <- run("canary", opts.AgentImage, ready(), canaryFiles, "app", "--release", "canary", "--db", dbURL, "--migrations", "/migrations")
	}()
	go func() {
		defer wg.Done()
		errs <- run("faults", opts.AgentImage, nil, nil, "faults", "--upstream", "http://canary:8080")
	}()
	go func() {
		defer wg.Done()
		errs <- run("router", opts.AgentImage, nil, nil, "router", "--stable", "http://stable:8080", "--canary", "http://faults:8080")
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return nil, err
		}
	}
	for name, dst := range map[string]*string{"router": &e.RouterURL, "faults": &e.FaultsURL, "pager": &e.PagerURL, "load": &e.LoadURL, "stable": &e.StableURL, "canary": &e.CanaryURL} {
		u, err := e.containers[name].PortEndpoint(ctx, agentPort, "http")
		if err != nil {
			return nil, fmt.Errorf("finding the %s port: %w", name, err)
		}
		*dst = u
	}
	if err := waitHTTP(ctx, e.RouterURL+"/admin/weights"); err != nil {
		return nil, fmt.Errorf("router did not come up: %w", err)
	}
	if err := waitHTTP(ctx, e.FaultsURL+"/admin/faults"); err != nil {
		return nil, fmt.Errorf("fault injector did not come up: %w", err)
	}
	return e, nil
}

func runDB(ctx context.Context, e *Env, image string, labels map[string]string, nw *testcontainers.DockerNetwork, wt wait.Strategy) error {
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithLabels(labels),
		tcnetwork.WithNetwork([]string{"db"}, nw),
		testcontainers.WithName(fmt.Sprintf("rollbook-%s-db", e.RunID)),
		testcontainers.WithExposedPorts("5432/tcp"),
		testcontainers.WithWaitStrategy(wt),
	}
	if !strings.HasPrefix(image, "rollbook-postgres:") {
		opts = append(opts, testcontainers.WithEnv(map[string]string{"POSTGRES_HOST_AUTH_METHOD": "trust"}))
	}
	c, err := testcontainers.Run(ctx, image, opts...)
	if c != nil {
		e.mu.Lock()
		e.containers["db"] = c
		e.mu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("starting the database (%s): %w%s", image, err, logsTail(c))
	}
	return nil
}

func migrationFiles(paths []string) ([]testcontainers.ContainerFile, error) {
	var files []testcontainers.ContainerFile
	seen := map[string]bool{}
	for _, p := range paths {
		base := filepath.Base(p)
		if seen[base] {
			continue
		}
		seen[base] = true
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("migration file: %w", err)
		}
		files = append(files, testcontainers.ContainerFile{HostFilePath: p, ContainerFilePath: "/migrations/" + base, FileMode: 0o644})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].ContainerFilePath < files[j].ContainerFilePath })
	return files, nil
}

func logsTail(c *testcontainers.DockerContainer) string {
	if c == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	rc, err := c.Logs(ctx)
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
	s := string(b)
	if len(s) > 1500 {
		s = s[len(s)-1500:]
	}
	if strings.TrimSpace(s) == "" {
		return ""
	}
	return "\ncontainer log:\n" + s
}

func waitHTTP(ctx context.Context, url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %v", url, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// StopCanary stops the canary container; stopping a stopped canary is a no-op.
func (e *Env) StopCanary(ctx context.Context) error {
	e.mu.Lock()
	c := e.containers["canary"]
	e.mu.Unlock()
	if c == nil {
		return nil
	}
	timeout := 2 * time.Second
	if err := c.Stop(ctx, &timeout); err != nil {
		return fmt.Errorf("stopping the canary: %w", err)
	}
	return nil
}

// Close removes every container, the network and any volume of the drill.
// It is safe to call more than once.
func (e *Env) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	return Cleanup(ctx, e.RunID)
}

// Cleanup removes every container, network and volume labelled with runID,
// also those of a drill that crashed or was interrupted.
func Cleanup(ctx context.Context, runID string) error {
	c, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	f := client.Filters{}.Add("label", LabelDrill+"="+runID)
	var errs []error
	cs, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return fmt.Errorf("listing drill containers: %w", err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, ct := range cs.Items {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			if _, err := c.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !strings.Contains(err.Error(), "No such container") {
				mu.Lock()
				errs = append(errs, fmt.Errorf("removing container %.12s: %w", id, err))
				mu.Unlock()
			}
		}(ct.ID)
	}
	wg.Wait()
	ns, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return fmt.Errorf("listing drill networks: %w", err)
	}
	for _, n := range ns.Items {
		if _, err := c.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("removing network %s: %w", n.Name, err))
		}
	}
	vs, err := c.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err == nil {
		for _, v := range vs.Items {
			if _, err := c.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil {
				errs = append(errs, fmt.Errorf("removing volume %s: %w", v.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Leftovers lists the containers, networks and volumes still labelled with
// runID (or with any drill id when runID is "").
func Leftovers(ctx context.Context, runID string) ([]string, error) {
	c, err := dockerClient(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	label := LabelDrill
	if runID != "" {
		label += "=" + runID
	}
	f := client.Filters{}.Add("label", label)
	var out []string
	cs, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, err
	}
	for _, ct := range cs.Items {
		out = append(out, "container "+strings.Join(ct.Names, ","))
	}
	ns, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	for _, n := range ns.Items {
		out = append(out, "network "+n.Name)
	}
	vs, err := c.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err == nil {
		for _, v := range vs.Items {
			out = append(out, "volume "+v.Name)
		}
	}
	return out, nil
}
