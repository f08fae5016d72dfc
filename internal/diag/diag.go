// Package diag owns positioned findings: the file:line:col messages that
// rollbook check, build and serve show to plan writers, and how they print.
package diag

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Severity says whether a finding fails the build.
type Severity string

const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Finding is one problem in one file, with what to write instead.
type Finding struct {
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Col      int      `json:"col"`
	Severity Severity `json:"severity"`
	Rule     string   `json:"rule"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix,omitempty"`
	// Default is the rule's own severity when rollbook.yaml's rules:
	// changed it (Severity is then the effective one); empty otherwise.
	Default Severity `json:"default_severity,omitempty"`
}

// String formats the finding as file:line:col: severity rule: message (fix).
func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(f.File)
	if f.Line > 0 {
		fmt.Fprintf(&b, ":%d", f.Line)
		if f.Col > 0 {
			fmt.Fprintf(&b, ":%d", f.Col)
		}
	}
	fmt.Fprintf(&b, ": %s %s: %s", f.Severity, f.Rule, f.Message)
	if f.Fix != "" {
		b.WriteString("; ")
		b.WriteString(f.Fix)
	}
	return b.String()
}

// Error makes a finding usable as an error value.
func (f Finding) Error() string { return f.String() }

// List is a set of findings; as an error it reports the errors it holds.
type List []Finding

// Sort orders findings by file, line, column and rule so output is stable.
func (l List) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return a.Rule < b.Rule
	})
}

// Errors returns the findings of error severity.
func (l List) Errors() List { return l.filter(Error) }

// Warnings returns the findings of warning severity.
func (l List) Warnings() List { return l.filter(Warning) }

func (l List) filter(s Severity) List {
	var out List
	for _, f := range l {
		if f.Severity == s {
			out = append(out, f)
		}
	}
	return out
}

// Error lists every finding, one a line.
func (l List) Error() string {
	var b strings.Builder
	for i, f := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(f.String())
	}
	return b.String()
}

// WriteText prints one finding a line.
func (l List) WriteText(w io.Writer) error {
	for _, f := range l {
		if _, err := fmt.Fprintln(w, f.String()); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON prints the findings as a JSON array (never null).
func (l List) WriteJSON(w io.Writer) error {
	if l == nil {
		l = List{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(l)
}
