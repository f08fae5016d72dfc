// Package drillchart draws drill results as small inline SVG charts: error
// rate and p99 latency of the stable and canary releases over a drill (and
// the error rate of the whole service: what users saw), with markers for
// the injection, the trigger, traffic shifts and the page; and time to
// detect and to roll back across a plan's past drills. A few lines and
// markers do not need a plotting library.
package drillchart

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// Point is one analysis interval of a drill.
type Point struct {
	At float64 // seconds since the drill started
	// Inconclusive names the triggers whose analysis at this point had no
	// verdict (no data): the chart shades the interval before it.
	StableErr, CanaryErr   float64 // ratios
	StableP99, CanaryP99   float64 // seconds
	StableReqs, CanaryReqs float64
	Inconclusive           string
	// ServiceErr is both releases together, over ServiceReqs requests:
	// the error rate users saw (no line where ServiceReqs is 0).
	ServiceErr, ServiceReqs float64
}

// series is one line of a chart: its name (class series-NAME, legend
// entry legend-NAME) and its value at a point, false where it has none.
type series struct {
	name, legend string
	// optional: the line is left out of the legend when it has no value
	// (points made without it); dashed: it may lie on another line.
	optional bool
	val      func(Point) (float64, bool)
}

// drawn reports whether l has a value at two points in a row (a line).
func drawn(pts []Point, l series) bool {
	prev := false
	for _, p := range pts {
		_, ok := l.val(p)
		if ok && prev {
			return true
		}
		prev = ok
	}
	return false
}

// Marker is a timeline event drawn as a vertical line.
type Marker struct {
	At    float64
	Label string
	Kind  string // injection, trigger, traffic, page, state
}

const (
	width, height = 560, 150
	left, right   = 46, 10
	top, bottom   = 14, 24
)

// Drill renders the error-rate and p99 charts of one drill.
func Drill(title string, pts []Point, marks []Marker) template.HTML {
	if len(pts) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(`<div class="drill-charts">`)
	b.WriteString(chart(title+": error rate", "%", pts, marks, []series{
		{"stable", "— stable", false, func(p Point) (float64, bool) { return p.StableErr * 100, p.StableReqs > 0 }},
		{"canary", "— canary", false, func(p Point) (float64, bool) { return p.CanaryErr * 100, p.CanaryReqs > 0 }},
		{"service", "╌ service (what users saw)", true, func(p Point) (float64, bool) { return p.ServiceErr * 100, p.ServiceReqs > 0 }},
	}))
	b.WriteString(chart(title+": p99 latency", "ms", pts, marks, []series{
		{"stable", "— stable", false, func(p Point) (float64, bool) { return p.StableP99 * 1000, p.StableReqs > 0 }},
		{"canary", "— canary", false, func(p Point) (float64, bool) { return p.CanaryP99 * 1000, p.CanaryReqs > 0 }},
	}))
	b.WriteString(`</div>`)
	return template.HTML(b.String())
}

func chart(title, unit string, pts []Point, marks []Marker, lines []series) string {
	maxX := pts[len(pts)-1].At
	for _, m := range marks {
		maxX = math.Max(maxX, m.At)
	}
	if maxX <= 0 {
		maxX = 1
	}
	maxY := 0.0
	for _, p := range pts {
		for _, l := range lines {
			if v, ok := l.val(p); ok {
				maxY = math.Max(maxY, v)
			}
		}
	}
	maxY = niceCeil(maxY)
	x := func(v float64) float64 { return left + v/maxX*float64(width-left-right) }
	y := func(v float64) float64 { return float64(height-bottom) - v/maxY*float64(height-top-bottom) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="drill-chart" role="img" aria-label="%s" viewBox="0 0 %d %d" width="100%%" xmlns="http://www.w3.org/2000/svg">`, html.EscapeString(title), width, height)
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(title))
	// Axes and gridlines at 0, half and max.
	for _, f := range []float64{0, 0.5, 1} {
		yy := y(maxY * f)
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="currentColor" stroke-opacity="0.15"/>`, left, width-right, yy, yy)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-size="10" text-anchor="end" fill="currentColor">%s%s</text>`, left-4, yy+3, trim(maxY*f), unit)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10" fill="currentColor">0s</text><text x="%d" y="%d" font-size="10" text-anchor="end" fill="currentColor">%.1fs</text>`, left, height-6, width-right, height-6, maxX)
	// Intervals whose analysis was inconclusive are shaded: no data is
	// shown as such, never as a pass.
	prev := 0.0
	for _, p := range pts {
		if p.Inconclusive != "" {
			x0, x1 := x(prev), x(p.At)
			fmt.Fprintf(&b, `<rect class="inconclusive" x="%.1f" y="%d" width="%.1f" height="%d" fill="currentColor" fill-opacity="0.12"><title>%.2fs inconclusive (no data): %s</title></rect>`,
				x0, top, math.Max(x1-x0, 1), height-top-bottom, p.At, html.EscapeString(p.Inconclusive))
		}
		prev = p.At
	}
	for _, m := range marks {
		xx := x(m.At)
		fmt.Fprintf(&b, `<g class="marker marker-%s"><line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="currentColor" stroke-dasharray="3 3" stroke-opacity="0.6"/><title>%.2fs %s</title></g>`,
			html.EscapeString(m.Kind), xx, xx, top, height-bottom, m.At, html.EscapeString(m.Label))
	}
	line := func(l series) {
		dash := ""
		if l.optional {
			dash = ` stroke-dasharray="5 3"`
		}
		var seg []string
		flush := func() {
			if len(seg) > 1 {
				fmt.Fprintf(&b, `<polyline class="series-%s" fill="none" stroke-width="2"%s points="%s"/>`, l.name, dash, strings.Join(seg, " "))
			}
			seg = seg[:0]
		}
		for _, p := range pts {
			v, ok := l.val(p)
			if !ok {
				flush()
				continue
			}
			seg = append(seg, fmt.Sprintf("%.1f,%.1f", x(p.At), y(v)))
		}
		flush()
	}
	for _, l := range lines {
		line(l)
	}
	// The service's line is optional: named only when drawn.
	b.WriteString(`<g font-size="10" fill="currentColor">`)
	for i, l := range lines {
		if l.optional && !drawn(pts, l) {
			continue
		}
		fmt.Fprintf(&b, `<text class="legend-%s" x="%d" y="11">%s</text>`, l.name, left+4+60*i, html.EscapeString(l.legend))
	}
	b.WriteString(`</g></svg>`)
	return b.String()
}

// History renders time to detect and time to roll back across drills,
// oldest first, as bars (plan-time seconds).
func History(labels []string, ttd, ttr []float64) template.HTML {
	if len(labels) == 0 {
		return ""
	}
	maxV := 0.0
	for i := range labels {
		maxV = math.Max(maxV, math.Max(ttd[i], ttr[i]))
	}
	maxV = niceCeil(maxV)
	n := len(labels)
	slot := float64(width-left-right) / float64(n)
	bw := math.Min(14, slot/3)
	y := func(v float64) float64 { return float64(height-bottom) - v/maxV*float64(height-top-bottom) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="drill-chart drill-history" role="img" aria-label="Time to detect and time to roll back per drill" viewBox="0 0 %d %d" width="100%%" xmlns="http://www.w3.org/2000/svg"><title>Time to detect and time to roll back per drill</title>`, width, height)
	for _, f := range []float64{0, 0.5, 1} {
		yy := y(maxV * f)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="currentColor" stroke-opacity="0.15"/><text x="%d" y="%.1f" font-size="10" text-anchor="end" fill="currentColor">%ss</text>`, left, width-right, yy, yy, left-4, yy+3, trim(maxV*f))
	}
	for i := range labels {
		x0 := left + slot*float64(i) + slot/2 - bw
		fmt.Fprintf(&b, `<rect class="series-ttd" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: detect %.0fs</title></rect>`, x0, y(ttd[i]), bw, float64(height-bottom)-y(ttd[i]), html.EscapeString(labels[i]), ttd[i])
		fmt.Fprintf(&b, `<rect class="series-ttr" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: roll back %.0fs</title></rect>`, x0+bw, y(ttr[i]), bw, float64(height-bottom)-y(ttr[i]), html.EscapeString(labels[i]), ttr[i])
	}
	fmt.Fprintf(&b, `<g font-size="10" fill="currentColor"><text class="legend-ttd" x="%d" y="11">▮ time to detect</text><text class="legend-ttr" x="%d" y="11">▮ time to roll back</text></g></svg>`, left+4, left+110)
	return template.HTML(b.String())
}

func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func trim(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}
