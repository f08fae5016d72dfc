// Package metricquery is the one home of the analysis a release is judged
// by: for each trigger of a plan it renders the PromQL query and the
// pass/fail conditions (Argo Rollouts' expression language) that the
// game-day drill evaluates against its own Prometheus and that rollbook
// export writes into the Argo AnalysisTemplate and the Flagger
// MetricTemplate. The request floor (min_requests) and the baseline
// statistic are inside the query, so a controller decides as the drill did,
// and a query without data yields no value, which no condition passes.
// Besides the triggers' checks of the canary, a plan's request-ratio
// triggers yield a Stable check: the stable release against its own level
// before the rollout, whose breach halts and pages (SPEC 3.3).
package metricquery

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/rollbook/rollbook/internal/plan"
)

// ZCritical is the one-sided z score a baseline comparison must exceed:
// 3.5 is a 0.02 % false-alarm rate per analysis, before the consecutive
// rule multiplies its protection.
const ZCritical = 3.5

// MinLatencySamples is the request floor of a latency quantile: a p99 from
// fewer samples is noise.
const MinLatencySamples = 20

// Argo template arguments the rendered queries refer to. Argo fills the
// hashes from the pod templates and the window and the baseline range
// from the arguments' defaults; the drill fills them with its release
// labels and its compressed window and range.
const (
	ArgCanary = "canary-hash"
	ArgStable = "stable-hash"
	ArgWindow = "window"
	// ArgBaseline is the trailing range a StableRegression check takes
	// the stable release's own level from (see Baseline).
	ArgBaseline = "baseline"
)

// BaselineWindows is the shortest baseline range of a StableRegression
// check, in windows: ten windows of the stable release's past hold ten
// times the window's requests, so the level's own noise is small beside
// the window's.
const BaselineWindows = 10

// Series names the counters a query reads. The drill's Prometheus renames
// the router's series to these, so the exported text runs unchanged.
const (
	RequestsTotal   = "http_requests_total"
	DurationBuckets = "http_request_duration_seconds_bucket"
	// ReleaseLabel is the label Argo Rollouts puts on each release's pods.
	ReleaseLabel = "rollouts_pod_template_hash"
)

// Kind is how a trigger's value is computed.
type Kind string

const (
	// BaselineZ is the two-proportion z statistic of "the canary's error
	// rate is above the stable's", zero unless the canary's excess is at
	// least half the allowed delta (so tiny but significant differences
	// at high volume page nobody).
	BaselineZ Kind = "baseline-z"
	// Ratio is the canary's share of bad requests.
	Ratio Kind = "ratio"
	// Quantile is a latency quantile of the canary, in seconds.
	Quantile Kind = "quantile"
	// Custom is a query written in the plan (query:) or in rollbook.yaml
	// (promql:), compared as written.
	Custom Kind = "custom"
	// StableRegression is how far the stable release's share of bad
	// requests in the window rose, significantly, above its own share
	// over the trailing baseline range: the watch on the stable release
	// that a baseline comparison is blind to, when the stable release is
	// the one that broke (a contract migration under the old release).
	StableRegression Kind = "stable-regression"
)

// Check is one trigger's analysis: the query, the conditions and the
// limits, as every consumer uses them.
type Check struct {
	Trigger string
	Kind    Kind
	// Query is PromQL with Argo argument references ({{args.window}},
	// {{args.canary-hash}}, {{args.stable-hash}}); Resolve fills them.
	Query string
	// Success and Failure are Argo Rollouts conditions over result (the
	// query's values). A measurement that meets neither (no series, NaN)
	// is inconclusive.
	Success, Failure string
	// Threshold is what the value is compared with; Above says a value
	// above it fails (below, for a min: trigger).
	Threshold float64
	Above     bool
	Unit      string // "z", "ratio", "s" or "" (as the query returns it)
	// MinRequests is the request floor inside the query (0: none): the
	// canary's, or the stable release's for a Stable check.
	MinRequests int
	Window      time.Duration
	// Stable is true for a check that judges the stable release against
	// its own recent level (Kind StableRegression), not the canary: a
	// fired one halts the release and pages; it never rolls the canary
	// back and never promotes it.
	Stable bool
	// Baseline is the trailing range of a Stable check ({{args.baseline}},
	// whose default it is, ending where the window starts): long enough
	// to reach back before the rollout's first step from every
	// measurement of its bakes. 0 for the other checks.
	Baseline time.Duration
	// Consecutive bad windows fire the trigger.
	Consecutive int
	// NoDataAfter is how many inconclusive measurements in a row set
	// analysis.no_data off: its after: N windows, each window/interval
	// measurements long. Argo's inconclusiveLimit is written from it.
	NoDataAfter int

	success, failure *condition
}

// HasData and NoData are conditions on whether a measurement has a value
// at all, for the metric that rolls back after windows without data.
const (
	HasData = "len(result) > 0 && !isNaN(result[0])"
	NoData  = "len(result) == 0 || isNaN(result[0])"
)

// Never is a condition no measurement meets. Written as the
// failureCondition of an Argo metric beside its successCondition, it
// makes every measurement that is not a success Inconclusive, which
// pauses the rollout for a human instead of aborting it (Argo Rollouts
// counts a measurement as Failed, and aborts, when a metric has a
// successCondition that is not met and no failureCondition at all).
const Never = "false"

// Verdict is one measurement's outcome.
type Verdict string

const (
	Pass         Verdict = "pass"
	Fail         Verdict = "fail"
	Inconclusive Verdict = "inconclusive"
)

// Counters maps ratio metrics to the request series that count them: the
// bad requests are the matcher's subset of RequestsTotal. A site names
// other metrics with promql: in rollbook.yaml, or a plan writes query:.
var Counters = map[string]string{
	"error_rate":    `code=~"5.."`,
	"http_5xx_rate": `code=~"5.."`,
}

// Render returns the analysis of every trigger of p that is evaluated by
// a query (health triggers are readiness probes), or an error naming the
// trigger that cannot be expressed. site holds rollbook.yaml's promql:
// overrides by metric ({{service}}, {{window}} and {{hash}} are filled).
//
// The triggers' checks come first, one per trigger in the plan's order;
// then, for each metric judged from the request counters (a ratio of
// Counters, baseline or max: threshold, not a latency and not a custom
// query), one Stable check of kind StableRegression named "stable_" and
// the metric, from the first trigger of that metric.
func Render(p *plan.Plan, site map[string]string) ([]Check, []string, error) {
	var out, stable []Check
	var skipped []string
	seen := map[string]bool{}
	for i, t := range p.Triggers {
		if t.IsHealth() {
			continue
		}
		c, ok, err := render(p.Service, t, site)
		c.NoDataAfter = noDataAfter(p.Analysis, c.Window)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: triggers[%d] (%s): %w", p.Path, i, t.Metric, err)
		}
		if !ok {
			skipped = append(skipped, t.Metric)
			continue
		}
		out = append(out, c)
		s, ok, err := renderStable(p, t, c)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: triggers[%d] (%s), its stable-release watch: %w", p.Path, i, t.Metric, err)
		}
		if ok && !seen[s.Trigger] {
			seen[s.Trigger] = true
			stable = append(stable, s)
		}
	}
	return append(out, stable...), skipped, nil
}

// StablePrefix starts the name of a Stable check: "stable_error_rate"
// watches the stable release's error_rate.
const StablePrefix = "stable_"

// renderStable is the watch on the stable release that trigger t (whose
// own check is c) implies, when t judges a ratio of request counters.
//
// Its value is how far the stable release's bad share in the window rose
// above its share over the trailing baseline range before the window,
// where that rise is significant, and 0 where it is not:
//
//	(p1 - p0) * ((p1 - p0) / sqrt(pool * (1 - pool) * (1/n1 + 1/n0)) >= bool ZCritical)
//	  and on() (n1 >= min_requests) and on() (n0 >= min_requests)
//
// p1 = e1/n1 counts the stable release's requests over {{args.window}},
// p0 = e0/n0 over [{{args.baseline}}] offset {{args.window}} (the range
// that ends where the window starts, so a regression does not raise its
// own level), and pool is (e1+e0)/(n1+n0): the two-proportion z test of
// the canary's baseline trigger, with the stable release's own past as
// the baseline. A quiet window (fewer than the trigger's min_requests
// stable requests) or a past without that many has no value:
// inconclusive.
//
// Why not the lowest windowed share over the range, (R) -
// min_over_time((R)[baseline:window]): the minimum of a dozen noisy
// windows sits well below the level, so a steady stable release breaches
// on its own noise (measured: at 500 stable requests a window and 2 %
// errors, every simulated hour fired; at 2000 a window and 5 %, half of
// them). The range's share is the level with a dozen windows' requests,
// and the z gate leaves only rises the counts prove. A step regression
// stays visible long after the window: the rise falls only as the
// regressed windows fill the range, and stays above an allowed rise d of
// a jump J while less than 1 - d/J of the range is after the step (an
// "offset window" comparison with one window forgets it after one
// window). Neither controller can pin the rollout's first step in a
// query, so the range is trailing and long enough to reach before it
// (Baseline).
//
// The allowed rise is the trigger's max_delta (baseline triggers) or its
// max: (threshold triggers), with the trigger's window, consecutive and
// request floor.
func renderStable(p *plan.Plan, t plan.Trigger, c Check) (Check, bool, error) {
	if c.Kind != BaselineZ && (c.Kind != Ratio || !c.Above) {
		return Check{}, false, nil
	}
	bad, ok := Counters[t.Metric]
	if !ok {
		return Check{}, false, nil
	}
	rise := c.Threshold
	if c.Kind == BaselineZ {
		rise = float64(t.MaxDelta)
	}
	if rise <= 0 {
		// No allowed rise written: nothing to compare the stable's with.
		return Check{}, false, nil
	}
	s := Check{Trigger: StablePrefix + t.Metric, Kind: StableRegression, Unit: "ratio", Stable: true, Above: true,
		Threshold: rise, Window: c.Window, Consecutive: c.Consecutive, MinRequests: max(t.MinRequests, 1),
		NoDataAfter: c.NoDataAfter, Baseline: Baseline(p, c.Window)}
	sel := Selector(p.Service, ArgStable)
	w := "[{{args." + ArgWindow + "}}]"
	b := "[{{args." + ArgBaseline + "}}] offset {{args." + ArgWindow + "}}"
	n1, e1 := requests(sel, "", w), errorsOr0(sel, bad, w)
	n0, e0 := requests(sel, "", b), errorsOr0(sel, bad, b)
	up := "((" + e1 + " / " + n1 + ") - (" + e0 + " / " + n0 + "))"
	pool := "((" + e1 + " + " + e0 + ") / (" + n1 + " + " + n0 + "))"
	z := up + " / sqrt(" + pool + " * (1 - " + pool + ") * (1 / " + n1 + " + 1 / " + n0 + ") + 1e-12)"
	s.Query = up + " * (" + z + " >= bool " + num(ZCritical) + ")" + floor(n1, s.MinRequests) + floor(n0, s.MinRequests)
	if err := s.conditions(); err != nil {
		return s, false, err
	}
	return s, true, nil
}

// Baseline is the trailing range a Stable check of p with window takes
// the stable release's level from (it ends where the window starts): the
// plan's bake times and one window, so that from every measurement of
// the rollout's bakes the range reaches at least a window before its
// first step (the level the stable release had before the rollout), and
// at least BaselineWindows windows.
func Baseline(p *plan.Plan, window time.Duration) time.Duration {
	var bake time.Duration
	for _, s := range p.Strategy.Steps {
		bake += s.Bake.D()
	}
	return max(bake+window, BaselineWindows*window)
}

func render(service string, t plan.Trigger, site map[string]string) (Check, bool, error) {
	c := Check{Trigger: t.Metric, Window: t.Window.D(), Consecutive: t.Consecutives(), MinRequests: t.MinRequests, Above: true}
	if c.Window == 0 {
		c.Window = time.Minute
	}
	canary := Selector(service, ArgCanary)
	stable := Selector(service, ArgStable)
	w := "[{{args." + ArgWindow + "}}]"
	custom, hasSite := site[t.Metric]
	switch {
	case t.Query != "":
		c.Kind, c.Query = Custom, t.Query
	case hasSite:
		c.Kind = Custom
		c.Query = strings.NewReplacer("{{service}}", service, "{{window}}", "{{args."+ArgWindow+"}}", "{{hash}}", "{{args."+ArgCanary+"}}").Replace(custom)
	case strings.HasPrefix(t.Metric, "latency_p"):
		q, err := quantileOf(t.Metric)
		if err != nil {
			return c, false, err
		}
		c.Kind, c.Unit = Quantile, "s"
		c.MinRequests = max(c.MinRequests, MinLatencySamples)
		c.Query = fmt.Sprintf(`histogram_quantile(%s, sum by (le) (increase(%s{%s}%s)))`, num(q), DurationBuckets, canary, w) +
			floor(requests(canary, "", w), c.MinRequests)
	default:
		bad, ok := Counters[t.Metric]
		if !ok {
			return c, false, nil
		}
		cn, ce := requests(canary, "", w), errorsOr0(canary, bad, w)
		if t.Compare == "baseline" || t.MaxDelta > 0 && !t.Max.Set {
			sn, se := requests(stable, "", w), errorsOr0(stable, bad, w)
			pc := "(" + ce + " / " + cn + ")"
			ps := "(" + se + " / " + sn + ")"
			pool := "((" + ce + " + " + se + ") / (" + cn + " + " + sn + "))"
			// The 1e-12 keeps z at 0 (not NaN) when neither release has
			// an error; a missing stable release still gives NaN.
			z := "(" + pc + " - " + ps + ") / sqrt(" + pool + " * (1 - " + pool + ") * (1 / " + cn + " + 1 / " + sn + ") + 1e-12)"
			gate := "(" + pc + " - " + ps + " >= bool " + num(float64(t.MaxDelta)/2) + ")"
			c.Kind, c.Unit, c.Threshold = BaselineZ, "z", ZCritical
			c.Query = "(" + z + ") * " + gate + floor(cn, c.MinRequests)
		} else {
			c.Kind, c.Unit = Ratio, "ratio"
			c.Query = "(" + ce + " / " + cn + ")" + floor(cn, max(c.MinRequests, 1))
		}
	}
	if c.Kind != BaselineZ {
		switch {
		case t.Max.Set:
			c.Threshold = t.Max.Value
		case t.Min.Set:
			c.Threshold, c.Above = t.Min.Value, false
		case t.MaxDelta > 0:
			c.Threshold = float64(t.MaxDelta)
		default:
			return c, false, fmt.Errorf("no threshold to compare the query's value with (write max: 0.5 or min: 3)")
		}
	}
	if err := c.conditions(); err != nil {
		return c, false, err
	}
	return c, true, nil
}

// conditions writes c's Argo conditions from its threshold (a value
// fails beyond it, and no data meets neither), compiles them and checks
// the query with Prometheus's parser.
func (c *Check) conditions() error {
	op, neg := ">", "<="
	if !c.Above {
		op, neg = "<", ">="
	}
	have := HasData + " && "
	c.Success = have + "result[0] " + neg + " " + num(c.Threshold)
	c.Failure = have + "result[0] " + op + " " + num(c.Threshold)
	if err := c.compile(); err != nil {
		return err
	}
	if _, err := Validate(c.Resolve(ExampleArgs(c.Window))); err != nil {
		return err
	}
	return nil
}

// noDataAfter counts analysis.no_data's windows in measurements.
func noDataAfter(a plan.Analysis, window time.Duration) int {
	iv := a.Interval.D()
	if iv <= 0 {
		iv = 30 * time.Second
	}
	per := max(1, int(math.Ceil(float64(window)/float64(iv))))
	return a.NoData.Windows() * per
}

// Selector is the label matchers of one release of service, with the
// release given by an Argo argument.
func Selector(service, arg string) string {
	return `service="` + service + `",` + ReleaseLabel + `="{{args.` + arg + `}}"`
}

func requests(sel, extra, w string) string {
	if extra != "" {
		sel += "," + extra
	}
	return "sum(increase(" + RequestsTotal + "{" + sel + "}" + w + "))"
}

// errorsOr0 counts bad requests: a release that never answered badly has
// no such series, which means zero, not no data.
func errorsOr0(sel, bad, w string) string {
	return "(" + requests(sel, bad, w) + " or vector(0))"
}

// floor keeps the value only when the release counted by requests (the
// canary's, or the stable's for a Stable check) served at least n
// requests in the window; below it the query returns nothing
// (inconclusive).
func floor(requests string, n int) string {
	if n <= 0 {
		return ""
	}
	return " and on() (" + requests + " >= " + strconv.Itoa(n) + ")"
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func quantileOf(metric string) (float64, error) {
	s := strings.TrimPrefix(metric, "latency_p")
	if s == "" || strings.ContainsAny(s, ".-+eE") {
		return 0, fmt.Errorf("latency metric %q: write latency_p50, latency_p99 or latency_p999", metric)
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("latency metric %q: write latency_p50, latency_p99 or latency_p999", metric)
	}
	// p999 is 0.999: the digits are the decimals.
	return float64(v) / math.Pow(10, float64(len(s))), nil
}

// Args are Argo template argument values by name.
type Args map[string]string

// ExampleArgs are the values a controller might fill in, for validation.
func ExampleArgs(window time.Duration) Args {
	return Args{ArgCanary: "canary", ArgStable: "stable", ArgWindow: Duration(window)}
}

// Resolve fills the query's {{args.NAME}} references as Argo Rollouts
// does before it sends the query: from args, and the window and the
// baseline range that args leave out from the template's defaults (the
// check's Window and Baseline).
func (c Check) Resolve(args Args) string {
	q := c.Query
	for k, v := range args {
		q = strings.ReplaceAll(q, "{{args."+k+"}}", v)
	}
	for k, v := range c.defaults() {
		q = strings.ReplaceAll(q, "{{args."+k+"}}", v)
	}
	return q
}

// Ranged is the query with the check's own ranges (its window and, for a
// Stable check, its baseline) written in, and only the release hashes
// left as arguments: what an export sends where several checks' templates
// are run as one analysis with one flat list of arguments.
func (c Check) Ranged() string {
	q := c.Query
	for k, v := range c.defaults() {
		q = strings.ReplaceAll(q, "{{args."+k+"}}", v)
	}
	return q
}

// defaults are the values the exported template gives the arguments a
// rollout does not pass: the window and, for a Stable check, the
// baseline range, in plan time.
func (c Check) defaults() Args {
	d := Args{ArgWindow: Duration(c.Window)}
	if c.Baseline > 0 {
		d[ArgBaseline] = Duration(c.Baseline)
	}
	return d
}

// Duration formats a duration as PromQL and the controllers write it.
func Duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "1m"
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	ms := d.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	return fmt.Sprintf("%dms", ms)
}

var promParser = parser.NewParser(parser.Options{})

// Validate parses a query with Prometheus's own PromQL parser.
func Validate(query string) (parser.Expr, error) {
	e, err := promParser.ParseExpr(query)
	if err != nil {
		return nil, fmt.Errorf("PromQL does not parse: %w", err)
	}
	return e, nil
}

// ParseError is where in a query the PromQL parser stopped, 0-based.
type ParseError struct {
	Offset  int
	Message string
}

// Parse checks a query as written in a plan and, when it does not parse,
// says where: the byte offset and the parser's own message.
func Parse(query string) *ParseError {
	_, err := promParser.ParseExpr(query)
	if err == nil {
		return nil
	}
	if errs, ok := err.(parser.ParseErrors); ok && len(errs) > 0 {
		return &ParseError{Offset: int(errs[0].PositionRange.Start), Message: errs[0].Err.Error()}
	}
	return &ParseError{Message: err.Error()}
}

// Evaluate decides one measurement from the query's values with the
// Argo conditions, as the controller would.
func (c *Check) Evaluate(result []float64) (Verdict, error) {
	if c.success == nil {
		if err := c.compile(); err != nil {
			return Inconclusive, err
		}
	}
	ok, err := c.failure.eval(result)
	if err != nil {
		return Inconclusive, err
	}
	if ok {
		return Fail, nil
	}
	ok, err = c.success.eval(result)
	if err != nil {
		return Inconclusive, err
	}
	if ok {
		return Pass, nil
	}
	return Inconclusive, nil
}

func (c *Check) compile() error {
	s, err := compileCondition(c.Success)
	if err != nil {
		return fmt.Errorf("successCondition %q: %w", c.Success, err)
	}
	f, err := compileCondition(c.Failure)
	if err != nil {
		return fmt.Errorf("failureCondition %q: %w", c.Failure, err)
	}
	c.success, c.failure = s, f
	return nil
}

// Describe says what a measurement showed, for timelines and reports.
func (c Check) Describe(result []float64, v Verdict) string {
	op := ">"
	if !c.Above {
		op = "<"
	}
	release := "canary"
	if c.Stable {
		release = "stable"
	}
	if v == Inconclusive {
		why := "no series"
		if len(result) > 0 {
			why = "NaN"
		}
		switch {
		case c.Stable:
			why += fmt.Sprintf(" (no data, or fewer than %d stable requests in %s or in the %s before it)", c.MinRequests, plan.FormatDuration(c.Window), plan.FormatDuration(c.Baseline))
		case c.MinRequests > 0:
			why += fmt.Sprintf(" (no data, or fewer than %d %s requests in %s)", c.MinRequests, release, plan.FormatDuration(c.Window))
		}
		return fmt.Sprintf("%s inconclusive: %s", c.Trigger, why)
	}
	if c.Stable {
		return fmt.Sprintf("%s %s: the stable release's share of bad requests rose %s above its own over the %s before the window (fails %s %s)", c.Trigger, v, c.format(result[0]), plan.FormatDuration(c.Baseline), op, c.format(c.Threshold))
	}
	return fmt.Sprintf("%s %s: %s (fails %s %s)", c.Trigger, v, c.format(result[0]), op, c.format(c.Threshold))
}

func (c Check) format(v float64) string {
	switch c.Unit {
	case "s":
		return fmt.Sprintf("%.0f ms", v*1000)
	case "ratio":
		return fmt.Sprintf("%.2f%%", v*100)
	case "z":
		return fmt.Sprintf("z %.2f", v)
	}
	return num(v)
}
