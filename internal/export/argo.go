package export

import (
	"fmt"
	"strings"
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
	SuccessCondition      string       `yaml:"successCondition"`
	FailureCondition      string       `yaml:"failureCondition,omitempty"`
	FailureLimit          int          `yaml:"failureLimit"`
	ConsecutiveErrorLimit int          `yaml:"consecutiveErrorLimit"`
	InconclusiveLimit     int          `yaml:"inconclusiveLimit,omitempty"`
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
	ro := argoRollout{APIVersion: ArgoAPI, Kind: "Rollout", Metadata: meta{Name: p.Service, Labels: map[string]string{"rollbook.io/plan": slug(p.Path)}}}
	for _, s := range p.Strategy.Steps {
		w := s.Weight
		ro.Spec.Strategy.Canary.Steps = append(ro.Spec.Strategy.Canary.Steps, argoStep{SetWeight: &w})
		if s.Bake > 0 {
			ro.Spec.Strategy.Canary.Steps = append(ro.Spec.Strategy.Canary.Steps, argoStep{Pause: &argoPause{Duration: promDuration(s.Bake.D())}})
		}
	}
	docs := []any{}
	var templates []argoTemplateRef
	interval := promDuration(p.Analysis.Interval.D())
	for _, t := range p.Triggers {
		if t.IsHealth() {
			continue
		}
		canaryQ, ok := query(in, t, "{{args.canary-hash}}")
		if !ok {
			res.Warnings = append(res.Warnings, fmt.Sprintf("trigger %s has no PromQL mapping: add promql: {%s: ...} to rollbook.yaml; not exported", t.Metric, t.Metric))
			continue
		}
		q := canaryQ
		if t.Compare == "baseline" {
			stableQ, _ := query(in, t, "{{args.stable-hash}}")
			q = "(" + canaryQ + ") - (" + stableQ + ")"
		}
		limit := threshold(t)
		name := p.Service + "-" + strings.ReplaceAll(t.Metric, "_", "-")
		// Each analysis runs every interval; the window is in the query,
		// and consecutive bad windows become the failure limit.
		m := argoMetric{Name: t.Metric, Interval: interval, SuccessCondition: fmt.Sprintf("result[0] <= %g", limit),
			FailureLimit: t.Consecutives() - 1, ConsecutiveErrorLimit: 4}
		if blocked == "" {
			m.FailureCondition = fmt.Sprintf("result[0] > %g", limit)
		} else {
			// Without a failure condition a breach is Inconclusive: the
			// rollout pauses for a human instead of aborting (reverting).
			m.InconclusiveLimit = 1
		}
		m.Provider.Prometheus.Address = PrometheusAddress
		m.Provider.Prometheus.Query = q
		docs = append(docs, argoTemplate{APIVersion: ArgoAPI, Kind: "AnalysisTemplate", Metadata: meta{Name: name},
			Spec: argoTemplateSpec{Args: []argoArg{{Name: "canary-hash"}, {Name: "stable-hash"}}, Metrics: []argoMetric{m}}})
		templates = append(templates, argoTemplateRef{TemplateName: name})
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
			"Mapped to: analyses without a failureCondition, so a breached trigger is Inconclusive and the",
			"rollout pauses for a human (kubectl argo rollouts abort|promote) instead of aborting.")
		res.Warnings = append(res.Warnings, "automatic rollback withheld: "+blocked+"; a breach pauses the rollout for a human")
	}
	for _, w := range res.Warnings {
		header = append(header, "Not expressible: "+w)
	}
	res.YAML, err = marshal(docs, comment(header))
	return res, err
}

func slug(path string) string {
	return strings.Trim(strings.NewReplacer("/", "-", ".md", "").Replace(path), "-")
}
