package export

import (
	"fmt"
	"strings"

	"github.com/rollbook/rollbook/internal/metricquery"
	"github.com/rollbook/rollbook/internal/plan"
)

type flaggerCanary struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   meta              `yaml:"metadata"`
	Spec       flaggerCanarySpec `yaml:"spec"`
}

type flaggerCanarySpec struct {
	TargetRef struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Name       string `yaml:"name"`
	} `yaml:"targetRef"`
	Service struct {
		Port int `yaml:"port"`
	} `yaml:"service"`
	Analysis flaggerAnalysis `yaml:"analysis"`
}

type flaggerAnalysis struct {
	Interval    string          `yaml:"interval"`
	Threshold   int             `yaml:"threshold"`
	StepWeights []int           `yaml:"stepWeights,omitempty"`
	Metrics     []flaggerMetric `yaml:"metrics"`
}

type flaggerMetric struct {
	Name           string  `yaml:"name"`
	TemplateRef    tmplRef `yaml:"templateRef"`
	ThresholdRange struct {
		Max *float64 `yaml:"max,omitempty"`
		Min *float64 `yaml:"min,omitempty"`
	} `yaml:"thresholdRange"`
	Interval string `yaml:"interval"`
}

type tmplRef struct {
	Name string `yaml:"name"`
}

type flaggerTemplate struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   meta   `yaml:"metadata"`
	Spec       struct {
		Provider struct {
			Type    string `yaml:"type"`
			Address string `yaml:"address"`
		} `yaml:"provider"`
		Query string `yaml:"query"`
	} `yaml:"spec"`
}

// ServicePort is the port written into Flagger's spec.service.
var ServicePort = 80

// flagger is the flagger target's export (see Flagger).
func flagger(tg Target, in Input) (*Result, error) {
	p := in.Plan
	if p.Service == "" {
		return nil, fmt.Errorf("%s: export needs service: to name the Canary", p.Path)
	}
	blocked, err := guard(in)
	if err != nil {
		return nil, err
	}
	if blocked != "" {
		return nil, fmt.Errorf("%s: not exported to Flagger: %s, and Flagger rolls back automatically when its threshold is reached (it cannot hold a failed canary for a human); export to Argo Rollouts instead, whose Inconclusive analysis pauses for a person", p.Path, blocked)
	}
	res := &Result{Warnings: unsupported(p, tg)}
	c := flaggerCanary{APIVersion: FlaggerAPI, Kind: "Canary", Metadata: meta{Name: p.Service, Labels: map[string]string{"rollbook.io/plan": plan.Slug(p.Path)}}}
	c.Spec.TargetRef.APIVersion, c.Spec.TargetRef.Kind, c.Spec.TargetRef.Name = "apps/v1", "Deployment", p.Service
	// The plan does not know the service's port; 80 is the common default.
	c.Spec.Service.Port = ServicePort
	c.Spec.Analysis.Interval = metricquery.Duration(p.Analysis.Interval.D())
	failures := 1
	for _, t := range p.Triggers {
		if t.Consecutives() > failures {
			failures = t.Consecutives()
		}
	}
	c.Spec.Analysis.Threshold = failures
	if failures > 1 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("Flagger counts failed checks for the whole canary (threshold %d), not consecutive windows per trigger", failures))
	}
	for _, s := range p.Strategy.Steps {
		if s.Weight < 100 {
			c.Spec.Analysis.StepWeights = append(c.Spec.Analysis.StepWeights, s.Weight)
		}
	}
	var bakes []string
	for _, s := range p.Strategy.Steps {
		if s.Bake > 0 {
			bakes = append(bakes, s.Bake.String())
		}
	}
	if len(bakes) > 0 {
		res.Warnings = append(res.Warnings, "Flagger advances one step per analysis interval; the plan's bake times ("+strings.Join(bakes, ", ")+") are not expressible")
	}
	docs := []any{}
	checks, skipped, err := metricquery.Render(p, in.PromQL)
	if err != nil {
		return nil, err
	}
	for _, m := range skipped {
		res.Warnings = append(res.Warnings, fmt.Sprintf("trigger %s has no PromQL mapping: write query: in the trigger or promql: {%s: ...} in rollbook.yaml; not exported", m, m))
	}
	if len(checks) > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("Flagger counts a query without a value as a failed check towards threshold %d; it cannot hold the canary on no data (no_data: hold)", failures))
	}
	for _, ch := range checks {
		name := p.Service + "-" + strings.ReplaceAll(ch.Trigger, "_", "-")
		mt := flaggerTemplate{APIVersion: FlaggerAPI, Kind: "MetricTemplate", Metadata: meta{Name: name}}
		mt.Spec.Provider.Type, mt.Spec.Provider.Address = "prometheus", PrometheusAddress
		mt.Spec.Query = FlaggerQuery(ch, p.Service)
		if ch.Stable {
			docs = append(docs, commented{comment: append(stableNotes(ch),
				"Flagger has no pause without a rollback: this check failing counts towards the Canary's",
				fmt.Sprintf("threshold (%d) like any other and ROLLS THE CANARY BACK, which does not repair the stable", failures),
				"release; the drill halts and pages instead. Drop this metric from the Canary to keep",
				"Flagger from acting on it, and alert on the query instead. The baseline range is written",
				"out (Flagger has no template arguments for it); the window is the metric's {{ interval }}."), doc: mt})
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s (the stable release against its own level) halts the drill and pages, without a rollback; Flagger has no pause without rollback: its failed checks roll the canary back, which does not repair the stable release", ch.Trigger))
			res.Warnings = append(res.Warnings, fmt.Sprintf("Flagger cannot pin the instant the rollout began in a query: %s's pre-rollout level is a trailing range (%s, the bakes and one window)", ch.Trigger, metricquery.Duration(ch.Baseline)))
		} else {
			docs = append(docs, mt)
		}
		limit := ch.Threshold
		// The metric's interval is the query's window ({{ interval }}).
		m := flaggerMetric{Name: ch.Trigger, TemplateRef: tmplRef{Name: name}, Interval: metricquery.Duration(ch.Window)}
		if ch.Above {
			m.ThresholdRange.Max = &limit
		} else {
			m.ThresholdRange.Min = &limit
		}
		c.Spec.Analysis.Metrics = append(c.Spec.Analysis.Metrics, m)
	}
	header := []string{"Exported by rollbook from " + p.Path + " for Flagger (" + FlaggerAPI + ").",
		fmt.Sprintf("Set spec.service.port to your Service's port (written as %d).", ServicePort)}
	for _, w := range res.Warnings {
		header = append(header, "Not expressible: "+w)
	}
	res.YAML, err = marshal(append([]any{c}, docs...), comment(header))
	return res, err
}

// FlaggerQuery is a check's query as a Flagger MetricTemplate writes it:
// the releases are selected through {{ target }} (the canary and the
// primary) and the window is the metric's {{ interval }}; a Stable
// check's baseline range is written out (Flagger has no argument for
// it); the arithmetic, the request floor and the statistic are the
// check's own.
func FlaggerQuery(c metricquery.Check, service string) string {
	return strings.NewReplacer(
		metricquery.Selector(service, metricquery.ArgCanary), `service="{{ target }}-canary"`,
		metricquery.Selector(service, metricquery.ArgStable), `service="{{ target }}-primary"`,
		"{{args."+metricquery.ArgWindow+"}}", "{{ interval }}",
		"{{args."+metricquery.ArgBaseline+"}}", metricquery.Duration(c.Baseline),
	).Replace(c.Query)
}
