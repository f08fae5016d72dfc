package gameday

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rollbook/rollbook/internal/analysis"
	"github.com/rollbook/rollbook/internal/drillagent"
	"github.com/rollbook/rollbook/internal/drillenv"
	"github.com/rollbook/rollbook/internal/drillreport"
	"github.com/rollbook/rollbook/internal/metricquery"
	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/scenario"
	"github.com/rollbook/rollbook/internal/warmup"
)

// RunOptions configures one drill of one scenario.
type RunOptions struct {
	Policy   Policy
	Scenario string
	// AgentImage and DBImage are ready image references (see Images).
	AgentImage string
	DBImage    string
	// RunID names the drill's containers (default: plan, scenario and
	// start time).
	RunID string
	// PrometheusImage is the drill's Prometheus (see PrometheusImage).
	PrometheusImage string
	// AfterRun, when set, is called once the controller has finished and
	// before the containers are removed, with the drill's Prometheus URL
	// and the timeline's zero (a backtest of the drill, for example).
	AfterRun func(ctx context.Context, prometheus string, start time.Time)
	// Timeout bounds the whole drill; 0 means 3 minutes (5 on the Argo
	// engine, whose cluster starts within it).
	Timeout time.Duration
	// Engine runs the rollout: the built-in controller ("" too) or Argo
	// Rollouts, which needs Argo.
	Engine  Engine
	Argo    *ArgoOptions
	Ledger  *Ledger
	Log     *slog.Logger
	OnEvent func(Event)
}

// Images builds (or finds, by content hash) the drill images. dbImage, if
// set, is used as the database image instead of building one.
func Images(ctx context.Context, agentBinary, dbImage string) (agent, db string, err error) {
	if agent, err = drillenv.AgentImage(ctx, agentBinary); err != nil {
		return "", "", err
	}
	if dbImage != "" {
		return agent, dbImage, nil
	}
	db, err = drillenv.PostgresImage(ctx)
	return agent, db, err
}

// PrometheusImage returns image when set (a registry image, for example
// prom/prometheus:v2.53.0), else builds (or finds) one from the local
// Prometheus install.
func PrometheusImage(ctx context.Context, image string) (string, error) {
	if image != "" {
		return image, nil
	}
	return drillenv.PrometheusImage(ctx)
}

// ScrapeInterval is how often the drill's Prometheus scrapes: an eighth of
// the shortest window in drill time, so each window holds several samples,
// and never below 100 ms (Prometheus's own cost must not crowd the drill).
func (p Policy) ScrapeInterval() time.Duration {
	return min(max(p.D(p.minWindow())/8, 100*time.Millisecond), time.Second)
}

// newReport starts the report of one drill: its run ID (the one given,
// else the plan, scenario, engine and start, at most 60 characters, as
// Docker names its objects with it) and what it drills.
func newReport(opts RunOptions, pol Policy, sc scenario.Scenario, engine Engine) *Report {
	tag := string(sc.Name)
	if engine != EngineBuiltin {
		tag += "-" + string(engine)
	}
	runID := fmt.Sprintf("%s-%s-%d", plan.Slug(pol.Plan), tag, time.Now().UnixNano())
	if len(runID) > 60 {
		runID = runID[len(runID)-60:]
	}
	if opts.RunID != "" {
		runID = opts.RunID
	}
	return &Report{Plan: pol.Plan, Service: pol.Service, Scenario: string(sc.Name), RunID: runID, Started: time.Now().UTC(), TimeScale: pol.Scale, LoadRate: pol.Rate, Engine: engine}
}

// startEnv starts one drill's environment for rep, without the team's
// releases when external (the Argo engine's pods are them): the images
// it needs, the containers, and what rep says of the database's volume.
// The caller defers stop with its named error: stop removes every object
// of the drill, reports a failed clean-up in *err when nothing else
// failed, and marks rep failed for what it could not remove.
func startEnv(ctx context.Context, opts RunOptions, pol Policy, sc scenario.Scenario, rep *Report, external bool) (*drillenv.Env, Policy, func(err *error), error) {
	if opts.PrometheusImage == "" {
		return nil, pol, nil, fmt.Errorf("drill %s: RunOptions.PrometheusImage is required (see PrometheusImage)", sc.Name)
	}
	envOpts, images, pol, done, err := environment(ctx, pol, sc, rep.RunID, opts.AgentImage, opts.DBImage)
	if err != nil {
		done()
		return nil, pol, nil, fmt.Errorf("drill %s could not start: %w", sc.Name, err)
	}
	rep.Images = images
	envOpts.ExternalReleases = external
	env, err := drillenv.Start(ctx, envOpts)
	if err != nil {
		done()
		var ve *drillenv.VolumeError
		if errors.As(err, &ve) && pol.OwnService != nil {
			return nil, pol, nil, fmt.Errorf("drill %s could not start: %s: %w", sc.Name, pol.OwnService.at(ve.Field), err)
		}
		return nil, pol, nil, fmt.Errorf("drill %s could not start: %w", sc.Name, err)
	}
	if env.Service != nil && env.Service.HasVolume() {
		rep.Volume = &drillreport.Volume{Rows: env.Fill.Rows, Seed: env.Service.SeedName, Took: env.Fill.Took, Cached: env.Fill.Cached, Image: env.Fill.ImageRef}
	}
	stop := func(err *error) {
		defer done()
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		if cerr := env.Close(cctx); cerr != nil && *err == nil {
			*err = fmt.Errorf("cleaning up the drill: %w", cerr)
		}
		if left, lerr := drillenv.Leftovers(cctx, rep.RunID); lerr == nil && len(left) > 0 {
			rep.Leftovers = left
			rep.Passed = false
		}
	}
	return env, pol, stop, nil
}

// Run drills one scenario against real containers. Every container and the
// network are removed before it returns: after a pass, a failure, a
// timeout, a cancelled ctx or a panic in the controller.
func Run(ctx context.Context, opts RunOptions) (rep *Report, err error) {
	sc, err := scenario.Lookup(opts.Scenario)
	if err != nil {
		return nil, err
	}
	if opts.Engine == EngineArgo {
		return runArgo(ctx, opts, sc)
	}
	if opts.Timeout == 0 {
		opts.Timeout = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	pol := opts.Policy
	if err := pol.Refuse(sc); err != nil {
		return nil, err
	}
	rep = newReport(opts, pol, sc, EngineBuiltin)
	runID := rep.RunID
	env, pol, stop, err := startEnv(ctx, opts, pol, sc, rep, false)
	if err != nil {
		return nil, err
	}
	defer stop(&err)
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("drill %s: controller panicked: %v", sc.Name, p)
		}
	}()

	prom, err := startPrometheus(ctx, env, opts, pol, sc)
	if err != nil {
		return nil, err
	}
	api, err := metricquery.NewClient(prom.URL)
	if err != nil {
		return nil, err
	}
	w := &world{env: env, prom: prom, http: &http.Client{Timeout: 3 * time.Second}}
	c := &Controller{Policy: pol, Scenario: string(sc.Name), Traffic: w, Metrics: w, Prometheus: api, Health: w, Canary: env, Pager: w, Evidence: w, Warmer: w, Clock: realClock{}, Ledger: opts.Ledger, Log: opts.Log}
	if env.Service != nil {
		// The team's own service: the drill applies the plan's migrations
		// when their runs: says (the demo's canary migrates itself).
		c.Migrator = w
	}
	c.OnEvent = func(e Event) {
		if opts.OnEvent != nil {
			opts.OnEvent(e)
		}
		// The releases' own words at the moment the trigger fired.
		if e.Type == drillreport.EventTrigger {
			c.Record(Event{Type: drillreport.EventLog, Message: "the releases' last log lines at the trigger", Logs: releaseLogs(ctx, env)})
		}
	}
	c.SetFreeze(sc.Inject.Freeze)
	c.Record(Event{Type: drillreport.EventAction, Action: drillreport.ActionStarted, Message: "drill " + runID + " started: containers up"})
	if err := w.put(ctx, env.LoadURL+drillagent.PathRate, map[string]float64{"rate": pol.Rate}); err != nil {
		return nil, err
	}
	// The baseline's start is the first migration's "before".
	if snap, err := w.Snapshot(ctx); err == nil {
		c.migratedSnap = snap
	}
	// Let stable traffic establish the baseline before anything is
	// injected: a window of it, so the stable release's own level (the
	// analysis of a stable regression) is measured before the rollout.
	if err := realClock.Sleep(realClock{}, ctx, min(max(300*time.Millisecond, pol.D(pol.maxWindow())), 3*time.Second)); err != nil {
		return nil, err
	}
	c.Mark()
	_, _ = w.Failures(ctx) // failures before the drill are not its own
	loadBefore, _ := w.loadStats(ctx)
	c.Read(ctx)
	if sh := pol.Shape(); sc.Inject.AfterContract && (sh == scenario.ShapeContractAfter || sh == scenario.ShapeContractBefore) {
		// The canary's faults start where the plan puts its contract.
		faults, rest := sc, sc
		faults.Inject = scenario.Injection{CanaryErrors: sc.Inject.CanaryErrors, CanaryLatency: sc.Inject.CanaryLatency}
		rest.Inject.CanaryErrors, rest.Inject.CanaryLatency = 0, 0
		if err := inject(ctx, w, c, rest); err != nil {
			return nil, err
		}
		c.AfterMigration = func(ctx context.Context, m Migration) {
			if m.Contract {
				if err := inject(ctx, w, c, faults); err != nil {
					c.Record(Event{Type: drillreport.EventInjection, Error: err.Error(), Message: "injecting the canary's faults failed: " + err.Error()})
				}
				c.AfterMigration = nil
			}
		}
	} else if err := inject(ctx, w, c, sc); err != nil {
		return nil, err
	}
	if hold := sc.Inject.LongReader; hold > 0 {
		c.BeforeMigration = func(ctx context.Context, m Migration) {
			tables, err := env.HoldRead(ctx, m.Tables(), hold)
			if err != nil {
				c.Record(Event{Type: drillreport.EventInjection, Error: err.Error(), Message: "starting the long reader failed: " + err.Error()})
				return
			}
			c.Record(Event{Type: drillreport.EventLongReader, Message: fmt.Sprintf("a read transaction on %s stays open for %s before migration %s, as a report or pg_dump would", strings.Join(tables, ", "), hold, m.ID)})
		}
	}
	final, runErr := c.Run(ctx)
	if opts.AfterRun != nil {
		opts.AfterRun(ctx, prom.URL, c.Started())
	}
	finish(ctx, rep, c, w, pol, sc, final, runErr, loadBefore)
	return rep, runErr
}

// finish reads what the drill showed (the timeline, the router, the load
// generator, the pager) into rep, with the scenario's assertions: the same
// for every engine.
func finish(ctx context.Context, rep *Report, c *Controller, w *world, pol Policy, sc scenario.Scenario, final State, runErr error, loadBefore *loadCounts) {
	rep.FinalState = final
	f := collect(c.Events(), pol.D(pol.maxWindow())+2*interval(pol))
	// Errors back to baseline: one interval of traffic after the end.
	if final == RolledBack {
		// Requests the canary took before the shift finish first (slowly,
		// in the latency drill); only then does a clean window start.
		_ = realClock.Sleep(realClock{}, ctx, sc.Inject.CanaryLatency+300*time.Millisecond)
		before, _ := w.Snapshot(ctx)
		_ = realClock.Sleep(realClock{}, ctx, 500*time.Millisecond)
		after, _ := w.Snapshot(ctx)
		d := after.Sub(before)
		f.afterErrRate, f.afterCanary = d.Stable.ErrorRate(), d.Canary.Requests
		for _, m := range c.Measurements() {
			if m.Stable.Requests > 0 {
				f.baseErrRate = m.Stable.ErrorRate
				break
			}
		}
	} else {
		// What users see once the controller has stopped acting.
		_ = realClock.Sleep(realClock{}, ctx, 500*time.Millisecond)
	}
	c.Read(ctx)
	if loadAfter, err := w.loadStats(ctx); err == nil && loadBefore != nil {
		rep.Load = &drillreport.LoadCount{Requests: loadAfter.Total - loadBefore.Total, Failed: loadAfter.Failed - loadBefore.Failed}
	}
	rep.Pages, _ = w.pages(ctx)
	rep.Timeline, rep.Intervals = c.Events(), c.Measurements()
	shape := pol.Shape()
	asserts, paged := sc.For(shape)
	if len(f.migrations) > 0 {
		asserts = withMigrationAsserts(asserts)
	}
	rep.Migrations = migrationRuns(pol, f)
	rep.Impact, rep.BlastRadius = impact(c.readings, f)
	rep.Failures = c.Failures()
	rep.Assertions = assertions(sc, asserts, pol, f)
	needs := cannotCanary(pol, f, rep.Images)
	if needs != "" {
		rep.Assertions = append(rep.Assertions, check("the canary serves before its later migrations run", false, "%s", needs))
	}
	rep.Guard = guardSummary(pol, sc, f)
	rep.Logs = releaseLogs(ctx, w.env)
	if paged && len(rep.Pages) == 0 {
		rep.Assertions = append(rep.Assertions, check("the pager received the page", false, "the pager container holds no page"))
	}
	for i := range rep.Assertions {
		if !rep.Assertions[i].Passed {
			rep.Assertions[i].Failures = evidenceFor(rep.Failures)
		}
	}
	rep.Headline = headline(rep, f, needs)
	if f.triggerAt >= 0 && f.injectedAt >= 0 {
		v := (f.triggerAt - f.injectedAt).Seconds()
		vp := v * pol.Scale
		rep.TTD, rep.TTDPlan = &v, &vp
	}
	if f.rolledBackAt >= 0 && f.triggerAt >= 0 {
		v := (f.rolledBackAt - f.triggerAt).Seconds()
		vp := v * pol.Scale
		rep.TTR, rep.TTRPlan = &v, &vp
	}
	rep.Passed = runErr == nil && len(rep.Failed()) == 0
	if runErr != nil {
		rep.Error = runErr.Error()
	}
	rep.Finished = time.Now().UTC()
}

func inject(ctx context.Context, w *world, c *Controller, sc scenario.Scenario) error {
	in := sc.Inject
	injected := func(msg string) {
		c.Record(Event{Type: drillreport.EventInjection, Message: msg})
	}
	if in.CanaryErrors > 0 || in.CanaryLatency > 0 {
		body := map[string]any{"error_rate": in.CanaryErrors}
		if in.CanaryLatency > 0 {
			body["latency"] = in.CanaryLatency.String()
		}
		if err := w.put(ctx, w.env.FaultsURL+drillagent.PathFaults, body); err != nil {
			return err
		}
		msg := fmt.Sprintf("injected: canary answers 5xx at %.0f%%", in.CanaryErrors*100)
		if in.CanaryLatency > 0 {
			msg = "injected: canary latency +" + in.CanaryLatency.String()
		}
		injected(msg)
	}
	if in.StableBroken {
		if w.env.Service != nil {
			// The team's service cannot be told to break: the proxy its
			// health checks pass through fails them instead.
			if err := w.put(ctx, w.env.StableHealthURL+drillagent.PathFaults, map[string]any{"error_rate": 1, "faults_health": true}); err != nil {
				return err
			}
		} else if err := w.post(ctx, w.env.StableURL+drillagent.PathBreak, map[string]any{"health": true}); err != nil {
			return err
		}
		injected("injected: stable release reports unhealthy")
	}
	if in.Contract {
		if w.env.Service == nil {
			injected("injected: canary shipped a contract migration (drops orders.note, which stable reads)")
		} else {
			injected("the canary shipped the plan's own migrations: " + strings.Join(migrationNames(c.Policy.Migrations), ", "))
		}
	}
	if in.Freeze {
		injected("freeze switch on")
	}
	if in.MetricsMissing {
		if err := w.prom.StopScrapingRouter(ctx); err != nil {
			return err
		}
		injected("injected: the router's metrics stop (Prometheus no longer scrapes it): every analysis is inconclusive once its window has passed")
	}
	if in == (scenario.Injection{}) {
		injected(sc.Summary)
	}
	return nil
}

// startPrometheus starts the drill's Prometheus, scraping the router and,
// when the plan says so, the team's service: the same for every engine.
func startPrometheus(ctx context.Context, env *drillenv.Env, opts RunOptions, pol Policy, sc scenario.Scenario) (*drillenv.Prometheus, error) {
	prom, err := env.StartPrometheus(ctx, drillenv.PrometheusOptions{Image: opts.PrometheusImage, Service: pol.Service, ScrapeInterval: pol.ScrapeInterval(), ServiceMetrics: pol.ServiceMetrics, ServicePort: pol.ServicePort})
	if err != nil {
		return nil, fmt.Errorf("drill %s could not start its Prometheus: %w", sc.Name, err)
	}
	return prom, nil
}

// world adapts the drill containers to the controller's interfaces.
type world struct {
	env  *drillenv.Env
	prom *drillenv.Prometheus
	http *http.Client
}

func (w *world) do(ctx context.Context, method, url string, body any) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return w.http.Do(req)
}

func (w *world) send(ctx context.Context, method, url string, body any) error {
	resp, err := w.do(ctx, method, url, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, bytes.TrimSpace(b))
	}
	return nil
}

func (w *world) put(ctx context.Context, url string, body any) error {
	return w.send(ctx, http.MethodPut, url, body)
}

func (w *world) post(ctx context.Context, url string, body any) error {
	return w.send(ctx, http.MethodPost, url, body)
}

func (w *world) SetCanaryWeight(ctx context.Context, pct int) error {
	return w.put(ctx, w.env.RouterURL+drillagent.PathWeights, map[string]int{"canary": pct})
}

func (w *world) Snapshot(ctx context.Context) (analysis.Snapshot, error) {
	resp, err := w.do(ctx, http.MethodGet, w.env.RouterURL+drillagent.PathMetrics, nil)
	if err != nil {
		return analysis.Snapshot{}, err
	}
	defer resp.Body.Close()
	return analysis.ParseMetrics(resp.Body, time.Now())
}

func (w *world) CanaryReady(ctx context.Context) bool {
	return w.send(ctx, http.MethodGet, w.env.FaultsURL+w.env.ReadyPath, nil) == nil
}

func (w *world) StableReady(ctx context.Context) error {
	if w.env.StableHealthURL != "" {
		return w.send(ctx, http.MethodGet, w.env.StableHealthURL+w.env.ReadyPath, nil)
	}
	return w.send(ctx, http.MethodGet, w.env.StableURL+w.env.ReadyPath, nil)
}

// StableSmoke runs the stable release's own smoke list (the demo's /smoke).
func (w *world) StableSmoke(ctx context.Context) error {
	if w.env.Service != nil {
		return drillenv.Smoke(ctx, w.env.StableURL, w.env.Service.Smoke)
	}
	return w.send(ctx, http.MethodGet, w.env.StableURL+drillagent.PathSmoke, nil)
}

// CanarySmoke runs the canary's smoke list (smoke_canary, else smoke)
// against the canary itself, not through the fault injector.
func (w *world) CanarySmoke(ctx context.Context) error {
	if w.env.Service != nil {
		return drillenv.Smoke(ctx, w.env.CanaryURL, w.env.Service.CanarySmoke())
	}
	return w.send(ctx, http.MethodGet, w.env.CanaryURL+drillagent.PathSmoke, nil)
}

// WarmCanary has the load generator warm the canary up (warmup.Run):
// 16 at a time, batches of 64, for at most 5 s.
func (w *world) WarmCanary(ctx context.Context) (drillreport.Warmup, error) {
	var out drillreport.Warmup
	resp, err := w.do(ctx, http.MethodPost, w.env.LoadURL+drillagent.PathWarm, warmup.Request{Target: w.env.CanaryAddr, Concurrency: 16, Batch: 64, Max: 5 * time.Second})
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return out, fmt.Errorf("load generator warm-up: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

// Migrate applies one of the plan's migrations to the drill's database.
func (w *world) Migrate(ctx context.Context, file string) (drillreport.MigrationLoad, error) {
	return w.env.Migrate(ctx, file)
}

// Failures drains the failing responses the router kept.
func (w *world) Failures(ctx context.Context) ([]drillreport.Failure, error) {
	resp, err := w.do(ctx, http.MethodGet, w.env.RouterURL+drillagent.PathFailures, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("router failures: %s", resp.Status)
	}
	var fs []drillreport.Failure
	return fs, json.NewDecoder(resp.Body).Decode(&fs)
}

// loadCounts is the load generator's own count of what it sent, and of
// what failed (5xx, or no answer at all).
type loadCounts struct {
	Total  float64 `json:"total"`
	Failed float64 `json:"failed"`
}

func (w *world) loadStats(ctx context.Context) (*loadCounts, error) {
	resp, err := w.do(ctx, http.MethodGet, w.env.LoadURL+drillagent.PathStats, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var l loadCounts
	return &l, json.NewDecoder(resp.Body).Decode(&l)
}

func (w *world) Page(ctx context.Context, p Page) error {
	return w.post(ctx, w.env.PagerURL+drillagent.PathPages, p)
}

func (w *world) pages(ctx context.Context) ([]Page, error) {
	resp, err := w.do(ctx, http.MethodGet, w.env.PagerURL+drillagent.PathPages, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var ps []Page
	return ps, json.NewDecoder(resp.Body).Decode(&ps)
}

// environment says what the drill of sc starts: the demo service with an
// injected contract migration when the scenario needs one, or the team's
// own service with the plan's migrations (its contract ones only in the
// scenario that ships them). It returns the policy as drilled and a
// function that removes temporary files.
func environment(ctx context.Context, pol Policy, sc scenario.Scenario, runID, agentImage, dbImage string) (drillenv.Options, []drillreport.Image, Policy, func(), error) {
	opts := drillenv.Options{RunID: runID, AgentImage: agentImage, DBImage: dbImage}
	done := func() {}
	if pol.OwnService == nil {
		for _, m := range pol.Migrations {
			opts.CanaryMigrations = append(opts.CanaryMigrations, m.File)
		}
		if sc.Inject.Contract {
			dir, err := os.MkdirTemp("", "rollbook-drill-")
			if err != nil {
				return opts, nil, pol, done, err
			}
			done = func() { os.RemoveAll(dir) }
			// The demo service's stable release reads orders.note; the canary drops it.
			f := filepath.Join(dir, "9999_drill_drop_orders_note.sql")
			if err := os.WriteFile(f, []byte("-- injected by the incompatible-migration drill\nALTER TABLE orders DROP COLUMN note;\n"), 0o644); err != nil {
				return opts, nil, pol, done, err
			}
			if err := pol.AddMigration(f); err != nil {
				return opts, nil, pol, done, err
			}
			opts.CanaryMigrations = append(opts.CanaryMigrations, f)
		}
		return opts, nil, pol, done, nil
	}
	sp := pol.OwnService
	svc := &drillenv.Service{Port: sp.Port, Env: sp.Env, Ready: sp.Ready, Smoke: sp.Smoke, SmokeCanary: sp.SmokeCanary, Traffic: sp.Traffic, Database: sp.Database.Name}
	if sp.Database.Schema != "" {
		svc.Schema = filepath.Join(sp.Dir, filepath.FromSlash(sp.Database.Schema))
	}
	svc.Volume = sp.Database.Volume
	if sp.Database.Seed != "" {
		svc.Seed, svc.SeedName = filepath.FromSlash(sp.Database.Seed), sp.Database.Seed
		if !filepath.IsAbs(svc.Seed) {
			svc.Seed = filepath.Join(sp.Dir, svc.Seed)
		}
	}
	var images []drillreport.Image
	for _, r := range []struct {
		name string
		rel  plan.Release
		dst  *drillenv.Image
	}{{"stable", sp.Stable, &svc.Stable}, {"canary", sp.Canary, &svc.Canary}} {
		spec := drillenv.ReleaseSpec{Release: r.name, Image: r.rel.Image, Dockerfile: r.rel.Build.Dockerfile, Args: r.rel.Build.Args}
		if c := filepath.FromSlash(r.rel.Build.Context); filepath.IsAbs(c) {
			spec.Context = c
		} else if c != "" {
			spec.Context = filepath.Join(sp.Dir, c)
		}
		img, err := drillenv.ReleaseImage(ctx, spec)
		if err != nil {
			return opts, nil, pol, done, err
		}
		*r.dst = img
		images = append(images, drillreport.Image{Release: r.name, Ref: img.Ref, ID: img.ID, Built: img.Built})
	}
	for _, d := range sp.DependsOn {
		img, err := drillenv.ReleaseImage(ctx, drillenv.ReleaseSpec{Release: d.Name, Image: d.Image})
		if err != nil {
			return opts, nil, pol, done, fmt.Errorf("dependency %s: %w", d.Name, err)
		}
		svc.Deps = append(svc.Deps, drillenv.Dependency{Name: d.Name, Image: d.Image, Port: d.Port, Env: d.Env})
		images = append(images, drillreport.Image{Release: d.Name, Ref: img.Ref, ID: img.ID})
	}
	// The drill applies the plan's migrations itself, each when its
	// runs: says (Controller.Migrator), not before the canary starts.
	opts.Service = svc
	return opts, images, pol, done, nil
}

func migrationNames(ms []Migration) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}

// releaseLogs are the last lines of each release's log.
func releaseLogs(ctx context.Context, env *drillenv.Env) []drillreport.ReleaseLog {
	var out []drillreport.ReleaseLog
	for _, r := range []string{"stable", "canary"} {
		if lines := env.LogLines(ctx, r, 20); len(lines) > 0 {
			out = append(out, drillreport.ReleaseLog{Release: r, Lines: lines})
		}
	}
	return out
}

// guardSummary says what the drill proved about the migration guard.
func guardSummary(pol Policy, sc scenario.Scenario, f facts) string {
	if !sc.Inject.Contract {
		return ""
	}
	names := strings.Join(migrationNames(pol.Migrations), ", ")
	shape := pol.Shape()
	switch {
	case shape == scenario.ShapeContractBefore:
		if m, v, ok := f.broken(); ok {
			return fmt.Sprintf("contract migration (%s) before promotion: %s broke the %s release while it served %d%% of traffic; halted and paged", names, m.ID, v.Release, v.Share)
		}
		return "contract migration (" + names + ") before promotion: the guard did not see the stable release break"
	case f.smokePassed == nil:
		return "the migration guard was not reached (no migration ran and no trigger fired)"
	case shape == scenario.ShapeExpand && *f.smokePassed:
		return "expand-only migrations (" + names + "): the stable release's smoke checks still pass after the canary's migrations, so rolling back is safe"
	case shape == scenario.ShapeContractAfter && !*f.smokePassed:
		return "contract migration (" + names + ") after promotion: the stable release's smoke checks fail against the migrated database; the guard blocked the automatic rollback and paged"
	case !*f.smokePassed:
		return "contract migration (" + names + "): the stable release's smoke checks fail against the migrated database; the guard blocked the automatic rollback and paged"
	}
	return "the stable release's smoke checks pass after the migrations"
}
