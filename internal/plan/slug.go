package plan

import (
	"path/filepath"
	"strings"
)

// Slug is a plan's identity in names outside the site's URLs: its path in
// the content folder without ".md", folders and spaces joined by "-"
// ("payments/api-canary.md" is "payments-api-canary"). Export files and
// labels, drill report folders, claims and run ids all use it, so a plan
// is found under one name everywhere.
func Slug(planPath string) string {
	s := strings.TrimSuffix(filepath.ToSlash(planPath), ".md")
	s = strings.Trim(strings.NewReplacer("/", "-", " ", "-").Replace(s), "-.")
	if s == "" {
		return "plan"
	}
	return s
}
