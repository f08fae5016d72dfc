// Package drillreport is the game-day report's JSON: the one type that
// gameday writes and that `gameday due` and the site read back. Fields are
// only ever added, so older reports still read and newer ones still show.
package drillreport

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/rollbook/rollbook/internal/analysis"
	"github.com/rollbook/rollbook/internal/rollout"
	"github.com/rollbook/rollbook/internal/warmup"
)

// State is where a drill's controller is: a state of the one machine,
// internal/rollout's.
type State = rollout.State

const (
	Pending     = rollout.Pending
	Progressing = rollout.Progressing
	Baking      = rollout.Baking
	Promoted    = rollout.Promoted
	RollingBack = rollout.RollingBack
	RolledBack  = rollout.RolledBack
	Halted      = rollout.Halted
)

// EventType says what an event records; each type sets its own fields.
type EventType string

const (
	EventState     EventType = "state"     // State is the new state
	EventTraffic   EventType = "traffic"   // Weight is the canary's new weight
	EventAnalysis  EventType = "analysis"  // Results of one analysis
	EventTrigger   EventType = "trigger"   // Trigger fired; Results holds its result
	EventPage      EventType = "page"      // Page was sent (nil: sending failed, see Error)
	EventInjection EventType = "injection" // the scenario's fault
	EventGuard     EventType = "guard"     // the migration guard's finding
	EventAction    EventType = "action"    // Action was done
	EventLog       EventType = "log"       // Logs: releases' last log lines
	// EventMigration: Migration was applied (or, manual, left alone).
	EventMigration EventType = "migration"
	// EventLongReader: a long read transaction began before a migration.
	EventLongReader EventType = "long-reader"
)

// Action is what an action event did.
type Action string

const (
	ActionStarted       Action = "drill-started"
	ActionCanaryStopped Action = "canary-stopped"
	// ActionWarmedUp: the canary was sent traffic past the router before
	// step 1 (Warmup says what it saw).
	ActionWarmedUp Action = "canary-warmed-up"
)

// Warmup is the canary's warm-up: requests sent straight to it in batches
// until the batches' p99 stopped falling (Settled) or time was up.
type Warmup = warmup.Result

// Event is one entry of the drill's timeline. Message is for people;
// assertions read the typed fields.
type Event struct {
	At      time.Duration `json:"at_ns"`
	AtText  string        `json:"at"`
	Type    EventType     `json:"type"`
	State   State         `json:"state,omitempty"`
	Message string        `json:"message"`
	// Weight is the canary's weight in percent set by a traffic event.
	Weight *int `json:"canary_weight,omitempty"`
	// Trigger is the trigger that fired.
	Trigger string `json:"trigger,omitempty"`
	// Page is the page a page event sent; Error why one was not sent.
	Page   *Page  `json:"page,omitempty"`
	Error  string `json:"error,omitempty"`
	Action Action `json:"action,omitempty"`
	// Warmup is what the canary's warm-up saw (ActionWarmedUp).
	Warmup *Warmup `json:"warmup,omitempty"`
	// SmokePassed is the dynamic migration guard's verdict (guard events):
	// the stable release's smoke checks against the migrated database.
	SmokePassed *bool `json:"smoke_passed,omitempty"`
	// Logs holds each release's last log lines (log events).
	Logs []ReleaseLog `json:"logs,omitempty"`
	// Migration is the migration a migration or guard event is about.
	Migration *MigrationRun `json:"migration,omitempty"`
	// Release is the release a guard event's smoke checks ran against.
	Release string `json:"release,omitempty"`
	// Failures are failing responses the router kept (trigger and guard
	// events): the evidence of what users got.
	Failures []Failure         `json:"failures,omitempty"`
	Results  []analysis.Result `json:"results,omitempty"`
}

// MigrationRun is one migration as the drill ran it: when the plan says
// it runs, when it ran, and what the guard saw right after.
type MigrationRun struct {
	ID   string `json:"id"`
	File string `json:"file"`
	// Runs is the plan's timing (pre-deploy, during-deploy, post-deploy,
	// manual); AtStep the step of during-deploy; When says it for people.
	Runs     string `json:"runs"`
	AtStep   int    `json:"at_step,omitempty"`
	When     string `json:"when"`
	Contract bool   `json:"contract,omitempty"`
	// Applied is false for a manual migration (never applied by a drill)
	// and for one the drill did not reach.
	Applied bool          `json:"applied"`
	At      time.Duration `json:"at_ns,omitempty"`
	// Weight is the canary's share of traffic when it ran: the previous
	// release served the rest.
	Weight int `json:"canary_weight"`
	// Guard is the smoke verdict of each release after it ran.
	Guard []SmokeVerdict `json:"guard,omitempty"`
	Error string         `json:"error,omitempty"`
	// Locks is what the migration cost the running service (SPEC 3.3).
	Locks *MigrationLoad `json:"locks,omitempty"`
}

// Volume is the production-like data a drill loaded before it began.
type Volume struct {
	Rows map[string]int64 `json:"rows,omitempty"`
	Seed string           `json:"seed,omitempty"`
	// Took is how long the fill took; Cached is true when the drill
	// started from the database an earlier drill filled (Image).
	Took   time.Duration `json:"took_ns,omitempty"`
	Cached bool          `json:"cached,omitempty"`
	Image  string        `json:"image,omitempty"`
}

// MigrationLoad is one migration as the database and the service felt it,
// sampled from pg_locks and pg_stat_activity while it ran under traffic.
type MigrationLoad struct {
	Duration time.Duration `json:"duration_ns"`
	// Attempts is more than 1 when a statement gave up on its
	// lock_timeout and the drill retried it, as a migration runner does.
	Attempts int `json:"attempts"`
	// Held are the locks the migration took, per relation and mode.
	Held []HeldLock `json:"held,omitempty"`
	// Waited is how long the migration itself queued for its locks (behind
	// a long query, say).
	Waited time.Duration `json:"waited_ns,omitempty"`
	// Blocked is the longest a release's query waited on the migration,
	// per release; Worst is the statement that made the longest wait.
	Blocked []BlockedWait `json:"blocked,omitempty"`
	Worst   *Statement    `json:"worst,omitempty"`
	// Budget is the lock_budget the migration was held to.
	Budget time.Duration `json:"budget_ns"`
	// Requests, Failed and Slow (over the latency trigger's threshold) are
	// the router's counts while the migration ran; P99 next to P99Before,
	// the interval before it.
	Requests  int64         `json:"requests"`
	Failed    int64         `json:"failed"`
	Slow      int64         `json:"slow"`
	SlowOver  time.Duration `json:"slow_over_ns,omitempty"`
	P99       time.Duration `json:"p99_ns"`
	P99Before time.Duration `json:"p99_before_ns"`
	// Samples is how many times pg_locks was read.
	Samples int `json:"samples"`
}

// HeldLock is one lock mode the migration held on one relation.
type HeldLock struct {
	Relation string        `json:"relation"`
	Mode     string        `json:"mode"` // as pg_locks spells it: AccessExclusiveLock
	For      time.Duration `json:"for_ns"`
	// Statement is the line of the migration file that held it longest.
	Line int `json:"line,omitempty"`
}

// BlockedWait is the longest wait of one release's query on a migration.
type BlockedWait struct {
	Release string        `json:"release"` // stable, canary, or the client's name
	For     time.Duration `json:"for_ns"`
	Query   string        `json:"query,omitempty"`
}

// Statement is one statement of a migration file.
type Statement struct {
	Line int    `json:"line"`
	Text string `json:"text"`
	// Lock is the heaviest lock it held, Fix the safe way to write it.
	Lock string `json:"lock,omitempty"`
	Fix  string `json:"fix,omitempty"`
}

// LongestBlock is the longest wait any release's query had on the migration.
func (m *MigrationLoad) LongestBlock() BlockedWait {
	var w BlockedWait
	if m == nil {
		return w
	}
	for _, b := range m.Blocked {
		if b.For > w.For {
			w = b
		}
	}
	return w
}

// OverBudget reports whether the migration blocked the service longer
// than its lock budget.
func (m *MigrationLoad) OverBudget() bool {
	return m != nil && m.Budget > 0 && m.LongestBlock().For > m.Budget
}

// SmokeVerdict is one release's smoke checks after a migration.
type SmokeVerdict struct {
	Release string `json:"release"`
	Passed  bool   `json:"passed"`
	// Share is the percent of traffic the release served at that moment.
	Share  int    `json:"share"`
	Detail string `json:"detail,omitempty"`
}

// Failure is one failing response, as the router or a smoke check saw it.
type Failure struct {
	Release string        `json:"release"`
	Method  string        `json:"method"`
	Path    string        `json:"path"`
	Status  int           `json:"status"`
	Body    string        `json:"body"` // the first 300 bytes
	At      time.Duration `json:"at_ns,omitempty"`
}

func (f Failure) String() string {
	return fmt.Sprintf("%s %s → %d from %s: %s", f.Method, f.Path, f.Status, f.Release, strings.TrimSpace(f.Body))
}

// Impact is what users saw in one phase of a drill: every request of
// both releases, as the router counted them.
type Impact struct {
	Phase     Phase         `json:"phase"`
	From      time.Duration `json:"from_ns"`
	To        time.Duration `json:"to_ns"`
	Requests  float64       `json:"requests"`
	Failed    float64       `json:"failed"`
	ErrorRate float64       `json:"error_rate"`
	P99       float64       `json:"p99_seconds"`
}

// Phase names a stretch of a drill for the user-impact table.
type Phase string

const (
	PhaseBefore      Phase = "before-trigger" // from the start to the trigger (or the end)
	PhaseRollingBack Phase = "rolling-back"   // from the trigger to the rollback's completion
	PhaseAfter       Phase = "after"          // from then to the end
	PhaseWhole       Phase = "whole-drill"
)

// ReleaseLog is the tail of one container's log at a moment of the drill.
type ReleaseLog struct {
	Release string   `json:"release"`
	Lines   []string `json:"lines"`
}

// Page is what a human receives.
type Page struct {
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Reason   string `json:"reason"`
	Plan     string `json:"plan"`
	Scenario string `json:"scenario,omitempty"`
	State    State  `json:"state"`
}

// Measurement is one analysis interval's traffic per release.
type Measurement struct {
	At     time.Duration `json:"at_ns"`
	Weight int           `json:"canary_weight"`
	Stable Sample        `json:"stable"`
	Canary Sample        `json:"canary"`
	// Service is both releases together: what users saw.
	Service *Sample `json:"service,omitempty"`
	// Inconclusive lists the triggers whose analysis at this interval had
	// no verdict (no series, NaN, too few requests): the chart marks them.
	Inconclusive []string `json:"inconclusive,omitempty"`
}

// Sample is one release's traffic in one interval.
type Sample struct {
	Requests  float64 `json:"requests"`
	ErrorRate float64 `json:"error_rate"`
	P99       float64 `json:"p99_seconds"`
}

// Users is what users saw in the interval: Service when the drill
// recorded it, else (older reports) Stable and Canary together, the error
// rate weighted by requests and the p99 the larger of the two (the p99 of
// the two together is never above it).
func (m Measurement) Users() Sample {
	if m.Service != nil {
		return *m.Service
	}
	u := Sample{Requests: m.Stable.Requests + m.Canary.Requests}
	if u.Requests > 0 {
		u.ErrorRate = (m.Stable.ErrorRate*m.Stable.Requests + m.Canary.ErrorRate*m.Canary.Requests) / u.Requests
	}
	if m.Stable.Requests > 0 {
		u.P99 = m.Stable.P99
	}
	if m.Canary.Requests > 0 {
		u.P99 = max(u.P99, m.Canary.P99)
	}
	return u
}

// Assertion is one check of a drill, with what was seen.
type Assertion struct {
	Name    string `json:"name"`
	Passed  bool   `json:"passed"`
	Message string `json:"message"`
	// Failures are failing responses users got, shown at a failed one.
	Failures []Failure `json:"failures,omitempty"`
}

// LoadCount is the load generator's own count over the drill: what the
// router's figures are checked against.
type LoadCount struct {
	Requests float64 `json:"requests"`
	Failed   float64 `json:"failed"`
}

// Image is a release image a drill ran.
type Image struct {
	Release string `json:"release"` // stable, canary, or a dependency's name
	Ref     string `json:"ref"`     // the tag (checkout:5.9.2)
	ID      string `json:"id"`      // the engine's image ID (sha256:…)
	Built   string `json:"built,omitempty"`
}

// Report is the record of one drill of one scenario.
type Report struct {
	Plan       string        `json:"plan"`
	Service    string        `json:"service"`
	Scenario   string        `json:"scenario"`
	RunID      string        `json:"run_id"`
	Started    time.Time     `json:"started"`
	Finished   time.Time     `json:"finished"`
	Passed     bool          `json:"passed"`
	FinalState State         `json:"final_state"`
	TimeScale  float64       `json:"time_scale"`
	LoadRate   float64       `json:"load_rate"`
	Images     []Image       `json:"images,omitempty"`
	Assertions []Assertion   `json:"assertions"`
	Timeline   []Event       `json:"timeline"`
	Intervals  []Measurement `json:"intervals"`
	// TTD and TTR are drill seconds; the *Plan fields are the same times
	// in plan time (multiplied by the time scale).
	TTD     *float64 `json:"ttd_seconds,omitempty"`
	TTR     *float64 `json:"ttr_seconds,omitempty"`
	TTDPlan *float64 `json:"ttd_plan_seconds,omitempty"`
	TTRPlan *float64 `json:"ttr_plan_seconds,omitempty"`
	// Guard says what the migration guard proved on the real service
	// (incompatible-migration): blocked, or expand-only and safe.
	Guard string `json:"guard,omitempty"`
	// Headline is the one sentence a failed drill leads with: the outage
	// and its cause, when the drill saw one.
	Headline string `json:"headline,omitempty"`
	// Migrations are the plan's migrations as this drill ran them.
	Migrations []MigrationRun `json:"migrations,omitempty"`
	// Volume is the data the database was filled with (gameday.database.volume or seed).
	Volume *Volume `json:"volume,omitempty"`
	// Impact is what users saw, per phase; BlastRadius the requests that
	// failed before the rollback completed (or before the drill ended,
	// when nothing was rolled back).
	Impact      []Impact `json:"impact,omitempty"`
	BlastRadius *float64 `json:"blast_radius,omitempty"`
	// Load is the load generator's own count over the whole drill.
	Load *LoadCount `json:"load,omitempty"`
	// Failures are the first failing responses the router kept.
	Failures  []Failure    `json:"failures,omitempty"`
	Error     string       `json:"error,omitempty"`
	Pages     []Page       `json:"pages,omitempty"`
	Logs      []ReleaseLog `json:"logs,omitempty"` // each release's last lines at the end or failure
	Leftovers []string     `json:"leftovers,omitempty"`
	// Backtest is set when the report is not a drill but the plan's
	// analysis evaluated over a past time range of a Prometheus.
	Backtest *Backtest `json:"backtest,omitempty"`
	// Engine is the controller that ran the rollout ("" in reports
	// written before there were two: the built-in one).
	Engine Engine `json:"engine,omitempty"`
	// Argo is how the Argo engine ran the drill: its cluster and what it
	// changed in the exported manifests.
	Argo *ArgoRun `json:"argo,omitempty"`
	// Disagreements are where the other engine's latest report of the
	// same plan and scenario differs from this one, with its timeline.
	Disagreements []Disagreement `json:"disagreements,omitempty"`

	// File is where the report was read from, relative to the folder read.
	File string `json:"-"`
}

// Backtest says where and over what range a backtest ran.
type Backtest struct {
	Prometheus string        `json:"prometheus"`
	From       time.Time     `json:"from"`
	To         time.Time     `json:"to"`
	Step       time.Duration `json:"step_ns"`
	// FiredAt is when the policy would have fired, nil if it would not.
	FiredAt *time.Time `json:"fired_at,omitempty"`
}

// Failed lists the assertions that did not hold.
func (r *Report) Failed() []Assertion {
	var out []Assertion
	for _, a := range r.Assertions {
		if !a.Passed {
			out = append(out, a)
		}
	}
	return out
}

// ErrNotReport is returned for JSON that is not a drill report.
var ErrNotReport = errors.New("not a drill report (plan, scenario or start time missing)")

// Decode reads one report.
func Decode(data []byte) (*Report, error) {
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	if r.Plan == "" || r.Scenario == "" || r.Started.IsZero() {
		return nil, ErrNotReport
	}
	return &r, nil
}

// BadFile is a file under the reports folder that could not be read.
type BadFile struct {
	File string
	Err  error
}

func (b BadFile) Error() string { return fmt.Sprintf("%s: %v", b.File, b.Err) }

// ReadDir reads every report (*.json, dot files left out) under dir,
// oldest first. Files that are not reports are returned in bad, so a
// half-written report from someone else's drill never stops a reader.
// A missing dir holds no reports.
func ReadDir(dir string) (reports []*Report, bad []BadFile) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				bad = append(bad, BadFile{p, err})
			}
			return nil
		}
		if d.IsDir() {
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".json") || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err == nil {
			var r *Report
			if r, err = Decode(data); err == nil {
				rel, _ := filepath.Rel(dir, p)
				r.File = filepath.ToSlash(rel)
				reports = append(reports, r)
				return nil
			}
		}
		bad = append(bad, BadFile{p, err})
		return nil
	})
	sort.SliceStable(reports, func(i, j int) bool { return reports[i].Started.Before(reports[j].Started) })
	return reports, bad
}
