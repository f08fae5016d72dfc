package site

import (
	"fmt"
	"html/template"
	"maps"
	"math"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	analysispkg "github.com/rollbook/rollbook/internal/analysis"
	"github.com/rollbook/rollbook/internal/drillchart"
	"github.com/rollbook/rollbook/internal/drillreport"
)

// drillReport is a game-day report as gameday writes it.
type drillReport = drillreport.Report

// chart draws the report's error rate and p99 with its timeline markers.
func chart(r *drillReport) template.HTML {
	var pts []drillchart.Point
	for _, iv := range r.Intervals {
		users := iv.Users()
		pts = append(pts, drillchart.Point{At: float64(iv.At) / 1e9, StableErr: iv.Stable.ErrorRate, CanaryErr: iv.Canary.ErrorRate,
			StableP99: iv.Stable.P99, CanaryP99: iv.Canary.P99, StableReqs: iv.Stable.Requests, CanaryReqs: iv.Canary.Requests,
			ServiceErr: users.ErrorRate, ServiceReqs: users.Requests, Inconclusive: strings.Join(iv.Inconclusive, ", ")})
	}
	var marks []drillchart.Marker
	for _, e := range r.Timeline {
		switch e.Type {
		case drillreport.EventInjection, drillreport.EventTrigger, drillreport.EventTraffic, drillreport.EventPage:
			marks = append(marks, drillchart.Marker{At: float64(e.At) / 1e9, Label: e.Message, Kind: string(e.Type)})
		}
	}
	return drillchart.Drill(r.Scenario, pts, marks)
}

// ScenarioResult is a plan's last drill of one scenario.
type ScenarioResult struct {
	Scenario string
	Passed   bool
	When     time.Time
	State    string
	TTD, TTR string
	// Chart is the drill's error rate and p99 over time.
	Chart template.HTML
	// Images are the releases drilled (empty for the demo service), Guard
	// what the migration guard proved, Logs the releases' last lines.
	Images []DrilledImage
	Guard  string
	Logs   []drillreport.ReleaseLog
	// Analysis is the deciding analysis (the trigger's, else the last one
	// measured): per trigger the query sent, the values, the threshold and
	// the verdict.
	Analysis []AnalysisRow
	// Headline is the outage a failed drill saw and its cause ("" when it
	// passed or named none).
	Headline string
	// Migrations are the plan's migrations as the drill ran them, with
	// each release's smoke verdict after each.
	Migrations []DrilledMigration
	// Impact is what users saw, per phase of the drill; BlastRadius says
	// how many requests failed before the rollback completed ("" when the
	// report does not say).
	Impact      []ImpactRow
	BlastRadius string
	// Failures are the first failing responses the router kept (at most
	// maxFailuresShown).
	Failures []drillreport.Failure
	// Volume says what data the database held ("" for the schema alone).
	Volume string
	// Engine is the controller that ran the rollout, shown when the plan
	// has results of more than one; Disagreements say where this drill
	// and the other engine's of the scenario differ.
	Engine        string
	Disagreements []string
	engine        drillreport.Engine
	ttd, ttr      float64
}

// DrilledMigration is one migration as a drill ran it.
type DrilledMigration struct {
	ID, When string
	Contract bool
	// Applied says whether and how it ran ("applied", "not applied:
	// manual", …); Weight is the canary's share of traffic then ("" when
	// it did not run).
	Applied string
	Weight  string
	Guard   []drillreport.SmokeVerdict
	// Load is what the migration cost the running service (nil when the
	// report predates lock sampling).
	Load *MigrationLoad
}

// MigrationLoad is one migration's locks and what the service felt while
// it ran, formatted (SPEC 3.3).
type MigrationLoad struct {
	Took, Attempts string
	Locks          []string // "ShareLock on orders for 5.5 s (line 8)"
	Queued         string   // how long it waited for its own locks ("" none)
	LongestWait    string   // "stable: 5.48 s"
	Budget         string
	Over           bool
	Requests       string // "495 (381 failed, 381 over 800 ms)"
	P99            string // "0 ms before → 9935 ms during"
	// Statement and Fix are the statement behind the longest wait and the
	// safe way to write it, when the wait broke the budget.
	Statement, Fix string
}

func migrationLoad(m drillreport.MigrationRun) *MigrationLoad {
	l := m.Locks
	if l == nil || l.Samples == 0 {
		return nil
	}
	v := &MigrationLoad{Took: span(l.Duration), Budget: span(l.Budget), Over: l.OverBudget(),
		P99: span(l.P99Before) + " → " + span(l.P99)}
	if l.Attempts > 1 {
		v.Attempts = fmt.Sprintf("%d attempts (gave up on its lock_timeout and was retried)", l.Attempts)
	}
	for _, h := range l.Held {
		s := fmt.Sprintf("%s on %s, %s", h.Mode, h.Relation, span(h.For))
		if h.Line > 0 {
			s += fmt.Sprintf(" (line %d)", h.Line)
		}
		v.Locks = append(v.Locks, s)
	}
	if l.Waited > 0 {
		v.Queued = span(l.Waited)
	}
	if b := l.LongestBlock(); b.For > 0 {
		v.LongestWait = b.Release + ": " + span(b.For)
	}
	v.Requests = fmt.Sprintf("%d (%d failed", l.Requests, l.Failed)
	if l.SlowOver > 0 {
		v.Requests += fmt.Sprintf(", %d over %s", l.Slow, span(l.SlowOver))
	}
	v.Requests += ")"
	if w := l.Worst; w != nil && v.Over {
		v.Statement = fmt.Sprintf("%s:%d  %s", m.File, w.Line, w.Text)
		if w.Lock != "" {
			v.Statement += "  (" + w.Lock + ")"
		}
		v.Fix = w.Fix
	}
	return v
}

// span is a duration for people: milliseconds below a second, else
// seconds to two places.
func span(d time.Duration) string {
	if d < time.Second {
		return millis(d.Seconds())
	}
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", d.Seconds()), "0"), ".") + "\u00a0s"
}

// ImpactRow is one phase of a drill's user-impact table, formatted.
type ImpactRow struct {
	Phase, Requests, Failed, ErrorRate, P99 string
	Whole                                   bool
}

// maxFailuresShown is how many failing responses a drill result lists.
const maxFailuresShown = 5

// phaseNames say a drill's phases for people.
var phaseNames = map[drillreport.Phase]string{
	drillreport.PhaseBefore:      "before the trigger",
	drillreport.PhaseRollingBack: "rolling back",
	drillreport.PhaseAfter:       "after the rollback",
	drillreport.PhaseWhole:       "whole drill",
}

func drilledMigrations(r *drillReport) []DrilledMigration {
	var out []DrilledMigration
	for _, m := range r.Migrations {
		d := DrilledMigration{ID: m.ID, When: m.When, Contract: m.Contract, Guard: m.Guard, Load: migrationLoad(m)}
		if d.ID == "" {
			d.ID = m.File
		}
		if d.When == "" {
			d.When = m.Runs
		}
		switch {
		case m.Applied:
			d.Applied, d.Weight = "applied", strconv.Itoa(m.Weight)+"\u00a0%"
		case m.Runs == "manual":
			d.Applied = "not applied: manual"
		case m.Error != "":
			d.Applied = "not applied: " + m.Error
		default:
			d.Applied = "not applied: the drill did not reach it"
		}
		if m.Applied && m.Error != "" {
			d.Applied += ": " + m.Error
		}
		out = append(out, d)
	}
	return out
}

func impactRows(r *drillReport) []ImpactRow {
	var out []ImpactRow
	for _, im := range r.Impact {
		name := phaseNames[im.Phase]
		if im.Phase == drillreport.PhaseAfter && r.FinalState != drillreport.RolledBack {
			// Nothing was rolled back: the phase is after the decision.
			name = "after the drill's decision (" + string(r.FinalState) + ")"
		}
		if name == "" {
			name = string(im.Phase)
		}
		row := ImpactRow{Phase: name, Requests: count(im.Requests), Failed: count(im.Failed), ErrorRate: "–", P99: "–", Whole: im.Phase == drillreport.PhaseWhole}
		if im.Requests > 0 {
			row.ErrorRate = ratioPercent(im.ErrorRate)
			row.P99 = millis(im.P99)
		}
		out = append(out, row)
	}
	return out
}

// volume says what the drill's database held.
func volume(r *drillReport) string {
	v := r.Volume
	if v == nil {
		return ""
	}
	var parts []string
	for _, t := range slices.Sorted(maps.Keys(v.Rows)) {
		parts = append(parts, fmt.Sprintf("%s rows of %s", thousands(v.Rows[t]), t))
	}
	if v.Seed != "" {
		parts = append(parts, "seed "+path.Base(filepath.ToSlash(v.Seed)))
	}
	out := "Drilled on " + strings.Join(parts, ", ")
	switch {
	case v.Cached:
		out += " (the database an earlier drill filled)"
	case v.Took > 0:
		out += fmt.Sprintf(" (filled in %.1f\u00a0s)", v.Took.Seconds())
	}
	return out + "."
}

// thousands writes n with thin spaces between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "\u202f" + s[i:]
	}
	return s
}

// blastRadius says how many requests failed before the rollback
// completed, or before the drill ended when nothing was rolled back.
func blastRadius(r *drillReport) string {
	if r.BlastRadius == nil {
		return ""
	}
	until := "before the drill ended"
	if r.FinalState == drillreport.RolledBack {
		until = "before the rollback completed"
	}
	for _, im := range r.Impact {
		if im.Phase == drillreport.PhaseRollingBack {
			until = "before the rollback completed"
		}
	}
	switch n := count(*r.BlastRadius); n {
	case "0":
		return "No request failed " + until + "."
	case "1":
		return "1 request failed " + until + "."
	default:
		return n + " requests failed " + until + "."
	}
}

// count is a request count, which Prometheus's increase gives as a real
// number.
func count(v float64) string { return strconv.FormatFloat(math.Round(v), 'f', 0, 64) }

// ratioPercent is a ratio in percent, to two decimals at most; a rate that is
// not zero never shows as 0.
func ratioPercent(v float64) string {
	p := v * 100
	if p > 0 && p < 0.01 {
		return "< 0.01\u00a0%"
	}
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", p), "0"), ".") + "\u00a0%"
}

// millis is seconds in milliseconds (to a tenth below 10 ms).
func millis(secs float64) string {
	ms := secs * 1000
	if ms < 10 {
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", ms), "0"), ".") + "\u00a0ms"
	}
	return fmt.Sprintf("%.0f\u00a0ms", ms)
}

func headline(r *drillReport) string {
	if r.Passed {
		return ""
	}
	return r.Headline
}

func shownFailures(r *drillReport) []drillreport.Failure {
	return r.Failures[:min(len(r.Failures), maxFailuresShown)]
}

// AnalysisRow is one trigger's measurement as the drill made it.
type AnalysisRow struct {
	Trigger, Verdict, Values, Threshold, Query string
}

// decidingAnalysis picks the analysis that decided the drill.
func decidingAnalysis(r *drillReport) []AnalysisRow {
	var pick []analysispkg.Result
	for _, e := range r.Timeline {
		if len(e.Results) == 0 {
			continue
		}
		if e.Type == drillreport.EventTrigger {
			pick = e.Results
			break
		}
		if e.Type == drillreport.EventAnalysis {
			pick = e.Results
		}
	}
	var out []AnalysisRow
	for _, res := range pick {
		if res.Query == "" {
			continue
		}
		vals := make([]string, len(res.Values))
		for i, v := range res.Values {
			vals[i] = strconv.FormatFloat(v, 'g', 4, 64)
		}
		v := strings.Join(vals, ", ")
		if v == "" {
			v = "no series"
		}
		out = append(out, AnalysisRow{Trigger: res.Trigger, Verdict: string(res.Verdict), Values: v, Threshold: strconv.FormatFloat(res.Threshold, 'g', -1, 64) + " " + res.Unit, Query: res.Query})
	}
	return out
}

// DrilledImage is one release image a drill ran: its tag and image ID
// (ID its first 12 hex digits, as docker images shows it; FullID whole).
type DrilledImage struct {
	Release, Ref, ID, FullID, Built string
}

func drilledImages(r *drillReport) []DrilledImage {
	var out []DrilledImage
	for _, im := range r.Images {
		id := strings.TrimPrefix(im.ID, "sha256:")
		if len(id) > 12 {
			id = id[:12]
		}
		out = append(out, DrilledImage{Release: im.Release, Ref: im.Ref, ID: id, FullID: im.ID, Built: im.Built})
	}
	return out
}

// readDrills reads every report under dir, oldest first. A report that
// cannot be read is logged with its file and skipped: a half-written
// report from someone else's drill never fails a build.
func (b *Builder) readDrills(dir string) []*drillReport {
	reports, bad := drillreport.ReadDir(dir)
	for _, f := range bad {
		b.log.Warn("skipping drill report", "file", f.File, "err", f.Err)
	}
	return reports
}

// reportPlan is the source path inside content/ of the plan a drill
// report is about.
func (b *Builder) reportPlan(r *drillReport) string {
	content := filepath.ToSlash(filepath.Clean(b.cfg.ContentDir)) + "/"
	return strings.TrimPrefix(strings.TrimPrefix(path.Clean(filepath.ToSlash(r.Plan)), "./"), content)
}

// attachDrills gives each plan page its last result per scenario.
func (b *Builder) attachDrills(s *loaded) {
	reports := b.readDrills(b.cfg.Path(b.cfg.DrillsDir))
	for _, r := range reports {
		pg, ok := s.byPath[b.reportPlan(r)]
		if !ok || pg.Type != "plan" {
			b.log.Warn("drill report for a plan that is not in the site", "file", r.File, "plan", r.Plan)
			continue
		}
		res := ScenarioResult{Scenario: r.Scenario, Passed: r.Passed, When: r.Started, State: string(r.FinalState), TTD: planSecs(r.TTDPlan), TTR: planSecs(r.TTRPlan), Chart: chart(r), Images: drilledImages(r), Guard: r.Guard, Logs: r.Logs, Analysis: decidingAnalysis(r),
			Headline: headline(r), Migrations: drilledMigrations(r), Impact: impactRows(r), BlastRadius: blastRadius(r), Failures: shownFailures(r), Volume: volume(r), engine: r.EngineOf()}
		for _, d := range r.Disagreements {
			res.Disagreements = append(res.Disagreements, fmt.Sprintf("%s: %s disagrees with %s on the %s: %s here, %s there", r.Scenario, r.EngineOf(), d.OtherEngine, d.What, d.This, d.Other))
		}
		if r.TTDPlan != nil && r.TTRPlan != nil {
			res.ttd, res.ttr = *r.TTDPlan, *r.TTRPlan
		}
		replaced := false
		for i := range pg.Scenarios {
			if pg.Scenarios[i].Scenario == r.Scenario && pg.Scenarios[i].engine == res.engine {
				pg.Scenarios[i] = res
				replaced = true
			}
		}
		if !replaced {
			pg.Scenarios = append(pg.Scenarios, res)
		}
		pg.DrillHistory = append(pg.DrillHistory, res)
	}
	now := b.now()
	defer func() {
		// Overdue: no passing drill within two periods of the schedule.
		for _, pg := range s.plans {
			sched := pg.Plan.Gameday.Schedule.Schedule
			if sched == nil {
				continue
			}
			if pg.Drill == nil {
				pg.Drill = &DrillStatus{Result: "none"}
			}
			d := pg.Drill
			d.Overdue = d.LastPass.IsZero() || !sched.Next(sched.Next(d.LastPass)).After(now)
		}
	}()
	for _, pg := range s.plans {
		if len(pg.Scenarios) == 0 {
			continue
		}
		st := &DrillStatus{Result: "pass"}
		for _, sc := range pg.Scenarios {
			if !sc.Passed {
				st.Result = "fail"
			}
			if sc.When.After(st.When) {
				st.When = sc.When
			}
		}
		for _, d := range pg.DrillHistory {
			if d.Passed && d.When.After(st.LastPass) {
				st.LastPass = d.When
			}
		}
		pg.Drill = st
		sort.Slice(pg.Scenarios, func(i, j int) bool {
			a, b := pg.Scenarios[i], pg.Scenarios[j]
			return a.Scenario < b.Scenario || a.Scenario == b.Scenario && a.engine < b.engine
		})
		// Both engines' results, each named, once the plan has both.
		engines := map[drillreport.Engine]bool{}
		for _, sc := range pg.Scenarios {
			engines[sc.engine] = true
		}
		for i := range pg.Scenarios {
			if len(engines) > 1 {
				pg.Scenarios[i].Engine = string(pg.Scenarios[i].engine)
			}
		}
		// Newest first, and a bounded history.
		h := pg.DrillHistory
		var labels []string
		var ttd, ttr []float64
		for _, d := range h {
			if d.ttd > 0 || d.ttr > 0 {
				labels = append(labels, d.When.UTC().Format("2006-01-02 15:04")+" "+d.Scenario)
				ttd, ttr = append(ttd, d.ttd), append(ttr, d.ttr)
			}
		}
		pg.HistoryChart = drillchart.History(labels, ttd, ttr)
		for i, j := 0, len(h)-1; i < j; i, j = i+1, j-1 {
			h[i], h[j] = h[j], h[i]
		}
		if len(h) > 20 {
			pg.DrillHistory = h[:20]
		}
	}
}

func planSecs(v *float64) string {
	if v == nil {
		return "–"
	}
	d := time.Duration(*v * float64(time.Second))
	if d < time.Minute {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Second).String()
}
