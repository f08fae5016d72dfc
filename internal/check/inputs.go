package check

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/plan"
)

// inputs holds a plan's inputs: (SPEC 2.1) against the {{ .name }}
// placeholders of its code blocks. An undeclared placeholder would reach
// the responder's terminal as written; an unused input asks the reader
// for a value no command takes.
func (c *checker) inputs() {
	declared := map[string]bool{}
	for i, in := range c.p.Inputs {
		at := fmt.Sprintf("inputs[%d]", i)
		switch {
		case in.Name == "":
			c.at(at, "input", "an input has no name", "write name: namespace (letters, digits and _) as placeholders name it: {{ .namespace }}")
			continue
		case !plan.InputName.MatchString(in.Name):
			c.at(at+".name", "input", fmt.Sprintf("input name %q is not a placeholder name", in.Name), "use letters, digits and _ only, starting with a letter: "+suggestInputName(in.Name))
			continue
		case declared[in.Name]:
			c.at(at+".name", "input", fmt.Sprintf("input %q is declared twice", in.Name), "keep one inputs entry named "+in.Name)
			continue
		}
		declared[in.Name] = true
		if in.Pattern == "" {
			continue
		}
		re, err := regexp.Compile(`^(?:` + in.Pattern + `)$`)
		if err != nil {
			msg := fmt.Sprintf("input %s: pattern %q is not a regular expression: %s", in.Name, in.Pattern, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			c.at(at+".pattern", "input", msg, `write an RE2 expression the whole value must match, for example pattern: "[a-z0-9-]+"`)
			continue
		}
		for _, v := range []struct{ key, val string }{{"default", in.Default}, {"example", in.Example}} {
			if v.val != "" && !re.MatchString(v.val) {
				c.at(at+"."+v.key, "input", fmt.Sprintf("input %s: %s %q does not match its pattern %q", in.Name, v.key, v.val, in.Pattern), "change the "+v.key+" or the pattern")
			}
		}
	}
	names := make([]string, 0, len(declared))
	for n := range declared {
		names = append(names, n)
	}
	slices.Sort(names)
	used := map[string]bool{}
	for _, ph := range memoPlaceholders(c.opts.Memo, c.p.Body) {
		used[ph.Name] = true
		if declared[ph.Name] {
			continue
		}
		fix := fmt.Sprintf("declare it in the front matter: inputs: [{name: %s, description: ..., example: ...}]", ph.Name)
		if s := diag.Closest(ph.Name, names, 3); s != "" {
			fix = fmt.Sprintf("did you mean {{ .%s }}? or declare %s under inputs:", s, ph.Name)
		}
		c.add(c.p.BodyLine+ph.Line-1, ph.Col, "input-undeclared", fmt.Sprintf("placeholder {{ .%s }} names no declared input", ph.Name), fix)
	}
	for i, in := range c.p.Inputs {
		if in.Name != "" && declared[in.Name] && !used[in.Name] {
			c.at(fmt.Sprintf("inputs[%d].name", i), "input-unused", fmt.Sprintf("input %s is used by no command", in.Name), fmt.Sprintf("write {{ .%s }} in a code block's command, or remove the input", in.Name))
		}
	}
}

// suggestInputName turns "pod-name" into "pod_name".
func suggestInputName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_', r >= '0' && r <= '9' && b.Len() > 0:
			b.WriteRune(r)
		case b.Len() > 0:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "name"
	}
	return b.String()
}
