// Package scenario is the one table of game-day scenarios (SPEC 3): for
// each, what the drill injects, what must happen, whether a human must be
// paged and what the plan must have for the drill to mean anything. The
// plan format's enum, `rollbook check`, the CLI help and the drill itself
// all read this table; adding a scenario is one entry here (and, for a new
// kind of assertion, one case where gameday evaluates it).
package scenario

import (
	"fmt"
	"strings"
	"time"
)

// Name is a scenario's name as written in gameday.scenarios.
type Name string

// Injection is what a drill does to the releases.
type Injection struct {
	CanaryErrors  float64       // 5xx rate at the fault injector in front of the canary
	CanaryLatency time.Duration // latency the fault injector adds
	// Contract: the canary ships a contract migration (the plan's own, or
	// for the demo service an injected one).
	Contract     bool
	StableBroken bool // the stable release reports unhealthy
	Freeze       bool // the freeze switch is on
	// MetricsMissing: the drill's Prometheus stops scraping the router,
	// so every query returns no series.
	MetricsMissing bool
	// LongReader: right before each migration, a transaction reads the
	// tables it changes and stays open this long (real time), as a
	// report or a pg_dump would.
	LongReader time.Duration
	// AfterContract: on the team's own service, the canary's faults start
	// only once the plan's contract migration has run (at its runs:), so
	// the regression shows where the plan puts the contract.
	AfterContract bool
}

// Shape is what a plan's migrations make of a drill: the same scenario
// must show a different thing for each.
type Shape string

const (
	// ShapeDemo: the built-in demo service, whose canary migrates itself.
	ShapeDemo Shape = "demo"
	// ShapeNone: the team's own service with no migration the drill applies.
	ShapeNone Shape = "none"
	// ShapeExpand: expand-only migrations: rolling back must be safe.
	ShapeExpand Shape = "expand"
	// ShapeContractAfter: every contract migration runs once the previous
	// release takes no traffic (post-deploy, or at a 100 % step).
	ShapeContractAfter Shape = "contract-after-promotion"
	// ShapeContractBefore: a contract migration runs while the previous
	// release still takes traffic: an outage the drill must name.
	ShapeContractBefore Shape = "contract-before-promotion"
)

// Assertion is one kind of check a drill makes; gameday evaluates each
// kind in one place.
type Assertion int

const (
	TriggerFires            Assertion = iota + 1 // the scenario's trigger (Trigger, or any) fires
	TriggerWithinWindow                          // it fires within its window and consecutive analyses
	RollbackWithinTarget                         // rolled back within rollback.target
	TrafficBackOnStable                          // canary at 0% and stopped
	ErrorsBackToBaseline                         // stable error rate back to the baseline afterwards
	NoTrigger                                    // no trigger fires
	PromotedFully                                // canary promoted to 100%
	RollbackBlocked                              // no automatic rollback started, halted
	PagedWithReason                              // a page is sent naming PageReason
	TrafficStaysPut                              // the weight at the trigger is the weight at the end
	RollbackOnce                                 // one rollback attempted
	HaltedAndPaged                               // halted with a page
	NoThrashing                                  // no weight above 0 once a rollback began
	NoAutomaticAction                            // no rollback, no weight change, canary running
	StableSmokeFails                             // the dynamic guard saw stable's smoke checks fail
	StableSmokePasses                            // the dynamic guard saw them pass after the migrations
	NotPromoted                                  // the canary never reaches promoted
	InconclusiveShown                            // inconclusive analyses are on the timeline
	MigrationsFollowRuns                         // each migration ran when its runs: says, manual ones never
	GuardAfterEachMigration                      // the smoke checks ran right after each applied migration
	NoServingReleaseBroken                       // no migration broke a release while it took traffic
	ContractAfterPromotion                       // the contract ran with the canary at 100 %, before the trigger
	MigrationLock                                // no migration blocked the service's queries past its lock_budget
	LongReaderShown                              // the long reader held its locks while a migration ran
)

// MigrationAsserts hold in every drill of the team's own service that
// applies a migration, whatever the scenario: the order of events is the
// plan's, and no migration may break a release while it serves users.
var MigrationAsserts = []Assertion{MigrationsFollowRuns, GuardAfterEachMigration, NoServingReleaseBroken, MigrationLock}

// Need is something a plan must have for a scenario to be drilled.
type Need int

const (
	ErrorTrigger     Need = iota + 1 // a ratio (error-rate) trigger
	LatencyTrigger                   // a latency trigger
	Steps                            // strategy.steps
	AppliedMigration                 // a migration the drill applies, on the team's own service
)

// NeedText is what `rollbook check` says when a need is missing: its rule,
// the problem (with %s for the scenario) and the fix.
var NeedText = map[Need]struct{ Rule, Message, Fix string }{
	ErrorTrigger:     {"gameday-trigger", "scenario %s needs an error-rate trigger to fire", "add a trigger such as {metric: error_rate, compare: baseline, max_delta: 2%, window: 2m, min_requests: 1500}"},
	LatencyTrigger:   {"gameday-trigger", "scenario %s needs a latency trigger to fire", "add a trigger such as {metric: latency_p99, max: 800ms, window: 3m}"},
	Steps:            {"gameday-steps", "scenario %s drills a canary but strategy.steps is empty", "add strategy: {type: canary, steps: [{weight: 10, bake: 5m}, {weight: 100}]}"},
	AppliedMigration: {"gameday-migration", "scenario %s runs a migration behind a long query but the plan has no migration the drill applies on its own service", "add a migration with a file and runs: other than manual, and gameday.service"},
}

// Scenario is one row of the table.
type Scenario struct {
	Name    Name
	Summary string // one line for the CLI help
	Inject  Injection
	// Trigger, when set, is a word the fired trigger's metric must contain.
	Trigger string
	// Page: a page must reach the pager; PageReason is a word it must name.
	Page       bool
	PageReason string
	Asserts    []Assertion
	// Shapes replace Asserts (and Page, when PageShapes says so) for a
	// plan of that shape: expand-only plans get the opposite proof, a
	// contract before promotion the outage.
	Shapes map[Shape][]Assertion
	// Unpaged lists the shapes in which no page is expected.
	Unpaged []Shape
	Needs   []Need
}

// For returns the assertions of s for a plan of shape sh, and whether a
// page must be sent.
func (s Scenario) For(sh Shape) (asserts []Assertion, page bool) {
	asserts, page = s.Asserts, s.Page
	if a, ok := s.Shapes[sh]; ok {
		asserts = a
	}
	for _, u := range s.Unpaged {
		if u == sh {
			page = false
		}
	}
	return asserts, page
}

// All is the table, in the order drills run.
var All = []Scenario{
	{
		Name: "bad-canary-errors", Summary: "the canary answers 5xx above the trigger: it must roll back within rollback.target",
		Inject: Injection{CanaryErrors: 0.3}, Trigger: "error",
		Asserts: []Assertion{TriggerFires, TriggerWithinWindow, RollbackWithinTarget, TrafficBackOnStable, ErrorsBackToBaseline},
		Needs:   []Need{ErrorTrigger, Steps},
	},
	{
		Name: "bad-canary-latency", Summary: "the canary adds latency above the p99 trigger: it must roll back",
		Inject: Injection{CanaryLatency: 1200 * time.Millisecond}, Trigger: "latency",
		Asserts: []Assertion{TriggerFires, TriggerWithinWindow, RollbackWithinTarget, TrafficBackOnStable, ErrorsBackToBaseline},
		Needs:   []Need{LatencyTrigger, Steps},
	},
	{
		Name: "healthy-canary", Summary: "nothing injected: no trigger may fire and the canary is promoted",
		Asserts: []Assertion{NoTrigger, PromotedFully},
		Needs:   []Need{Steps},
	},
	{
		Name: "incompatible-migration", Summary: "the canary ships a contract migration and errors: the migration guard must block the rollback and page",
		Inject: Injection{CanaryErrors: 0.3, Contract: true, AfterContract: true}, Page: true, PageReason: "migration",
		Asserts: []Assertion{TriggerFires, StableSmokeFails, RollbackBlocked, PagedWithReason, TrafficStaysPut},
		Shapes: map[Shape][]Assertion{
			ShapeExpand:         {TriggerFires, StableSmokePasses, RollbackWithinTarget, TrafficBackOnStable},
			ShapeContractAfter:  {ContractAfterPromotion, TriggerFires, StableSmokeFails, RollbackBlocked, PagedWithReason, TrafficStaysPut},
			ShapeContractBefore: {NoServingReleaseBroken, StableSmokeFails, RollbackBlocked, PagedWithReason, TrafficStaysPut},
		},
		// A safe rollback pages nobody.
		Unpaged: []Shape{ShapeExpand},
		Needs:   []Need{ErrorTrigger},
	},
	{
		Name: "migration-behind-long-query", Summary: "a long read transaction (a report, a pg_dump) holds the tables each migration changes: the migration must give up on its lock_timeout and retry, not stall every query behind it",
		Inject:  Injection{LongReader: 4 * time.Second},
		Asserts: []Assertion{LongReaderShown, MigrationLock, NoTrigger, PromotedFully},
		Needs:   []Need{AppliedMigration, Steps},
	},
	{
		Name: "stuck-rollback", Summary: "the stable release is broken too: one rollback, then halted and paged",
		Inject: Injection{CanaryErrors: 0.3, StableBroken: true}, Page: true,
		Asserts: []Assertion{RollbackOnce, HaltedAndPaged, NoThrashing},
	},
	{
		Name: "freeze", Summary: "the freeze switch is on and the canary is bad: no automatic action, a page",
		Inject: Injection{CanaryErrors: 0.3, Freeze: true}, Page: true, PageReason: "freeze",
		Asserts: []Assertion{TriggerFires, NoAutomaticAction, PagedWithReason},
	},
	{
		Name: "metrics-missing", Summary: "the metrics stop (the router is no longer scraped): no data is never a pass; no promotion, a page that says why",
		Inject: Injection{MetricsMissing: true}, Page: true, PageReason: "no data",
		Asserts: []Assertion{NotPromoted, InconclusiveShown, PagedWithReason},
		Needs:   []Need{Steps},
	},
}

// Names lists the scenarios' names in table order.
func Names() []string {
	out := make([]string, len(All))
	for i, s := range All {
		out[i] = string(s.Name)
	}
	return out
}

// Lookup finds a scenario by name.
func Lookup(name string) (Scenario, error) {
	for _, s := range All {
		if string(s.Name) == name {
			return s, nil
		}
	}
	return Scenario{}, fmt.Errorf("unknown scenario %q: use one of %s", name, strings.Join(Names(), ", "))
}

// Help is the table as lines for a command's help text.
func Help() string {
	var b strings.Builder
	w := 0
	for _, s := range All {
		w = max(w, len(s.Name))
	}
	for _, s := range All {
		fmt.Fprintf(&b, "  %-*s %s\n", w, s.Name, s.Summary)
	}
	return b.String()
}
