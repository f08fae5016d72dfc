package scaffold

import (
	"bytes"
	"strconv"
	"text/template"
	"time"

	"github.com/rollbook/rollbook/internal/alertrule"
	"github.com/rollbook/rollbook/internal/plan"
)

// AlertSkeleton returns the Markdown of a new alert runbook for the alert
// name: the four sections of kind alert and, when the rule files hold the
// alert (rule is not nil), its severity and expression filled in.
func AlertSkeleton(name, service string, rule *alertrule.Alert, now time.Time) ([]byte, error) {
	data := map[string]any{
		"Name": strconv.Quote(name), "Service": service, "Today": now.Format("2006-01-02"),
		"Sections": plan.Sections[plan.KindAlert], "Severity": "warning",
	}
	if rule != nil {
		if s := rule.Severity(); s != "" {
			data["Severity"] = strconv.Quote(s)
		}
		data["Rule"] = rule
		// The labels that say where the alert fires become the runbook's
		// inputs: its commands take them, and the rule's runbook_url can
		// carry them so the page opens filled in.
		data["Inputs"] = rule.IncidentLabels()
	}
	var buf bytes.Buffer
	err := alertTmpl.Execute(&buf, data)
	return buf.Bytes(), err
}

var alertTmpl = template.Must(template.New("alert").Parse(`---
title: {{.Name}}
kind: alert
alert: {{.Name}}
severity: {{.Severity}}{{if not .Rule}}               # the alert is in no rule file yet: set its severity label{{end}}
service: {{.Service}}
owners: [TODO-team]
reviewed: {{.Today}}{{with .Inputs}}
# The labels the alert carries, as the values its commands need. Let the
# rule's runbook_url carry them, and the page opens filled in:
#   runbook_url: BASE_URL/alerts/{{$.Rule.Name}}/?{{range $i, $l := .}}{{if $i}}&{{end}}{{$l}}={{"{{"}} $labels.{{$l}} | urlquery }}{{end}}
inputs:{{range .}}
  - {name: {{.}}, description: "TODO: what {{.}} the alert fires for", example: TODO-{{.}}}{{end}}{{end}}
---

{{range .Sections}}## {{.Name}}

{{if and (eq .Name "Meaning") $.Rule}}The alert fires when this expression holds{{with $.Rule.ForText}} for {{.}}{{end}} ({{$.Rule.File}}:{{$.Rule.Pos.Line}}, group {{$.Rule.Group}}):

` + "```promql" + `
{{$.Rule.Expr}}
` + "```" + `
{{with $.Rule.Summary}}
{{.}}
{{end}}
TODO: {{.Hint}}
{{else if and (eq .Name "Diagnosis") $.Inputs}}TODO: {{.Hint}}

` + "```sh" + `
# TODO: the first command to run, with the alert's values
echo{{range $.Inputs}} {{"{{"}} .{{.}} }}{{end}}
` + "```" + `
{{else}}TODO: {{.Hint}}
{{end}}
{{end}}`))
