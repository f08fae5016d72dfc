package plan

import (
	"regexp"
	"slices"
)

// Input is one value a page's commands need during an incident: the
// namespace, the cluster, the pod. Code blocks write it as {{ .name }};
// the page fills it from a form, the URL query (an alert's runbook_url
// carries its labels) or the reader's last value.
type Input struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Default     string `yaml:"default"`
	Example     string `yaml:"example"`
	// Pattern is a regular expression a whole value must match; the
	// form flags a value that does not.
	Pattern string `yaml:"pattern"`
	// Label is the alerting rule's label that fills the input on an alert
	// runbook (default: the input's name); rollbook shows the runbook_url
	// that carries it.
	Label string `yaml:"label"`
}

// InputName is what a placeholder may name: a Go template field, so the
// text reads as what it is.
var InputName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// LabelName returns the alert label that fills the input.
func (in Input) LabelName() string {
	if in.Label != "" {
		return in.Label
	}
	return in.Name
}

// Input returns the declared input called name, if any.
func (p *Plan) Input(name string) (Input, bool) {
	i := slices.IndexFunc(p.Inputs, func(in Input) bool { return in.Name == name })
	if i < 0 {
		return Input{}, false
	}
	return p.Inputs[i], true
}
