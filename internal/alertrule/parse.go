package alertrule

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	goyaml "github.com/goccy/go-yaml"
	goccy "github.com/goccy/go-yaml/parser"

	"github.com/rollbook/rollbook/internal/diag"
)

// ProblemKind says what is wrong with a rule file; the checks give each
// kind its rule name and severity.
type ProblemKind int

const (
	// BadFile: not YAML, or holds no rule groups.
	BadFile ProblemKind = iota
	// GroupName: a group without a name, or a name repeated in one file.
	GroupName
	// NoExpr: an alerting or recording rule without expr.
	NoExpr
	// BadExpr: an expr that is not PromQL.
	BadExpr
	// BadRule: any other rule Prometheus refuses (unknown field, bad
	// label name, a template that does not parse, …).
	BadRule
)

// Problem is one thing Prometheus would refuse in a rule file.
type Problem struct {
	Kind    ProblemKind
	Pos     Pos
	Message string
	Fix     string
}

// promql is the parser Prometheus itself evaluates rules with (default options).
var promql = parser.NewParser(parser.Options{})

// ParseExpr parses a PromQL expression as Prometheus does.
func ParseExpr(expr string) error {
	_, err := promql.ParseExpr(expr)
	return err
}

// maxDocs bounds the documents read from one file: past the last one the
// YAML decoder may keep returning empty documents.
const maxDocs = 10000

// MaxFileSize is the largest rule file read.
const MaxFileSize = 10 << 20

// Parse reads one rule file: a Prometheus rule file (groups:) or one or
// more PrometheusRule manifests (spec.groups), in any number of YAML
// documents; other documents (a Deployment beside the rules) are skipped.
// Alerts are returned even from a file with problems, so a bad rule does
// not hide the others.
func Parse(name string, src []byte) *File {
	f := &File{Path: name}
	f.Problems = parseInto(f, src)
	sort.SliceStable(f.Problems, func(i, j int) bool {
		a, b := f.Problems[i].Pos, f.Problems[j].Pos
		return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
	})
	return f
}

func parseInto(f *File, src []byte) []Problem {
	name := f.Path
	var ps []Problem
	if len(src) > MaxFileSize {
		return []Problem{{Kind: BadFile, Pos: Pos{1, 1}, Message: fmt.Sprintf("rule file is %d bytes, over the %d MiB limit", len(src), MaxFileSize>>20), Fix: "split the rule file"}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	sawGroups := false
	for doc := 0; ; doc++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) || doc > maxDocs {
			break
		}
		if err != nil {
			at, msg := yamlError(err, src)
			ps = append(ps, Problem{Kind: BadFile, Pos: at, Message: "rule file is not valid YAML: " + msg, Fix: "fix the YAML syntax (indent with spaces, quote values that hold ': ' or '#')"})
			break // the decoder cannot resume after a syntax error
		}
		groups := groupsNode(&n)
		if groups == nil {
			continue
		}
		sawGroups = true
		gs, gps := parseGroups(name, doc, groups, src)
		f.Groups = append(f.Groups, gs...)
		ps = append(ps, gps...)
	}
	if !sawGroups && len(ps) == 0 {
		ps = append(ps, Problem{Kind: BadFile, Pos: Pos{1, 1}, Message: "file holds no rule groups: neither a Prometheus rule file (groups:) nor a PrometheusRule manifest (spec.groups)",
			Fix: "start the file with groups: - name: … rules: …, or remove it from alert_rules"})
	}
	return ps
}

var yamlLineRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?`)

// yamlError takes the position out of a YAML syntax error. Prometheus's
// YAML library names the line only for some errors, and often the line
// where the enclosing list began; the front-matter parser (goccy) names
// the token at fault, so its line and column are taken when they are not
// before the library's.
func yamlError(err error, src []byte) (Pos, string) {
	msg := err.Error()
	at := Pos{1, 1}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		if l, _ := strconv.Atoi(m[1]); l > 0 {
			at = Pos{l, 1}
		}
		msg = msg[len(m[0]):]
	}
	if _, gerr := goccy.ParseBytes(src, 0); gerr != nil {
		var ye goyaml.Error
		if errors.As(gerr, &ye) && ye.GetToken() != nil {
			if tp := ye.GetToken().Position; tp.Line >= at.Line {
				at = Pos{tp.Line, max(tp.Column, 1)}
			}
		}
	}
	// At the end of the file the library names the line after the last.
	if last := lineCount(src); at.Line > last {
		at = Pos{last, 1}
	}
	return at, msg
}

// groupsNode finds the groups list of a document: top-level groups in a
// rule file, spec.groups in a PrometheusRule.
func groupsNode(doc *yaml.Node) *yaml.Node {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil
	}
	if _, g := mapGet(root, "groups"); g != nil {
		return g
	}
	if _, k := mapGet(root, "kind"); k == nil || k.Value != "PrometheusRule" {
		return nil
	}
	if _, spec := mapGet(root, "spec"); spec != nil && spec.Kind == yaml.MappingNode {
		if _, g := mapGet(spec, "groups"); g != nil {
			return g
		}
		return spec
	}
	return root
}

// mapGet returns a mapping's key and value nodes for key, or nils.
func mapGet(m *yaml.Node, key string) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

func pos(n *yaml.Node) Pos {
	if n == nil || n.Line == 0 {
		return Pos{1, 1}
	}
	return Pos{n.Line, n.Column}
}

var (
	groupKeys = []string{"name", "interval", "query_offset", "limit", "rules", "labels"}
	ruleKeys  = []string{"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
)

func parseGroups(name string, doc int, groups *yaml.Node, src []byte) ([]*Group, []Problem) {
	var ps []Problem
	if groups.Kind == yaml.ScalarNode && groups.Tag == "!!null" {
		return nil, nil // groups: with nothing under it: an empty rule file
	}
	if groups.Kind != yaml.SequenceNode {
		return nil, []Problem{{Kind: BadFile, Pos: pos(groups), Message: "groups must be a list of rule groups", Fix: "write groups: - name: my-group rules: [...]"}}
	}
	var out []*Group
	seen := map[string]Pos{}
	for _, gn := range groups.Content {
		if gn.Kind != yaml.MappingNode {
			ps = append(ps, Problem{Kind: BadFile, Pos: pos(gn), Message: "a rule group must be a mapping with name: and rules:", Fix: "write - name: my-group followed by rules:"})
			continue
		}
		ps = append(ps, unknownKeys(gn, groupKeys, "rule group")...)
		var g groupFields
		if err := decodeLenient(gn, &g); err != nil {
			ps = append(ps, decodeProblem(err, gn, func() any { return &groupFields{} }))
		}
		nameKey, nameNode := mapGet(gn, "name")
		grp := &Group{Name: g.Name, Pos: pos(gn), Doc: doc}
		if nameNode != nil {
			grp.Pos = pos(nameNode)
		}
		switch {
		case strings.TrimSpace(g.Name) == "":
			at := pos(gn)
			if nameKey != nil {
				at = pos(nameKey)
			}
			ps = append(ps, Problem{Kind: GroupName, Pos: at, Message: "rule group has no name (Prometheus: Groupname must not be empty)", Fix: "add name: a-group-name as the group's first key"})
		default:
			if first, dup := seen[g.Name]; dup {
				ps = append(ps, Problem{Kind: GroupName, Pos: grp.Pos, Message: fmt.Sprintf("group name %q is repeated in the same file (first on line %d)", g.Name, first.Line), Fix: "give each group of a file its own name"})
			} else {
				seen[g.Name] = grp.Pos
			}
		}
		_, rulesNode := mapGet(gn, "rules")
		if rulesNode != nil && rulesNode.Kind == yaml.SequenceNode {
			for i, rn := range rulesNode.Content {
				a, rps := parseRule(name, grp.Name, i, rn, src)
				ps = append(ps, rps...)
				if a != nil {
					grp.Alerts = append(grp.Alerts, a)
				}
			}
		}
		out = append(out, grp)
	}
	return out, ps
}

// decodeLenient decodes n, turning a panic inside a decoder (Prometheus's
// duration parser on odd input, say) into an error.
func decodeLenient(n *yaml.Node, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return n.Decode(v)
}

// groupFields are a rule group's own fields (its rules are read one by
// one, so a bad rule is reported once, at the rule).
type groupFields struct {
	Name        string            `yaml:"name"`
	Interval    model.Duration    `yaml:"interval,omitempty"`
	QueryOffset *model.Duration   `yaml:"query_offset,omitempty"`
	Limit       int               `yaml:"limit,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
}

var typeErrLineRE = regexp.MustCompile(`line (\d+): (.*)`)

// decodeProblem turns a decoding error of mapping m into a problem at the
// value that caused it: each field is decoded alone into a fresh value
// until one fails.
func decodeProblem(err error, m *yaml.Node, fresh func() any) Problem {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	at := pos(m)
	if sub := typeErrLineRE.FindStringSubmatch(msg); sub != nil {
		msg = sub[2]
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		one := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: m.Content[i : i+2]}
		if decodeLenient(one, fresh()) != nil {
			at = pos(m.Content[i+1])
			break
		}
	}
	return Problem{Kind: BadRule, Pos: at, Message: msg, Fix: "write durations as 5m or 1h, whole numbers without quotes, and labels as name: value"}
}

func unknownKeys(m *yaml.Node, known []string, what string) []Problem {
	var ps []Problem
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if isIn(known, k.Value) {
			continue
		}
		fix := "remove it; a " + what + " has " + strings.Join(known, ", ")
		if s := diag.Closest(k.Value, known, 3); s != "" {
			fix = fmt.Sprintf("did you mean %q?", s)
		}
		ps = append(ps, Problem{Kind: BadRule, Pos: pos(k), Message: fmt.Sprintf("field %q is not known in a %s: Prometheus refuses the file", k.Value, what), Fix: fix})
	}
	return ps
}

func isIn(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var wrappedPosRE = regexp.MustCompile(`^(\d+):(\d+): (?:\d+:\d+: )?`)

func parseRule(file, group string, i int, rn *yaml.Node, src []byte) (*Alert, []Problem) {
	if rn.Kind != yaml.MappingNode {
		return nil, []Problem{{Kind: BadRule, Pos: pos(rn), Message: fmt.Sprintf("rule %d of group %q is not a mapping", i+1, group), Fix: "write - alert: Name followed by expr:, for:, labels: and annotations:"}}
	}
	ps := unknownKeys(rn, ruleKeys, "rule")
	var r rulefmt.Rule
	var node rulefmt.RuleNode
	if err := decodeLenient(rn, &r); err != nil {
		return nil, append(ps, decodeProblem(err, rn, func() any { return &rulefmt.Rule{} }))
	}
	if err := decodeLenient(rn, &node); err != nil {
		return nil, append(ps, decodeProblem(err, rn, func() any { return &rulefmt.RuleNode{} }))
	}
	for _, we := range r.Validate(node, model.UTF8Validation, promql) {
		p := Problem{Kind: BadRule, Pos: pos(rn), Message: we.Error()}
		if m := wrappedPosRE.FindStringSubmatch(p.Message); m != nil {
			l, _ := strconv.Atoi(m[1])
			c, _ := strconv.Atoi(m[2])
			if l > 0 {
				p.Pos = Pos{l, max(c, 1)}
			}
			p.Message = p.Message[len(m[0]):]
		}
		var perrs parser.ParseErrors
		switch {
		case errors.As(&we, &perrs) && len(perrs) > 0:
			p.Kind = BadExpr
			p.Pos = exprPos(&node.Expr, perrs[0], src)
			p.Message = "expr is not PromQL: " + perrs[0].Err.Error()
			p.Fix = "fix the expression; promtool check rules and the Prometheus UI's query box show the same error"
		case strings.Contains(p.Message, "'expr' must be set"):
			p.Kind = NoExpr
			p.Pos = pos(rn)
			p.Message = fmt.Sprintf("rule %d of group %q has no expr (Prometheus: %s)", i+1, group, p.Message)
			p.Fix = "add expr: with the PromQL that fires the alert"
		case strings.Contains(p.Message, "'record' or 'alert' must be set"):
			p.Pos = pos(rn)
			p.Fix = "name the rule with alert: (or record: for a recording rule)"
		default:
			p.Fix = "fix the rule as Prometheus's message says (promtool check rules shows the same)"
		}
		ps = append(ps, p)
	}
	if r.Alert == "" {
		return nil, ps
	}
	a := &Alert{Name: r.Alert, Pos: pos(&node.Alert), File: file, Group: group, Expr: strings.TrimSpace(r.Expr), ExprPos: pos(&node.Expr),
		For: time.Duration(r.For), KeepFiringFor: time.Duration(r.KeepFiringFor)}
	a.Labels = pairs(rn, "labels")
	a.Annotations = pairs(rn, "annotations")
	return a, ps
}

// pairs reads a rule's labels or annotations with each value's position.
func pairs(rn *yaml.Node, key string) []Pair {
	_, m := mapGet(rn, key)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	var out []Pair
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			continue
		}
		out = append(out, Pair{Name: k.Value, Value: v.Value, Pos: pos(v)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// exprPos maps a PromQL error's offset in the expression to the rule file:
// on the same line for a one-line expr, on the following lines for a
// block (expr: |).
func exprPos(n *yaml.Node, e parser.ParseErr, src []byte) Pos {
	at := pos(n)
	off := int(e.PositionRange.Start)
	val := n.Value
	if off < 0 || off > len(val) {
		return at
	}
	before := val[:off]
	switch n.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		line := at.Line + 1 + strings.Count(before, "\n")
		col := off - strings.LastIndexByte(before, '\n')
		return Pos{line, col + indentOf(src, at.Line+1)}
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		if !strings.Contains(before, "\n") {
			return Pos{at.Line, at.Col + 1 + off}
		}
	case 0:
		if !strings.Contains(before, "\n") {
			return Pos{at.Line, at.Col + off}
		}
	}
	return at
}

// lineCount counts lines as YAML does: \n, \r\n and a lone \r end one.
func lineCount(src []byte) int {
	n := 1
	for i, c := range src {
		if c == '\n' || c == '\r' && (i+1 == len(src) || src[i+1] != '\n') {
			n++
		}
	}
	return n
}

// indentOf counts the spaces that start 1-based line l of src.
func indentOf(src []byte, l int) int {
	for i := 1; i < l && len(src) > 0; i++ {
		j := bytes.IndexByte(src, '\n')
		if j < 0 {
			return 0
		}
		src = src[j+1:]
	}
	n := 0
	for n < len(src) && src[n] == ' ' {
		n++
	}
	return n
}
