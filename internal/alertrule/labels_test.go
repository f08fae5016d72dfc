package alertrule

import (
	"strings"
	"testing"
)

func TestIncidentLabels(t *testing.T) {
	tests := []struct {
		expr, annotation, want string
	}{
		{`sum by (namespace, pod) (rate(x[5m])) > 0`, "", "namespace,pod"},
		{`(sum by (job) (rate(errors[5m])) / sum by (job) (rate(total[5m]))) > 0.02`, "", "job"},
		{`0.02 < sum by (service) (rate(errors[5m]))`, "", "service"},
		{`label_replace(max by (instance) (up), "x", "$1", "instance", "(.*)") == 0`, "", "instance"},
		{`sum without (pod) (rate(x[5m])) > 0`, "", ""},
		{`max_over_time(waiting{reason="CrashLoopBackOff"}[5m]) >= 1`, "Pod {{ $labels.namespace }}/{{ $labels.pod }}", "namespace,pod"},
		{`sum by (namespace, severity) (x) > 1`, "{{ $labels.node }}", "namespace,node"}, // severity is the rule's own label
		{`not promql (`, "{{ $labels.pod }}", "pod"},
	}
	for _, tt := range tests {
		a := &Alert{Expr: tt.expr, Labels: []Pair{{Name: "severity", Value: "warning"}}, Annotations: []Pair{{Name: "description", Value: tt.annotation}}}
		if got := strings.Join(a.IncidentLabels(), ","); got != tt.want {
			t.Errorf("IncidentLabels(%s, %q) = %s, want %s", tt.expr, tt.annotation, got, tt.want)
		}
	}
}
