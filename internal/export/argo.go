package export

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/rollbook/rollbook/internal/metricquery"
	"github.com/rollbook/rollbook/internal/plan"
)

type meta struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels,omitempty"`
}

type argoRollout struct {
	APIVersion string          `yaml:"apiVersion"`
	Kind       string          `yaml:"kind"`
	Metadata   meta            `yaml:"metadata"`
	Spec       argoRolloutSpec `yaml:"spec"`
}

type argoRolloutSpec struct {
	Strategy struct {
		Canary argoCanary `yaml:"canary"`
	} `yaml:"strategy"`
}

type argoCanary struct {
	Analysis *argoAnalysis `yaml:"analysis,omitempty"`
	Steps    []argoStep    `yaml:"steps"`
}

type argoAnalysis struct {
	Templates []argoTemplateRef `yaml:"templates"`
	Args      []argoArg         `yaml:"args"`
}

type argoTemplateRef struct {
	TemplateName string `yaml:"templateName"`
}

type argoArg struct {
	Name      string        `yaml:"name"`
	Value     string        `yaml:"value,omitempty"`
	ValueFrom *argoArgValue `yaml:"valueFrom,omitempty"`
}

type argoArgValue struct {
	PodTemplateHashValue string `yaml:"podTemplateHashValue"`
}

type argoStep struct {
	SetWeight *int       `yaml:"setWeight,omitempty"`
	Pause     *argoPause `yaml:"pause,omitempty"`
}

type argoPause struct {
	Duration string `yaml:"duration,omitempty"`
}

type argoTemplate struct {
	APIVersion string           `yaml:"apiVersion"`
	Kind       string           `yaml:"kind"`
	Metadata   meta             `yaml:"metadata"`
	Spec       argoTemplateSpec `yaml:"spec"`
}

type argoTemplateSpec struct {
	Args    []argoArg    `yaml:"args"`
	Metrics []argoMetric `yaml:"metrics"`
}

type argoMetric struct {
	Name                  string       `yaml:"name"`
	Interval              string       `yaml:"interval"`
	Count                 int          `yaml:"count,omitempty"`
	SuccessCondition      string       `yaml:"successCondition"`
	FailureCondition      string       `yaml:"failureCondition,omitempty"`
	FailureLimit          int          `yaml:"failureLimit"`
	ConsecutiveErrorLimit int          `yaml:"consecutiveErrorLimit"`
	InconclusiveLimit     int          `yaml:"inconclusiveLimit"`
	Provider              argoProvider `yaml:"provider"`
}

type argoProvider struct {
	Prometheus struct {
		Address string `yaml:"address"`
		Query   string `yaml:"query"`
	} `yaml:"prometheus"`
}

// PrometheusAddress is where exported analyses query; override per site.
var PrometheusAddress = "http://prometheus.monitoring:9090"

// argo is the argo target's export (see Argo).
func argo(tg Target, in Input) (*Result, error) {
	p := in.Plan
	if p.Service == "" {
		return nil, fmt.Errorf("%s: export needs service: to name the Rollout", p.Path)
	}
	blocked, err := guard(in)
	if err != nil {
		return nil, err
	}
	res := &Result{Warnings: unsupported(p, tg)}
	for _, t := range p.Triggers {
		if t.Consecutives() > 1 && !t.IsHealth() {
			res.Warnings = append(res.Warnings, "Argo Rollouts' failureLimit counts failed measurements over the whole analysis, not consecutive ones (consecutive: N is exported as failureLimit N-1)")
			break
		}
	}
	ro := argoRollout{APIVersion: ArgoAPI, Kind: "Rollout", Metadata: meta{Name: p.Service, Labels: map[string]string{"rollbook.io/plan": plan.Slug(p.Path)}}}
	for _, s := range p.Strategy.Steps {
		w := s.Weight
		ro.Spec.Strategy.Canary.Steps = append(ro.Spec.Strategy.Canary.Steps, argoStep{SetWeight: &w})
		if s.Bake > 0 {
			ro.Spec.Strategy.Canary.Steps = append(ro.Spec.Strategy.Canary.Steps, argoStep{Pause: &argoPause{Duration: metricquery.Duration(s.Bake.D())}})
		}
	}
	docs := []any{}
	var templates []argoTemplateRef
	interval := metricquery.Duration(p.Analysis.Interval.D())
	checks, skipped, err := metricquery.Render(p, in.PromQL)
	if err != nil {
		return nil, err
	}
	for _, m := range skipped {
		res.Warnings = append(res.Warnings, fmt.Sprintf("trigger %s has no PromQL mapping: write query: in the trigger or promql: {%s: ...} in rollbook.yaml; not exported", m, m))
	}
	noData := p.Analysis.NoData
	for _, c := range checks {
		name := p.Service + "-" + strings.ReplaceAll(c.Trigger, "_", "-")
		metrics := argoMetrics(c, interval, count(p), noData, blocked != "")
		// Argo runs every template of the canary's analysis as one run,
		// whose arguments are one flat list: two templates that each
		// declared a window of their own (2m, 3m) are refused ("Argument
		// window specified multiple times with different values"). So a
		// check's own ranges are written into its query, and only the
		// release hashes, the same for every template, stay arguments.
		for i := range metrics {
			metrics[i].Provider.Prometheus.Address = PrometheusAddress
			metrics[i].Provider.Prometheus.Query = metricquery.Check{Query: metrics[i].Provider.Prometheus.Query, Window: c.Window, Baseline: c.Baseline}.Ranged()
		}
		args := []argoArg{{Name: metricquery.ArgCanary}, {Name: metricquery.ArgStable}}
		var doc any = argoTemplate{APIVersion: ArgoAPI, Kind: "AnalysisTemplate", Metadata: meta{Name: name},
			Spec: argoTemplateSpec{Args: args, Metrics: metrics}}
		if c.Stable {
			doc = commented{comment: append(stableNotes(c),
				"Argo Rollouts aborts a rollout (traffic back to the stable release) on a Failed metric; only an",
				"Inconclusive analysis pauses it without a rollback. So this metric never fails: its",
				`failureCondition is "false", a measurement that is not a success is Inconclusive, and the`,
				fmt.Sprintf("inconclusive measurements beyond inconclusiveLimit (%d, from the trigger's consecutive: %d;", metrics[0].InconclusiveLimit, c.Consecutive),
				"Argo counts them over the whole analysis, not in a row) pause the rollout for a human",
				"(kubectl argo rollouts promote | abort): the drill's halt. Argo cannot tell a stable release",
				"without traffic (a step at 100 %) from a regressed one: both are Inconclusive and pause it,",
				"where the drill does not hold on a stable release without traffic. And a query that errors",
				fmt.Sprintf("%d times in a row (consecutiveErrorLimit) is Argo's Error phase, which aborts like a", metrics[0].ConsecutiveErrorLimit+1),
				"failure; the drill counts a query error as inconclusive."), doc: doc}
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s (the stable release against its own level) halts the drill without a rollback, and Argo Rollouts aborts on a failed metric: it is exported never to fail, so a regression is Inconclusive and pauses the rollout for a human; a stable release without traffic (a step at 100 %%) pauses it too, where the drill does not hold", c.Trigger))
			res.Warnings = append(res.Warnings, fmt.Sprintf("Argo Rollouts cannot pin the instant the rollout began in a query: %s's pre-rollout level is a trailing range (baseline: %s, the bakes and one window)", c.Trigger, metricquery.Duration(c.Baseline)))
		}
		docs = append(docs, doc)
		templates = append(templates, argoTemplateRef{TemplateName: name})
	}
	if len(checks) > 0 && noData.Rollback() {
		res.Warnings = append(res.Warnings, fmt.Sprintf("no_data: rollback is exported as a <trigger>-no-data metric that fails after %d windows without data (in measurements: after/interval each); Argo counts them over the whole analysis, not in a row", noData.Windows()))
	}
	if len(templates) > 0 {
		ro.Spec.Strategy.Canary.Analysis = &argoAnalysis{Templates: templates, Args: []argoArg{
			{Name: "canary-hash", ValueFrom: &argoArgValue{PodTemplateHashValue: "Latest"}},
			{Name: "stable-hash", ValueFrom: &argoArgValue{PodTemplateHashValue: "Stable"}}}}
	}
	docs = append([]any{ro}, docs...)
	header := []string{"Exported by rollbook from " + p.Path + " for Argo Rollouts (" + ArgoAPI + ").",
		"Merge the strategy into your Rollout (selector, template) and apply the AnalysisTemplates."}
	if blocked != "" {
		header = append(header, "Automatic rollback is NOT exported: "+blocked+".",
			`Mapped to: analyses whose failureCondition never holds ("false"), so a breached trigger is`,
			"Inconclusive and the rollout pauses for a human (kubectl argo rollouts abort|promote) instead of",
			"aborting (without a failureCondition Argo counts a measurement that misses its successCondition",
			"as Failed, and aborts).")
		res.Warnings = append(res.Warnings, "automatic rollback withheld: "+blocked+"; a breach pauses the rollout for a human")
	}
	for _, w := range res.Warnings {
		header = append(header, "Not expressible: "+w)
	}
	res.YAML, err = marshal(docs, comment(header))
	return res, err
}

// argoMetrics are the AnalysisTemplate metrics of one check: the analysis
// itself and, when no data must roll back, a metric that fails on no data.
// The query and the success condition are the check's own, evaluated by
// the drill, and so is the failure condition where a breach may abort.
//
// Argo turns the run Failed when failures exceed failureLimit and
// Inconclusive (the rollout pauses for a human) when inconclusive
// measurements exceed inconclusiveLimit; a query with no series or NaN
// meets neither condition, so it is inconclusive, never a pass. Where
// the drill answers a breach without a rollback (blocked: the rollback
// must not be automatic; or a Stable check, which halts), the failure
// condition is metricquery.Never: a breach is inconclusive too and pauses
// the rollout at the trigger's consecutive count. (Leaving it out would
// not do: Argo then counts a missed success condition as Failed.)
func argoMetrics(c metricquery.Check, interval string, count int, noData plan.NoData, blocked bool) []argoMetric {
	m := argoMetric{Name: c.Trigger, Interval: interval, Count: count, SuccessCondition: c.Success,
		FailureLimit: c.Consecutive - 1, ConsecutiveErrorLimit: 4, InconclusiveLimit: c.NoDataAfter - 1}
	m.Provider.Prometheus.Query = c.Query
	if c.Stable {
		// A regression pauses as the drill halts, at its consecutive
		// count; a stable release without a value counts there too
		// (Argo cannot tell them apart), and no_data never rolls back.
		m.FailureCondition = metricquery.Never
		m.InconclusiveLimit = c.Consecutive - 1
		return []argoMetric{m}
	}
	if blocked {
		m.FailureCondition = metricquery.Never
		m.InconclusiveLimit = min(c.Consecutive, c.NoDataAfter) - 1
		return []argoMetric{m}
	}
	m.FailureCondition = c.Failure
	if !noData.Rollback() {
		return []argoMetric{m}
	}
	// The no-data metric fails at the Nth window without data, before the
	// analysis itself would turn inconclusive (at N+1).
	m.InconclusiveLimit = c.NoDataAfter
	nd := argoMetric{Name: c.Trigger + "-no-data", Interval: interval, Count: count,
		SuccessCondition: metricquery.HasData, FailureCondition: metricquery.NoData,
		FailureLimit: c.NoDataAfter - 1, ConsecutiveErrorLimit: 4}
	nd.Provider.Prometheus.Query = c.Query
	return []argoMetric{m, nd}
}

// count is how many measurements the analysis takes: one per interval
// over the plan's bake time (0, unbounded, without bake times).
func count(p *plan.Plan) int {
	var bake time.Duration
	for _, s := range p.Strategy.Steps {
		bake += s.Bake.D()
	}
	iv := p.Analysis.Interval.D()
	if iv <= 0 {
		iv = time.Minute
	}
	return int(math.Ceil(float64(bake) / float64(iv)))
}
