package gameday

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rollbook/rollbook/internal/analysis"
	"github.com/rollbook/rollbook/internal/drillreport"
	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/rollout"
)

// The report's types are the controller's vocabulary.
type (
	State     = drillreport.State
	Event     = drillreport.Event
	EventType = drillreport.EventType
	Page      = drillreport.Page
	// Measurement is one analysis interval's traffic per release.
	Measurement = drillreport.Measurement
	Sample      = drillreport.Sample
)

const (
	Pending     = drillreport.Pending
	Progressing = drillreport.Progressing
	Baking      = drillreport.Baking
	Promoted    = drillreport.Promoted
	RollingBack = drillreport.RollingBack
	RolledBack  = drillreport.RolledBack
	Halted      = drillreport.Halted
)

// The controller acts on the world through these.
type (
	// Traffic sets the canary's share of traffic, in percent.
	Traffic interface {
		SetCanaryWeight(ctx context.Context, percent int) error
	}
	// Metrics reads both releases' cumulative counters (the chart's
	// per-interval traffic; triggers are decided by the Prometheus).
	Metrics interface {
		Snapshot(ctx context.Context) (analysis.Snapshot, error)
	}
	// Health probes the releases. StableSmoke runs the stable release's
	// own queries against the (possibly migrated) database.
	// CanarySmoke runs the canary's (smoke_canary, else the same list).
	Health interface {
		CanaryReady(ctx context.Context) bool
		StableReady(ctx context.Context) error
		StableSmoke(ctx context.Context) error
		CanarySmoke(ctx context.Context) error
	}
	// Migrator applies one of the plan's migrations to the drill's
	// database, reporting what it cost the service while it ran.
	Migrator interface {
		Migrate(ctx context.Context, file string) (drillreport.MigrationLoad, error)
	}
	// Evidence hands over the failing responses the router kept since
	// the last call.
	Evidence interface {
		Failures(ctx context.Context) ([]drillreport.Failure, error)
	}
	// Warmer warms the canary up before it takes weighted traffic, past
	// the router (see warmUp).
	Warmer interface {
		WarmCanary(ctx context.Context) (drillreport.Warmup, error)
	}
	// Canary stops the canary release.
	Canary interface {
		StopCanary(ctx context.Context) error
	}
	// Pager sends a page to a human.
	Pager interface {
		Page(ctx context.Context, p Page) error
	}
	// Clock lets tests run the controller in fake time.
	Clock interface {
		Now() time.Time
		Sleep(ctx context.Context, d time.Duration) error
	}
)

// Ledger counts automatic rollbacks so a policy's cap holds across
// releases of one service.
type Ledger struct {
	mu    sync.Mutex
	times []time.Time
}

// Allow reports whether one more automatic rollback fits count per window.
func (l *Ledger) Allow(now time.Time, count int, per time.Duration) bool {
	if count <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, t := range l.times {
		if per == 0 || now.Sub(t) < per {
			n++
		}
	}
	return n < count
}

// Record notes an automatic rollback.
func (l *Ledger) Record(now time.Time) {
	l.mu.Lock()
	l.times = append(l.times, now)
	l.mu.Unlock()
}

// Count is how many automatic rollbacks were recorded.
func (l *Ledger) Count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.times)
}

// Controller runs one release through a policy.
type Controller struct {
	Policy   Policy
	Scenario string
	Traffic  Traffic
	Metrics  Metrics
	// Prometheus answers the exported analysis's queries: the drill's own
	// Prometheus server (analysis.Querier).
	Prometheus analysis.Querier
	Health     Health
	Canary     Canary
	Pager      Pager
	Clock      Clock
	Ledger     *Ledger
	Log        *slog.Logger
	// Migrator applies the plan's migrations when their runs: says; nil
	// for the demo service, whose canary migrates itself at start-up.
	Migrator Migrator
	// Evidence, when set, gives the failing responses users got.
	Evidence Evidence
	// Warmer, when set, warms the canary up before step 1.
	Warmer Warmer
	// AfterMigration, when set, runs once a migration has been applied
	// and guarded (a drill starts its faults there).
	AfterMigration func(ctx context.Context, m Migration)
	// BeforeMigration, when set, runs right before a migration is applied
	// (the long reader of migration-behind-long-query starts there).
	BeforeMigration func(ctx context.Context, m Migration)
	// OnEvent, when set, sees each event as it happens (terminal progress).
	OnEvent func(Event)

	freeze atomic.Bool

	mu           sync.Mutex
	start        time.Time
	state        State
	weight       int
	weightSet    bool
	stopped      bool
	pages        map[string]bool
	events       []Event
	measurements []Measurement
	eval         *analysis.Analyzer
	last         analysis.Snapshot
	haveLast     bool
	readings     []reading
	// migratedSnap is the router's reading at the end of the last migration.
	migratedSnap analysis.Snapshot
	// applied are the migrations run so far; unsafe is set once the
	// previous release failed its smoke checks after one of them, so
	// moving traffic back to it would break users.
	applied  []Migration
	unsafe   string
	failures []drillreport.Failure // the first few of each release
	recent   []drillreport.Failure // those of the last interval
	// noCanary is set while no canary exists (the Argo engine's
	// pre-deploy migrations run before the Rollout's image changes):
	// the guard has no canary to smoke-test.
	noCanary bool
}

// reading is the router's counters at a moment of the drill: what users
// saw between two readings is their difference.
type reading struct {
	at   time.Duration
	snap analysis.Snapshot
}

// SetFreeze turns the freeze switch on or off: while on, nothing automatic happens.
func (c *Controller) SetFreeze(on bool) { c.freeze.Store(on) }

// State returns the current state.
func (c *Controller) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Weight returns the canary weight last set.
func (c *Controller) Weight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.weight
}

// Events returns the timeline so far.
func (c *Controller) Events() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.events...)
}

// Measurements returns the per-interval measurements so far.
func (c *Controller) Measurements() []Measurement {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Measurement(nil), c.measurements...)
}

// Mark starts the timeline clock; Run calls it if nobody did.
func (c *Controller) Mark() {
	c.mu.Lock()
	if c.start.IsZero() {
		c.start = c.Clock.Now()
	}
	c.mu.Unlock()
}

// Started is the timeline's zero.
func (c *Controller) Started() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.start
}

// Record adds an event to the timeline (scenarios record their injections).
func (c *Controller) Record(e Event) { c.record(e) }

// begin puts the release in the machine's initial state.
func (c *Controller) begin() {
	c.mu.Lock()
	c.state = rollout.Initial
	c.mu.Unlock()
	c.record(Event{Type: drillreport.EventState, State: rollout.Initial, Message: "release pending"})
}

func (c *Controller) record(e Event) {
	c.Mark()
	c.mu.Lock()
	e.At = c.Clock.Now().Sub(c.start)
	e.AtText = fmt.Sprintf("%.2fs", e.At.Seconds())
	if e.State == "" {
		e.State = c.state
	}
	c.events = append(c.events, e)
	cb := c.OnEvent
	c.mu.Unlock()
	if cb != nil {
		cb(e)
	}
}

// transition makes the machine's move on cause: the controller says what
// happened, and rollout.Transitions where that leads. A move the table
// does not have is a bug here, and panics (Run's caller recovers it into
// the drill's error).
func (c *Controller) transition(on rollout.Cause, msg string) State {
	c.mu.Lock()
	from := c.state
	to, ok := rollout.Next(from, on)
	if !ok {
		c.mu.Unlock()
		panic(fmt.Sprintf("gameday: the controller moved on %s from %s, which rollout.Transitions does not allow", on, from))
	}
	c.state = to
	c.mu.Unlock()
	c.Log.Debug("transition", "from", from, "on", on, "to", to)
	c.record(Event{Type: drillreport.EventState, State: to, Message: msg})
	return to
}

// setWeight is idempotent: the same weight twice changes nothing.
func (c *Controller) setWeight(ctx context.Context, w int) error {
	c.mu.Lock()
	same := c.weightSet && c.weight == w
	c.mu.Unlock()
	if same {
		return nil
	}
	if err := c.Traffic.SetCanaryWeight(ctx, w); err != nil {
		return fmt.Errorf("setting canary weight %d%%: %w", w, err)
	}
	c.mu.Lock()
	c.weight, c.weightSet = w, true
	c.mu.Unlock()
	c.record(Event{Type: drillreport.EventTraffic, Weight: &w, Message: fmt.Sprintf("traffic: canary %d%%, stable %d%%", w, 100-w)})
	return nil
}

func (c *Controller) stopCanary(ctx context.Context) error {
	c.mu.Lock()
	done := c.stopped
	c.mu.Unlock()
	if done {
		return nil
	}
	if err := c.Canary.StopCanary(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	c.record(Event{Type: drillreport.EventAction, Action: drillreport.ActionCanaryStopped, Message: "canary stopped"})
	return nil
}

// page is idempotent per reason: the same page is sent once.
func (c *Controller) page(ctx context.Context, summary, reason string) {
	c.mu.Lock()
	if c.pages == nil {
		c.pages = map[string]bool{}
	}
	dup := c.pages[summary+reason]
	c.pages[summary+reason] = true
	state := c.state
	c.mu.Unlock()
	if dup {
		return
	}
	p := Page{Severity: "critical", Summary: summary, Reason: reason, Plan: c.Policy.Plan, Scenario: c.Scenario, State: state}
	if err := c.Pager.Page(ctx, p); err != nil {
		c.record(Event{Type: drillreport.EventPage, Error: err.Error(), Message: "page FAILED to send: " + err.Error()})
		return
	}
	c.record(Event{Type: drillreport.EventPage, Page: &p, Message: "paged: " + summary + ": " + reason})
}

// Run takes the release from pending to promoted, rolled-back or halted.
func (c *Controller) Run(ctx context.Context) (State, error) {
	if c.Ledger == nil {
		c.Ledger = &Ledger{}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	c.Mark()
	if len(c.Policy.Steps) == 0 {
		return c.State(), errors.New("the policy has no steps: make it with PolicyFromPlan, which gives a plan without steps one at 100%")
	}
	c.eval = analysis.New(c.Policy.Checks, c.Policy.Triggers, c.Policy.NoData, c.Policy.Scale)
	c.begin()
	c.Read(ctx)
	c.recordManual()
	if st, done, err := c.migrate(ctx, plan.RunsPreDeploy, 0); done {
		return st, err
	}
	c.preflight(ctx)
	c.warmUp(ctx)
	for i, step := range c.Policy.Steps {
		w := c.Policy.DrillWeight(step)
		note := ""
		if w != step.Weight {
			note = fmt.Sprintf(" (plan %d%%, raised so each window holds min_requests)", step.Weight)
		}
		c.transition(rollout.Step, fmt.Sprintf("step %d/%d: canary to %d%%%s", i+1, len(c.Policy.Steps), w, note))
		if err := c.setWeight(ctx, w); err != nil {
			return c.halt(ctx, rollout.TrafficFailed, "traffic shift failed", err.Error())
		}
		if st, done, err := c.migrate(ctx, plan.RunsDuringDeploy, i+1); done {
			return st, err
		}
		// Full traffic without a bake is the promotion, as in Argo
		// Rollouts, whose analysis ends with the rollout: there is no
		// baseline left to compare with.
		if w >= 100 && step.Bake == 0 {
			break
		}
		bake := c.Policy.D(step.Bake.D())
		if st, done, err := c.bake(ctx, bake, fmt.Sprintf("step %d/%d: baking %%s at %d%%%%", i+1, len(c.Policy.Steps), w)); done {
			return st, err
		}
	}
	// No data is never a pass: a canary whose last analysed step never
	// had a verdict is not promoted.
	if missing := c.eval.Inconclusive(); len(missing) > 0 {
		return c.halt(ctx, rollout.NoData, "analysis has no data: release held, not promoted", fmt.Sprintf("no data: every analysis of %s in the last analysed step was inconclusive; analysis.no_data: hold keeps traffic where it is for a human", strings.Join(missing, ", ")))
	}
	if c.has(plan.RunsPostDeploy) {
		if err := c.setWeight(ctx, 100); err != nil {
			return c.halt(ctx, rollout.TrafficFailed, "traffic shift failed", err.Error())
		}
		if st, done, err := c.migrate(ctx, plan.RunsPostDeploy, 0); done {
			return st, err
		}
		// The promoted release is now the stable one: the analysis
		// judges it against its own level before the migration, and a
		// comparison with the old release, which serves nothing, is moot.
		c.eval.Stable = c.eval.Canary
		last := c.Policy.Steps[len(c.Policy.Steps)-1]
		if st, done, err := c.bake(ctx, c.Policy.D(last.Bake.D()), "post-deploy: baking %s at 100%% after the migrations"); done {
			return st, err
		}
	}
	return c.transition(rollout.Promote, "canary promoted to 100%"), nil
}

// bake analyses the current weight for d (and at least for every
// trigger's window and consecutive analyses), returning done when a
// trigger or the no-data rule ended the release. msg has a %s for the
// bake's length.
func (c *Controller) bake(ctx context.Context, d time.Duration, msg string) (State, bool, error) {
	every := interval(c.Policy)
	// A window never mixes two weights.
	c.eval.Reset(c.Clock.Now())
	c.haveLast = false
	if _, err := c.observe(ctx); err != nil {
		return c.State(), true, err
	}
	// Every step is analysed for at least its longest window and the
	// consecutive analyses that fire its trigger, with an interval to spare.
	d = max(d, c.Policy.D(c.Policy.maxWindow())+2*every)
	for _, t := range c.Policy.Triggers {
		d = max(d, c.Policy.D(t.Window.D())+time.Duration(t.Consecutives()+1)*every)
	}
	c.transition(rollout.Bake, fmt.Sprintf(msg, d.Round(time.Millisecond)))
	end := c.Clock.Now().Add(d)
	for c.Clock.Now().Before(end) {
		if err := c.Clock.Sleep(ctx, every); err != nil {
			return c.State(), true, err
		}
		results, err := c.observe(ctx)
		if err != nil {
			return c.State(), true, err
		}
		for _, r := range results {
			if r.Fired {
				st, err := c.onTrigger(ctx, r)
				return st, true, err
			}
		}
		for _, r := range results {
			if r.NoData {
				st, err := c.onNoData(ctx, r)
				return st, true, err
			}
		}
	}
	return c.State(), false, nil
}

// observe reads metrics and health, evaluates every trigger and records
// the analysis and the interval's measurement.
func (c *Controller) observe(ctx context.Context) ([]analysis.Result, error) {
	snap, err := c.Metrics.Snapshot(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c.record(Event{Type: drillreport.EventAnalysis, Message: "metrics unavailable: " + err.Error()})
		return nil, nil
	}
	healthy := c.Health.CanaryReady(ctx)
	results := c.eval.Observe(ctx, c.Prometheus, c.Clock.Now(), healthy)
	c.collectFailures(ctx)
	c.mu.Lock()
	c.keep(snap)
	if c.haveLast {
		d := snap.Sub(c.last)
		all := sample(both(d))
		c.measurements = append(c.measurements, Measurement{
			At: c.Clock.Now().Sub(c.start), Weight: c.weight,
			Stable:       sample(d.Stable),
			Canary:       sample(d.Canary),
			Service:      &all,
			Inconclusive: inconclusive(results),
		})
	}
	c.mu.Unlock()
	c.last, c.haveLast = snap, true
	// Every measured window is on the timeline, inconclusive ones too:
	// no data is never silently a pass.
	var parts []string
	var shown []analysis.Result
	for _, r := range results {
		if r.Pending || r.Unit == "probes" && r.Value == 0 {
			continue
		}
		parts = append(parts, r.Reason)
		shown = append(shown, r)
	}
	if len(parts) > 0 {
		c.record(Event{Type: drillreport.EventAnalysis, Message: strings.Join(parts, "; "), Results: shown})
	}
	return results, nil
}

// inconclusive lists the triggers whose window had no verdict.
func inconclusive(results []analysis.Result) []string {
	var out []string
	for _, r := range results {
		if r.Insufficient && !r.Pending {
			out = append(out, r.Trigger)
		}
	}
	return out
}

// onNoData applies analysis.no_data once a trigger's analysis has been
// inconclusive for its windows in a row: hold the release where it is and
// page (the default), or roll back as on a fired trigger.
func (c *Controller) onNoData(ctx context.Context, r analysis.Result) (State, error) {
	why := fmt.Sprintf("no data: the analysis of %s was inconclusive for %d windows in a row (%s)", r.Trigger, c.Policy.NoData.Windows(), r.Reason)
	if c.Policy.NoData.Rollback() {
		r.Reason = why
		return c.onTrigger(ctx, r)
	}
	return c.halt(ctx, rollout.NoData, "analysis has no data: release held, not promoted", why+"; analysis.no_data: hold keeps traffic where it is for a human")
}

// halt stops the release on cause, leaving traffic where it is, and pages.
func (c *Controller) halt(ctx context.Context, on rollout.Cause, summary, reason string) (State, error) {
	st := c.transition(on, summary+": "+reason)
	c.page(ctx, summary, reason)
	return st, nil
}

// onTrigger decides what a fired trigger leads to. Guards come first: a
// rollback that would break the stable release, or that a human must
// decide, never starts.
func (c *Controller) onTrigger(ctx context.Context, r analysis.Result) (State, error) {
	c.Read(ctx)
	c.record(Event{Type: drillreport.EventTrigger, Trigger: r.Trigger, Message: "trigger fired: " + r.Trigger + ": " + r.Reason, Results: []analysis.Result{r}, Failures: c.evidence()})
	why := "trigger " + r.Trigger + " fired: " + r.Reason
	switch {
	case c.freeze.Load():
		return c.halt(ctx, rollout.Freeze, "freeze on: no automatic action", why)
	}
	if contract := c.contractRan(); len(contract) > 0 {
		f := contract[0]
		c.record(Event{Type: drillreport.EventGuard, Message: fmt.Sprintf("migration guard (static): %s line %d: %s", f.Statement, f.Line, f.Reason)})
		dyn := ""
		if err := c.Health.StableSmoke(ctx); err != nil {
			dyn = "; the stable release's smoke check fails against the migrated database: " + err.Error()
			c.record(Event{Type: drillreport.EventGuard, Release: "stable", SmokePassed: new(false), Message: "migration guard (dynamic): stable smoke fails: " + err.Error()})
		} else {
			c.record(Event{Type: drillreport.EventGuard, Release: "stable", SmokePassed: new(true), Message: "migration guard (dynamic): stable smoke still passes against the migrated database"})
		}
		return c.halt(ctx, rollout.MigrationGuard, "migration guard blocked the automatic rollback", fmt.Sprintf("%s; the canary shipped a contract migration (%s: %s)%s; traffic left where it is", why, f.Kind, f.Object, dyn))
	}
	if c.unsafe != "" {
		return c.halt(ctx, rollout.MigrationGuard, "migration guard blocked the automatic rollback", why+"; "+c.unsafe)
	}
	if r.Stable {
		// Either way could make it worse: more traffic on a release not
		// yet proven, or back onto the one that regressed.
		return c.halt(ctx, rollout.StableRegressed, "stable release regressed: release halted", why+"; the stable release is worse than its own level before the rollout, so neither promotion nor an automatic rollback is safe: traffic left where it is for a human")
	}
	if c.migrated() {
		if err := c.Health.StableSmoke(ctx); err != nil {
			c.record(Event{Type: drillreport.EventGuard, Release: "stable", SmokePassed: new(false), Message: "migration guard (dynamic): stable smoke fails: " + err.Error()})
			return c.halt(ctx, rollout.MigrationGuard, "migration guard blocked the automatic rollback", why+"; the stable release's smoke check fails against the migrated database: "+err.Error())
		}
		c.record(Event{Type: drillreport.EventGuard, Release: "stable", SmokePassed: new(true), Message: "migration guard: expand-only migrations and stable smoke passes: rollback is safe"})
	}
	// A human decides only once the guard had its say: a blocked
	// rollback is the reason the page names.
	if !c.Policy.Rollback.Automatic {
		return c.halt(ctx, rollout.AutomaticOff, "automatic rollback is off: a human decides", why)
	}
	mx := c.Policy.Rollback.MaxAutomatic
	if !c.Ledger.Allow(c.Clock.Now(), mx.Count, mx.Per.D()) {
		return c.halt(ctx, rollout.CapReached, "automatic rollback cap reached", fmt.Sprintf("%s; %d automatic rollback(s) per %s already used", why, mx.Count, mx.Per))
	}
	c.Ledger.Record(c.Clock.Now())
	c.transition(rollout.Rollback, why)
	if err := c.setWeight(ctx, 0); err != nil {
		return c.halt(ctx, rollout.RollbackFailed, "rollback failed", err.Error())
	}
	if err := c.stopCanary(ctx); err != nil {
		return c.halt(ctx, rollout.RollbackFailed, "rollback failed", "stopping the canary: "+err.Error())
	}
	// Verify stable before declaring the rollback done; if it is unhealthy
	// too, stop: flipping back to the canary would only thrash.
	deadline := c.Clock.Now().Add(c.Policy.D(c.Policy.Rollback.Target.D()))
	if c.Policy.Rollback.Target == 0 {
		deadline = c.Clock.Now().Add(10 * time.Second)
	}
	var last error
	for {
		if last = c.Health.StableReady(ctx); last == nil {
			c.Read(ctx)
			return c.transition(rollout.StableVerified, "traffic 100% stable, canary stopped, stable verified healthy"), nil
		}
		if !c.Clock.Now().Before(deadline) {
			break
		}
		if err := c.Clock.Sleep(ctx, interval(c.Policy)); err != nil {
			return c.State(), err
		}
	}
	return c.halt(ctx, rollout.RollbackFailed, "rollback stuck: stable release unhealthy", "stable did not become healthy within the rollback target: "+errString(last)+"; no retry, traffic stays on stable")
}

// minInterval is the shortest analysis interval in drill time: below it
// the router's counters hold too few requests to compare, and the loop
// would only burn the machine's cores.
const minInterval = 50 * time.Millisecond

// interval is the one analysis interval rule, for the bake loop and the
// rollback's verification alike: the plan's interval in drill time, never
// below minInterval.
func interval(p Policy) time.Duration {
	return max(p.D(p.Interval), minInterval)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
