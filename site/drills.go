package site

import (
	"html/template"
	"path"
	"path/filepath"
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
		pts = append(pts, drillchart.Point{At: float64(iv.At) / 1e9, StableErr: iv.Stable.ErrorRate, CanaryErr: iv.Canary.ErrorRate,
			StableP99: iv.Stable.P99, CanaryP99: iv.Canary.P99, StableReqs: iv.Stable.Requests, CanaryReqs: iv.Canary.Requests,
			Inconclusive: strings.Join(iv.Inconclusive, ", ")})
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
	ttd, ttr float64
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

// DrilledImage is one release image a drill ran: its tag and image ID.
type DrilledImage struct {
	Release, Ref, ID, Built string
}

func drilledImages(r *drillReport) []DrilledImage {
	var out []DrilledImage
	for _, im := range r.Images {
		id := strings.TrimPrefix(im.ID, "sha256:")
		if len(id) > 12 {
			id = id[:12]
		}
		out = append(out, DrilledImage{Release: im.Release, Ref: im.Ref, ID: id, Built: im.Built})
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
		res := ScenarioResult{Scenario: r.Scenario, Passed: r.Passed, When: r.Started, State: string(r.FinalState), TTD: planSecs(r.TTDPlan), TTR: planSecs(r.TTRPlan), Chart: chart(r), Images: drilledImages(r), Guard: r.Guard, Logs: r.Logs, Analysis: decidingAnalysis(r)}
		if r.TTDPlan != nil && r.TTRPlan != nil {
			res.ttd, res.ttr = *r.TTDPlan, *r.TTRPlan
		}
		replaced := false
		for i := range pg.Scenarios {
			if pg.Scenarios[i].Scenario == r.Scenario {
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
		sort.Slice(pg.Scenarios, func(i, j int) bool { return pg.Scenarios[i].Scenario < pg.Scenarios[j].Scenario })
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
