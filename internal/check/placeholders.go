package check

import (
	"bytes"
	"fmt"
	"regexp"
)

// todo matches the prompts rollbook new writes ("TODO: …", "TODO-team",
// "@TODO-oncall"), not the word in a sentence about to-do lists.
var (
	todo     = regexp.MustCompile(`\bTODO[:\-]`)
	todoWord = []byte("TODO")
)

// placeholders warns once per plan about the TODO prompts left from
// rollbook new, at the first one, with how many there are: a plan that
// still reads "TODO: who to page" must not look finished on the site.
func (c *checker) placeholders() {
	type at struct {
		path string // front matter path, or "" for a body line
		line int
	}
	var found []at
	fields := []struct {
		path string
		vals []string
	}{
		{"owners", c.p.Owners},
		{"contacts.primary", []string{c.p.Contacts.Primary}},
		{"contacts.secondary", []string{c.p.Contacts.Secondary}},
		{"contacts.escalation", c.p.Contacts.Escalation},
	}
	for _, f := range fields {
		for _, v := range f.vals {
			if todo.MatchString(v) {
				found = append(found, at{path: f.path})
			}
		}
	}
	inFence := false
	i := -1
	for l := range bytes.Lines(c.p.Body) {
		i++
		l = bytes.TrimSuffix(l, []byte("\n"))
		t := bytes.TrimSpace(l)
		if bytes.HasPrefix(t, []byte("```")) || bytes.HasPrefix(t, []byte("~~~")) {
			inFence = !inFence
			continue
		}
		// The regexp costs more than the whole line scan; most lines
		// have no TODO at all.
		if !inFence && bytes.Contains(l, todoWord) && todo.Match(l) {
			found = append(found, at{line: c.p.BodyLine + i})
		}
	}
	if len(found) == 0 {
		return
	}
	first := found[0]
	where := ""
	if first.path != "" {
		where = " (first in " + first.path + ")"
	}
	msg := fmt.Sprintf("plan still holds %d TODO placeholder(s) from rollbook new%s", len(found), where)
	fix := "replace each TODO with the real content (search the file for TODO)"
	if first.path != "" {
		c.at(first.path, "todo-placeholder", msg, fix)
		return
	}
	c.atLine(first.line, "todo-placeholder", msg, fix)
}
