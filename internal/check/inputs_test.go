package check

import (
	"strconv"
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/diag"
)

// withInputs adds inputs: to the clean base plan and a command to its body.
func withInputs(inputs, body string) string {
	src := strings.Replace(base, "contacts:", inputs+"\ncontacts:", 1)
	return src + body
}

func TestInputs(t *testing.T) {
	const cmd = "\n```bash\nkubectl -n {{ .namespace }} rollout undo deploy/{{ .deployment }}\n```\n"
	// Positions are file lines and columns: the inputs start on line 11.
	tests := []struct {
		name   string
		inputs string
		body   string
		want   []string // rule@line:col, in order
	}{
		{"all declared and used", "inputs:\n  - {name: namespace, example: payments}\n  - {name: deployment, pattern: \"[a-z0-9-]+\", default: api}", cmd, nil},
		{"undeclared placeholder at its column", "inputs:\n  - {name: namespace}", cmd, []string{"input-undeclared@27:49"}},
		{"misspelt placeholder", "inputs:\n  - {name: namespace}\n  - {name: deployment}", "\n```\nkubectl -n {{ .namespce }} {{ .deployment }}\n```\n", []string{"input-unused@12:12", "input-undeclared@28:12"}},
		{"unused input", "inputs:\n  - {name: namespace}\n  - {name: deployment}\n  - {name: cluster}", cmd, []string{"input-unused@14:12"}},
		{"bad pattern", "inputs:\n  - {name: namespace, pattern: \"[a-z\"}\n  - {name: deployment}", cmd, []string{"input@12:32"}},
		{"default outside the pattern", "inputs:\n  - {name: namespace, pattern: \"[a-z]+\", default: Payments}\n  - {name: deployment}", cmd, []string{"input@12:51"}},
		{"name not a placeholder name", "inputs:\n  - {name: pod-name}\n  - {name: namespace}\n  - {name: deployment}", cmd, []string{"input@12:12"}},
		{"declared twice", "inputs:\n  - {name: namespace}\n  - {name: namespace}\n  - {name: deployment}", cmd, []string{"input@13:12"}},
		{"no name", "inputs:\n  - {description: where}\n  - {name: namespace}\n  - {name: deployment}", cmd, []string{"input@12:3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, d := range run(t, withInputs(tt.inputs, tt.body)) {
				if strings.HasPrefix(d.Rule, "input") {
					got = append(got, d.Rule+"@"+itoa(d.Line)+":"+itoa(d.Col))
					if d.Severity != severity(d.Rule) || d.Fix == "" {
						t.Errorf("%v: severity or fix missing", d)
					}
				}
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("findings %v, want %v", got, tt.want)
			}
		})
	}
	if severity("input-unused") != diag.Warning || severity("input-undeclared") != diag.Error {
		t.Error("an unused input warns, an undeclared placeholder is an error")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
