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
)

// State is where a drill's controller is.
type State string

const (
	Pending     State = "pending"
	Progressing State = "progressing"
	Baking      State = "baking"
	Promoted    State = "promoted"
	RollingBack State = "rolling-back"
	RolledBack  State = "rolled-back"
	Halted      State = "halted"
)

// Final reports whether nothing happens after s.
func (s State) Final() bool { return s == Promoted || s == RolledBack || s == Halted }

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
)

// Action is what an action event did.
type Action string

const (
	ActionStarted       Action = "drill-started"
	ActionCanaryStopped Action = "canary-stopped"
)

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
	// SmokePassed is the dynamic migration guard's verdict (guard events):
	// the stable release's smoke checks against the migrated database.
	SmokePassed *bool `json:"smoke_passed,omitempty"`
	// Logs holds each release's last log lines (log events).
	Logs    []ReleaseLog      `json:"logs,omitempty"`
	Results []analysis.Result `json:"results,omitempty"`
}

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

// Assertion is one check of a drill, with what was seen.
type Assertion struct {
	Name    string `json:"name"`
	Passed  bool   `json:"passed"`
	Message string `json:"message"`
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
	Guard     string       `json:"guard,omitempty"`
	Error     string       `json:"error,omitempty"`
	Pages     []Page       `json:"pages,omitempty"`
	Logs      []ReleaseLog `json:"logs,omitempty"` // each release's last lines at the end or failure
	Leftovers []string     `json:"leftovers,omitempty"`
	// Backtest is set when the report is not a drill but the plan's
	// analysis evaluated over a past time range of a Prometheus.
	Backtest *Backtest `json:"backtest,omitempty"`

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
