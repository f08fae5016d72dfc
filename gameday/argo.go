package gameday

// The Argo engine: the plan's rollout run by the real Argo Rollouts
// controller (internal/argoengine starts its cluster) on the manifests
// `rollbook export argo` writes, against the same drill environment,
// scenarios and assertions as the built-in controller. Argo decides;
// this file watches the Rollout, its AnalysisRuns and its pods and
// writes what it sees on the same typed timeline.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rollbook/rollbook/internal/analysis"
	"github.com/rollbook/rollbook/internal/argoengine"
	"github.com/rollbook/rollbook/internal/drillagent"
	"github.com/rollbook/rollbook/internal/drillenv"
	"github.com/rollbook/rollbook/internal/drillreport"
	"github.com/rollbook/rollbook/internal/metricquery"
	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/scenario"
)

// Engine names the controller that runs a drill's rollout.
type Engine = drillreport.Engine

const (
	EngineBuiltin = drillreport.EngineBuiltin
	EngineArgo    = drillreport.EngineArgo
)

// ParseEngine reads an engine's name (--engine).
func ParseEngine(s string) (Engine, error) {
	for _, e := range drillreport.Engines {
		if string(e) == s {
			return e, nil
		}
	}
	return "", fmt.Errorf("unknown engine %q: use builtin or argo", s)
}

// ArgoOptions are what a drill on the Argo engine needs besides RunOptions.
type ArgoOptions struct {
	// Bin is the folder of rollbook-cluster and the programs it runs
	// (argoengine.FindBin).
	Bin string
	// Export is `rollbook export argo`'s YAML for the plan: what Argo is
	// given, with the drill's addresses filled in.
	Export []byte
	// Poll is how often the Rollout is read (0: every 250 ms).
	Poll time.Duration
}

// podWarmUp is how long a new pod of the example service answers slowly
// once traffic reaches it, measured on this 2-core machine with the
// cluster running: the canary's p99 per second was 0.3, 0.8, 1.7 and
// 2.4 s in its first four seconds of traffic at 800 requests per second,
// then 0.05 to 0.2 s.
const podWarmUp = 5 * time.Second

// argoDefaultTimeout bounds a drill on the Argo engine: the cluster's own
// start is part of it.
const argoDefaultTimeout = 5 * time.Minute

// argoRefuse says why scenario sc cannot be drilled on the Argo engine.
func argoRefuse(pol Policy, sc scenario.Scenario) error {
	if pol.OwnService == nil {
		return fmt.Errorf("%s: the Argo engine runs the team's own releases as the Rollout's pods: name them in gameday.service", pol.Plan)
	}
	for _, m := range pol.Migrations {
		switch m.Timing.Runs {
		case plan.RunsPreDeploy, plan.RunsManual:
		default:
			return fmt.Errorf("%s: migration %s runs %s; the Argo engine applies pre-deploy migrations only so far (Argo has no hook at a step that the drill could follow)", pol.Plan, m.ID, m.Timing.Runs)
		}
	}
	in := sc.Inject
	switch {
	case in.Freeze:
		return fmt.Errorf("scenario %s: Argo Rollouts has no freeze switch (the export says so): nothing of Argo can be drilled for it", sc.Name)
	case in.StableBroken:
		return fmt.Errorf("scenario %s is not drilled on the Argo engine yet: Argo verifies the stable release with its pods' readiness, which the drill cannot break from outside the release", sc.Name)
	case in.LongReader > 0:
		return fmt.Errorf("scenario %s is not drilled on the Argo engine yet: it needs migrations at steps, which Argo does not run", sc.Name)
	case in.Contract && pol.Shape() != scenario.ShapeExpand:
		return fmt.Errorf("scenario %s on a plan with a contract migration is not drilled on the Argo engine: its export has no automatic abort (that is the guard on Argo), and what the scenario asserts next, a page, Argo does not send", sc.Name)
	}
	return nil
}

// runArgo is Run on the Argo engine.
func runArgo(ctx context.Context, opts RunOptions, sc scenario.Scenario) (rep *Report, err error) {
	if opts.Argo == nil || len(opts.Argo.Export) == 0 {
		return nil, errors.New("the Argo engine needs RunOptions.Argo with the plan's export")
	}
	if opts.Timeout == 0 {
		opts.Timeout = argoDefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	pol := opts.Policy
	if err := pol.Refuse(sc); err != nil {
		return nil, err
	}
	if err := argoRefuse(pol, sc); err != nil {
		return nil, err
	}
	manifests, err := argoengine.ParseExport(opts.Argo.Export)
	if err != nil {
		return nil, err
	}
	rep = newReport(opts, pol, sc, EngineArgo)
	runID := rep.RunID
	env, pol, stop, err := startEnv(ctx, opts, pol, sc, rep, true)
	if err != nil {
		return nil, err
	}
	defer stop(&err)
	prom, err := startPrometheus(ctx, env, opts, pol, sc)
	if err != nil {
		return nil, err
	}

	// The cluster stops before the environment goes (defers run last
	// first): its node agent removes the pods' containers itself.
	network, err := env.Network(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "rollbook-argo-")
	if err != nil {
		return nil, err
	}
	cluster, err := argoengine.StartCluster(ctx, argoengine.ClusterOptions{Bin: opts.Argo.Bin, Dir: dir, Network: network, Labels: env.Labels(), Log: opts.Log})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("drill %s: %w", sc.Name, err)
	}
	defer func() {
		if serr := cluster.Stop(); serr != nil && err == nil {
			err = fmt.Errorf("stopping the drill cluster: %w", serr)
		}
		if err == nil && rep != nil && rep.Passed {
			os.RemoveAll(dir)
		} else if rep != nil {
			rep.Logs = append(rep.Logs, drillreport.ReleaseLog{Release: "argo cluster", Lines: []string{"the cluster's logs are kept in " + dir}})
		}
	}()
	rep.Argo = &drillreport.ArgoRun{Rollout: manifests.Name(), Startup: cluster.Took, Components: cluster.Startup}
	kube, err := argoengine.NewClient(cluster.Kubeconfig)
	if err != nil {
		return nil, err
	}

	svc := env.Service
	stableEnv, err := svc.ReleaseEnv("stable")
	if err != nil {
		return nil, err
	}
	canaryEnv, err := svc.ReleaseEnv("canary")
	if err != nil {
		return nil, err
	}
	changes, err := manifests.ForDrill(argoengine.Drill{
		Prometheus: prom.URL, Router: env.RouterURL, Faults: env.FaultsURL,
		Scale:  pol.Scale,
		Weight: func(w int) int { return pol.DrillWeight(plan.Step{Weight: w}) },
		App:    plan.Slug(pol.Plan), Image: svc.Stable.Ref, Env: stableEnv, Port: svc.Port, ReadyPath: env.ReadyPath,
	})
	if err != nil {
		return nil, fmt.Errorf("drill %s: the exported manifests: %w", sc.Name, err)
	}
	rep.Argo.Changes = append([]string{"the analysis's Prometheus address: the drill's Prometheus"}, changes...)

	w := &world{env: env, prom: prom, http: &http.Client{Timeout: 3 * time.Second}}
	c := &Controller{Policy: pol, Scenario: string(sc.Name), Traffic: w, Metrics: w, Health: w, Canary: env, Pager: w, Evidence: w, Migrator: w, Clock: realClock{}, Ledger: opts.Ledger, Log: opts.Log}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	c.OnEvent = opts.OnEvent
	c.begin()
	c.Record(Event{Type: drillreport.EventAction, Action: drillreport.ActionStarted, Message: fmt.Sprintf("drill %s started: containers up, Argo Rollouts cluster up in %s", runID, cluster.Took.Round(time.Millisecond))})

	for _, t := range manifests.Templates {
		if err := kube.Create(ctx, kube.AnalysisTemplatesPath(), t); err != nil {
			return nil, fmt.Errorf("drill %s: Argo refuses the exported AnalysisTemplate %v: %w", sc.Name, t["metadata"].(map[string]any)["name"], err)
		}
	}
	if err := kube.Create(ctx, kube.RolloutsPath(), manifests.Rollout); err != nil {
		return nil, fmt.Errorf("drill %s: Argo refuses the exported Rollout: %w", sc.Name, err)
	}
	name := manifests.Name()
	created := time.Now()
	stable, err := waitStable(ctx, kube, name)
	if err != nil {
		return nil, fmt.Errorf("drill %s: %w; the end of the cluster's log:\n%s", sc.Name, err, cluster.Tail(10))
	}
	podStart := time.Since(created)
	c.Record(Event{Type: drillreport.EventAction, Message: fmt.Sprintf("Argo: Rollout %s Healthy in %s, stable ReplicaSet %s (%s)", name, podStart.Round(time.Millisecond), stable, svc.Stable.Ref)})
	// Argo measures from the moment the canary's ReplicaSet exists, and a
	// pod's start-up does not shrink with the time scale: the stable
	// pod's, measured just now, would be minutes of plan time in which
	// every measurement is inconclusive (and counts against
	// inconclusiveLimit). The analysis waits that long first.
	// Twice the stable's (the canary's start took up to twice as long on
	// a busy machine), then its warm-up and a window: a new pod's first
	// requests are slow (its database pool grows), seconds that do not
	// shrink either and would fill a compressed window. The built-in
	// controller waits a whole window after every shift for the same
	// reason.
	delay := time.Duration(math.Ceil(2*podStart.Seconds()+podWarmUp.Seconds()+pol.D(pol.maxWindow()).Seconds())) * time.Second
	for _, t := range manifests.DelayAnalysis(delay) {
		if err := kube.PatchJSON(ctx, kube.AnalysisTemplatesPath()+"/"+t, []argoengine.PatchOp{{Op: "replace", Path: "/spec/metrics", Value: manifests.TemplateMetrics(t)}}); err != nil {
			return nil, fmt.Errorf("drill %s: delaying AnalysisTemplate %s: %w", sc.Name, t, err)
		}
	}
	rep.Argo.Changes = append(rep.Argo.Changes, fmt.Sprintf("initialDelay %s on every metric (twice the stable pod's %s from the Rollout to Ready, %s of warm-up and the longest window): a canary pod's start-up and its first slow requests do not shrink with the time scale (at %gx they would be %s of plan time of inconclusive or cold measurements); the fault goes in when the analysis starts, or when the canary is Ready if later", delay, podStart.Round(time.Millisecond), podWarmUp, pol.Scale, (time.Duration(float64(delay)*pol.Scale)).Round(time.Second)))
	port := svc.Port
	if err := pointAt(ctx, w, env, argoengine.Alias(stable), port); err != nil {
		return nil, err
	}
	if err := prom.SetHashes(ctx, map[string]string{"stable": stable}); err != nil {
		return nil, err
	}
	if env.StableURL, err = env.AliasURL(ctx, argoengine.Alias(stable), port); err != nil {
		return nil, err
	}
	if err := drillenv.Smoke(ctx, env.StableURL, svc.Smoke); err != nil {
		return nil, fmt.Errorf("drill %s: the stable release fails its own smoke checks before any migration, so the drill does not start (the smoke list is wrong, not the migration): %w; fix gameday.service.smoke", sc.Name, err)
	}
	if err := w.put(ctx, env.LoadURL+drillagent.PathRate, map[string]float64{"rate": pol.Rate}); err != nil {
		return nil, err
	}
	// A window of stable traffic first, as the built-in drill does: the
	// baseline and the stable release's own level.
	if err := (realClock{}).Sleep(ctx, min(max(300*time.Millisecond, pol.D(pol.maxWindow())), 3*time.Second)); err != nil {
		return nil, err
	}
	_, _ = w.Failures(ctx)
	loadBefore, _ := w.loadStats(ctx)
	c.Read(ctx)
	c.recordManual()
	c.noCanary = true
	if st, stop, err := c.migrate(ctx, plan.RunsPreDeploy, 0); stop {
		finish(ctx, rep, c, w, pol, sc, st, err, loadBefore)
		return rep, err
	}
	c.noCanary = false

	// The release: the Rollout's pod template gets the canary's image and
	// environment, as `kubectl argo rollouts set image` would.
	env0 := make([]any, 0, len(canaryEnv))
	for _, e := range sortedEnv(canaryEnv) {
		env0 = append(env0, map[string]any{"name": e[0], "value": e[1]})
	}
	ops := []argoengine.PatchOp{
		{Op: "replace", Path: "/spec/template/spec/containers/0/image", Value: svc.Canary.Ref},
		{Op: "replace", Path: "/spec/template/spec/containers/0/env", Value: env0},
	}
	// What the analysis waits out is no time in plan time, so the rollout
	// waits it out too: the first pause is longer by as much, and every
	// bake after the canary's start is analysed as long as the plan says
	// (else a slow start could leave the analysis a last step, or none).
	steps := manifests.Steps()
	for i, st := range steps {
		if st.IsPause && !st.Unbounded {
			longer := int(math.Ceil((st.Pause + delay).Seconds()))
			ops = append(ops, argoengine.PatchOp{Op: "replace", Path: fmt.Sprintf("/spec/strategy/canary/steps/%d/pause/duration", i), Value: longer})
			steps[i].Pause = time.Duration(longer) * time.Second
			rep.Argo.Changes = append(rep.Argo.Changes, fmt.Sprintf("step %d: pause %s made %ds, longer by the analysis's initialDelay (%s), so the bakes after the canary's start are analysed as long as the plan says", i+1, st.Pause, longer, delay))
			break
		}
	}
	if err := kube.PatchJSON(ctx, kube.RolloutPath(name), ops); err != nil {
		return nil, fmt.Errorf("drill %s: updating the Rollout's image: %w", sc.Name, err)
	}
	c.Record(Event{Type: drillreport.EventAction, Message: "Argo: Rollout image set to " + svc.Canary.Ref})

	a := &argoWatch{c: c, steps: steps, stable: stable, seen: map[string]int{}, fired: map[string]bool{}, share: -1, analysisDelay: delay}
	a.onCanary = func(ctx context.Context, hash string) {
		if err := prom.SetHashes(ctx, map[string]string{"stable": stable, "canary": hash}); err != nil {
			c.Record(Event{Type: drillreport.EventAnalysis, Error: err.Error(), Message: "labelling the canary's series with its hash failed: " + err.Error()})
		}
	}
	// On an expand-only plan, a rollback must be safe: when Argo fails a
	// metric, the drill checks what the built-in guard checks, the stable
	// release's smoke list against the migrated database (Argo does not).
	a.onTrigger = func(ctx context.Context) {
		if !c.migrated() {
			return
		}
		if err := w.StableSmoke(ctx); err != nil {
			c.Record(Event{Type: drillreport.EventGuard, Release: "stable", SmokePassed: new(false), Error: excerpt(err.Error()), Message: "migration guard (the drill's check; Argo has none): stable smoke fails against the migrated database: " + excerpt(err.Error())})
			return
		}
		c.Record(Event{Type: drillreport.EventGuard, Release: "stable", SmokePassed: new(true), Message: "migration guard (the drill's check; Argo has none): stable smoke still passes against the migrated database: rolling back is safe"})
	}
	a.onCanaryReady = func(ctx context.Context, hash string) error {
		// The canary's address is for its smoke checks only: a pod whose
		// container is restarting has none for a moment, and that is no
		// reason to end the drill.
		if u, err := env.AliasURL(ctx, argoengine.Alias(hash), port); err == nil {
			env.CanaryURL = u
		} else {
			c.Log.Warn("the canary's address", "err", err)
		}
		// The fault goes in once the canary can take traffic: what the
		// built-in drill's canary has from its first step.
		return inject(ctx, w, c, sc)
	}
	poll := opts.Argo.Poll
	if poll <= 0 {
		// Each read is five requests; the two cores also run the cluster,
		// the drill and its load.
		poll = 250 * time.Millisecond
	}
	final, runErr := a.run(ctx, kube, name, argoTraffic{w}, poll)
	if runErr != nil {
		runErr = fmt.Errorf("%w; the end of the cluster's log:\n%s", runErr, cluster.Tail(10))
	}
	finish(ctx, rep, c, w, pol, sc, final, runErr, loadBefore)
	rep.Argo.Changes = append(rep.Argo.Changes, a.notes...)
	return rep, runErr
}

// waitStable waits for the first release: the Rollout Healthy with a
// ready pod of its stable ReplicaSet. Argo refuses a spec once and for
// all (InvalidSpec): that is an error at once.
func waitStable(ctx context.Context, kube *argoengine.Client, name string) (string, error) {
	var last argoengine.Observation
	var err error
	for {
		last, err = kube.Observe(ctx, name)
		st := last.Rollout.Status
		if err == nil && strings.HasPrefix(st.Message, "InvalidSpec") {
			return "", fmt.Errorf("argo refuses the exported Rollout: %s", st.Message)
		}
		if err == nil && st.Phase == "Healthy" && st.StableRS != "" && last.Ready[st.StableRS] > 0 {
			return st.StableRS, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("the Rollout's first release did not become Healthy (phase %q: %s; last error %v): %w", st.Phase, st.Message, err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// pointAt sends the router's stable share, the fault injector's and the
// stable health proxy's upstream to the release alias (Argo's plugin does
// the same once it has a canary; before, nothing has told them).
func pointAt(ctx context.Context, w *world, env *drillenv.Env, alias string, port int) error {
	u := "http://" + alias + ":" + strconv.Itoa(port)
	if err := w.put(ctx, env.RouterURL+drillagent.PathUpstreams, map[string]string{"stable": u}); err != nil {
		return fmt.Errorf("pointing the router at the stable release: %w", err)
	}
	for _, proxy := range []string{env.FaultsURL, env.StableHealthURL} {
		if err := w.put(ctx, proxy+drillagent.PathUpstreams, map[string]string{"canary": u}); err != nil {
			return fmt.Errorf("pointing %s at the stable release: %w", proxy, err)
		}
	}
	return nil
}

func sortedEnv(env map[string]string) [][2]string {
	out := make([][2]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, [2]string{k, env[k]})
	}
	return out
}

// argoReader reads the cluster (*argoengine.Client).
type argoReader interface {
	Observe(ctx context.Context, name string) (argoengine.Observation, error)
}

// trafficShare says what share of users' traffic reaches the release with
// a pod-template hash, as the drill router and the fault injector are set.
type trafficShare interface {
	Share(ctx context.Context, hash string) (int, error)
}

// argoTraffic reads the share from the drill's router and fault injector:
// what users get, which is what Argo's plugin set.
type argoTraffic struct{ w *world }

func (t argoTraffic) Share(ctx context.Context, hash string) (int, error) {
	var weights struct {
		Canary int `json:"canary"`
	}
	var router, faults map[string]string
	for _, r := range []struct {
		url string
		out any
	}{{t.w.env.RouterURL + drillagent.PathWeights, &weights}, {t.w.env.RouterURL + drillagent.PathUpstreams, &router}, {t.w.env.FaultsURL + drillagent.PathUpstreams, &faults}} {
		resp, err := t.w.do(ctx, http.MethodGet, r.url, nil)
		if err != nil {
			return 0, err
		}
		err = json.NewDecoder(resp.Body).Decode(r.out)
		resp.Body.Close()
		if err != nil {
			return 0, fmt.Errorf("reading %s: %w", r.url, err)
		}
	}
	return releaseShare(hash, weights.Canary, router["stable"], faults["canary"]), nil
}

// releaseShare is the percent of traffic that reaches the release with hash:
// the router sends 100-canary percent to its stable upstream and canary
// percent through the fault injector to the injector's upstream.
func releaseShare(hash string, canary int, stableUp, canaryUp string) int {
	if hash == "" {
		return 0
	}
	is := func(u string) bool { return strings.Contains(u, "//"+argoengine.Alias(hash)+":") }
	share := 0
	if is(stableUp) {
		share += 100 - canary
	}
	if is(canaryUp) {
		share += canary
	}
	return share
}

// argoWatch turns what the cluster shows into the drill's timeline.
type argoWatch struct {
	c      *Controller
	steps  []argoengine.Step
	stable string // the stable ReplicaSet before the release
	// onCanary runs once Argo made the canary's ReplicaSet; onCanaryReady
	// once a pod of it is Ready and the analysis has begun (an error ends
	// the drill).
	onCanary      func(ctx context.Context, hash string)
	onCanaryReady func(ctx context.Context, hash string) error
	// onTrigger runs once Argo failed a metric, after the trigger event.
	onTrigger func(ctx context.Context)
	// analysisDelay is the metrics' initialDelay: the analysis begins that
	// long after the canary's ReplicaSet.
	analysisDelay time.Duration

	canary        string
	canaryAt      time.Time
	canaryReady   bool
	injected      bool
	step          int // the step index last recorded, -1 none
	stepSeen      bool
	share         int
	seen          map[string]int // measurements seen per run and metric
	fired         map[string]bool
	aborted       bool
	canaryStopped bool
	notes         []string
}

// run polls until Argo reached a final state (promoted, rolled back,
// paused for a human, degraded) or ctx ends.
func (a *argoWatch) run(ctx context.Context, kube argoReader, name string, traffic trafficShare, every time.Duration) (State, error) {
	var lastErr error
	for {
		obs, err := kube.Observe(ctx, name)
		if err == nil {
			var share int
			share, err = traffic.Share(ctx, obs.Rollout.Status.CurrentPodHash)
			if err == nil {
				st, done, err := a.observe(ctx, obs, share)
				if err != nil || done {
					return st, err
				}
			}
		}
		if err != nil && ctx.Err() == nil && (lastErr == nil || err.Error() != lastErr.Error()) {
			a.c.Log.Warn("reading the Argo cluster", "err", err)
		}
		lastErr = err
		if err := (realClock{}).Sleep(ctx, every); err != nil {
			return a.c.State(), fmt.Errorf("waiting for Argo to decide (state %s, last read error %v): %w", a.c.State(), lastErr, err)
		}
	}
}

// observe records what changed since the last observation; done is true
// once Argo's decision is final.
func (a *argoWatch) observe(ctx context.Context, obs argoengine.Observation, share int) (State, bool, error) {
	c, st := a.c, obs.Rollout.Status
	if a.canary == "" && st.CurrentPodHash != "" && st.CurrentPodHash != a.stable {
		a.canary, a.canaryAt = st.CurrentPodHash, obs.At
		c.Record(Event{Type: drillreport.EventAction, Message: "Argo: canary ReplicaSet " + a.canary + " created"})
		if a.onCanary != nil {
			a.onCanary(ctx, a.canary)
		}
	}
	if a.canary == "" {
		return c.State(), false, nil
	}
	if !a.canaryReady && obs.Ready[a.canary] > 0 {
		a.canaryReady = true
		c.Record(Event{Type: drillreport.EventAction, Message: "Argo: a canary pod is Ready"})
	}
	// The start-up the analysis waits out is no time in plan time: the
	// fault goes in once both the canary and the analysis are under way.
	if a.canaryReady && !a.injected && !obs.At.Before(a.canaryAt.Add(a.analysisDelay)) {
		a.injected = true
		if a.onCanaryReady != nil {
			if err := a.onCanaryReady(ctx, a.canary); err != nil {
				return c.State(), true, err
			}
		}
	}
	// What Argo decided comes first, then where it has got to.
	a.analyses(ctx, obs)
	if st.Abort && !a.aborted {
		a.aborted = true
		c.setState(RollingBack, "Argo aborted the rollout: "+orNone(st.Message))
	}
	if i := st.CurrentStepIndex; i != nil && (!a.stepSeen || *i != a.step) && !a.aborted {
		a.step, a.stepSeen = *i, true
		if *i < len(a.steps) {
			s := a.steps[*i]
			to := Progressing
			if s.IsPause {
				to = Baking
			}
			c.setState(to, fmt.Sprintf("Argo step %d/%d: %s", *i+1, len(a.steps), s))
		}
	}
	if share != a.share {
		a.share = share
		c.mu.Lock()
		c.weight, c.weightSet = share, true
		c.mu.Unlock()
		c.record(Event{Type: drillreport.EventTraffic, Weight: &share, Message: fmt.Sprintf("traffic (Argo, as the drill router is set): canary %d%%, stable %d%%", share, 100-share)})
	}
	if a.aborted {
		if !a.canaryStopped && share == 0 && obs.Pods[a.canary] == 0 {
			a.canaryStopped = true
			c.mu.Lock()
			c.stopped = true
			c.mu.Unlock()
			c.record(Event{Type: drillreport.EventAction, Action: drillreport.ActionCanaryStopped, Message: "canary scaled down by Argo: no pod of " + a.canary + " left"})
		}
		if a.canaryStopped && obs.Ready[a.stable] > 0 {
			c.Read(ctx)
			return c.setState(RolledBack, fmt.Sprintf("traffic 100%% stable, canary scaled down, stable ReplicaSet %s ready (Argo: phase %s: %s)", a.stable, st.Phase, orNone(st.Message))), true, nil
		}
		return c.State(), false, nil
	}
	if st.StableRS == a.canary && st.Phase == "Healthy" && share == 100 {
		return c.setState(Promoted, "Argo promoted the canary: ReplicaSet "+a.canary+" is stable, 100% of traffic"), true, nil
	}
	for _, pc := range st.PauseConditions {
		if pc.Reason == "InconclusiveAnalysisRun" {
			return c.setState(Halted, "analysis inconclusive: Argo paused the rollout for a human (kubectl argo rollouts promote | abort): "+orNone(st.Message)), true, nil
		}
	}
	if st.Phase == "Degraded" {
		return c.setState(Halted, "Argo: the Rollout is Degraded without an abort: "+orNone(st.Message)), true, nil
	}
	return c.State(), false, nil
}

// analyses records every measurement Argo made since the last
// observation, and a fired trigger for each metric Argo failed.
func (a *argoWatch) analyses(ctx context.Context, obs argoengine.Observation) {
	c := a.c
	var results []analysis.Result
	var msgs []string
	for _, run := range obs.Runs {
		for _, m := range run.Status.MetricResults {
			key := run.Metadata.Name + "/" + m.Name
			if n := m.Count + m.Error; n > a.seen[key] {
				// Argo keeps the last ten measurements; Count says how
				// many there were.
				fresh := min(n-a.seen[key], len(m.Measurements))
				a.seen[key] = n
				for _, ms := range m.Measurements[len(m.Measurements)-fresh:] {
					r := measured(m.Name, ms)
					results = append(results, r)
					msgs = append(msgs, r.Reason)
				}
			}
			if (m.Phase == "Failed" || m.Phase == "Error") && !a.fired[m.Name] {
				a.fired[m.Name] = true
				if len(results) > 0 {
					c.record(Event{Type: drillreport.EventAnalysis, Message: strings.Join(msgs, "; "), Results: results})
					results, msgs = nil, nil
				}
				c.Read(ctx)
				reason := fmt.Sprintf("Argo's AnalysisRun %s: metric %s %s after %d failed, %d inconclusive and %d errored of %d measurements", run.Metadata.Name, m.Name, m.Phase, m.Failed, m.Inconclusive, m.Error, m.Count)
				if m.Message != "" {
					reason += ": " + m.Message
				}
				c.record(Event{Type: drillreport.EventTrigger, Trigger: m.Name, Message: "trigger fired: " + m.Name + ": " + reason, Results: []analysis.Result{{Trigger: m.Name, Verdict: metricquery.Fail, Fired: true, Reason: reason}}, Failures: c.evidence()})
				if a.onTrigger != nil {
					a.onTrigger(ctx)
				}
			}
		}
	}
	if len(results) > 0 {
		c.collectFailures(ctx)
		c.record(Event{Type: drillreport.EventAnalysis, Message: strings.Join(msgs, "; "), Results: results})
	}
}

// measured is one Argo measurement as an analysis result.
func measured(metric string, m argoengine.Measurement) analysis.Result {
	r := analysis.Result{Trigger: metric, Stable: strings.HasPrefix(metric, "stable_"), Reason: fmt.Sprintf("%s: Argo measured %s: %s", metric, orNone(strings.TrimSpace(m.Value)), m.Phase)}
	var vals []float64
	if err := json.Unmarshal([]byte(m.Value), &vals); err == nil && len(vals) > 0 {
		r.Value, r.Values = vals[0], vals
	} else if v, err := strconv.ParseFloat(strings.TrimSpace(m.Value), 64); err == nil {
		r.Value = v
	}
	switch m.Phase {
	case "Successful":
		r.Verdict = metricquery.Pass
	case "Failed":
		r.Verdict, r.Breach = metricquery.Fail, true
	case "Error":
		r.Verdict, r.Insufficient, r.Error = metricquery.Inconclusive, true, m.Message
	default:
		r.Verdict, r.Insufficient = metricquery.Inconclusive, true
	}
	if m.Message != "" && m.Phase != "Error" {
		r.Reason += " (" + m.Message + ")"
	}
	return r
}

// setState moves the timeline to the state Argo is in. Argo's own
// machine decides, so the move is not held to rollout.Transitions, which
// is the built-in controller's.
func (c *Controller) setState(to State, msg string) State {
	c.mu.Lock()
	c.state = to
	c.mu.Unlock()
	c.record(Event{Type: drillreport.EventState, State: to, Message: msg})
	return to
}

func orNone(s string) string {
	if s == "" {
		return "(no message)"
	}
	return s
}
