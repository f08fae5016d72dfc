package diag

// Place is where a finding is: a file, and a line and column in it
// (counted from 1; a column of 0 prints none).
type Place struct {
	File      string
	Line, Col int
}

// At is the place file:line:col; its Error and As make the
// finding there, so no caller spells out a Finding's fields.
func At(file string, line, col int) Place { return Place{File: file, Line: line, Col: col} }

// As is a finding of rule with the given severity at p.
func (p Place) As(sev Severity, rule, msg, fix string) Finding {
	return Finding{File: p.File, Line: p.Line, Col: p.Col, Severity: sev, Rule: rule, Message: msg, Fix: fix}
}

// Error is an error finding of rule at p: it fails the build.
func (p Place) Error(rule, msg, fix string) Finding { return p.As(Error, rule, msg, fix) }
