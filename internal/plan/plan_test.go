package plan

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseFull(t *testing.T) {
	src, err := os.ReadFile("testdata/full.md")
	if err != nil {
		t.Fatal(err)
	}
	p, ds := Parse("content/full.md", "full.md", src)
	if len(ds) != 0 {
		t.Fatalf("unexpected findings:\n%v", ds)
	}
	if p.Kind != KindRollout || p.Risk != "high" || p.Service != "payments-api" {
		t.Errorf("kind/risk/service = %q/%q/%q", p.Kind, p.Risk, p.Service)
	}
	if got := p.Reviewed.String(); got != "2026-11-01" {
		t.Errorf("reviewed = %q", got)
	}
	if p.Window.Duration.D() != 90*time.Minute || p.Window.Start.Hour() != 14 {
		t.Errorf("window = %+v", p.Window)
	}
	if len(p.Strategy.Steps) != 4 || p.Strategy.Steps[2].Weight != 50 || p.Strategy.Steps[2].Bake.D() != 15*time.Minute {
		t.Errorf("steps = %+v", p.Strategy.Steps)
	}
	if len(p.Triggers) != 3 {
		t.Fatalf("triggers = %+v", p.Triggers)
	}
	tr := p.Triggers[0]
	if tr.MaxDelta != 0.02 || tr.Window.D() != 2*time.Minute || tr.MinRequests != 200 || tr.Consecutive != 2 || !tr.IsRatio() {
		t.Errorf("trigger 0 = %+v", tr)
	}
	if lat := p.Triggers[1]; lat.Max.Unit != "s" || lat.Max.Duration() != 800*time.Millisecond || lat.IsRatio() {
		t.Errorf("trigger 1 = %+v", lat)
	}
	if !p.Triggers[2].IsHealth() || p.Triggers[2].Failures != 3 {
		t.Errorf("trigger 2 = %+v", p.Triggers[2])
	}
	if !p.Rollback.Automatic || p.Rollback.Target.D() != 10*time.Minute || p.Rollback.MaxAutomatic.Count != 1 || p.Rollback.MaxAutomatic.Per.D() != time.Hour {
		t.Errorf("rollback = %+v", p.Rollback)
	}
	if p.Migrations[0].Phase != "expand" || !p.Migrations[0].Reversible {
		t.Errorf("migrations = %+v", p.Migrations)
	}
	if p.Flags[0].Cleanup.String() != "2027-01-15" || p.Flags[0].Rollout[1] != 10 {
		t.Errorf("flags = %+v", p.Flags)
	}
	if p.Gameday.Schedule.Spec != "0 10 * * TUE" || len(p.Gameday.Scenarios) != 5 {
		t.Errorf("gameday = %+v", p.Gameday)
	}
	if p.Contacts.Primary != "@payments-oncall" || len(p.Contacts.Escalation) != 2 {
		t.Errorf("contacts = %+v", p.Contacts)
	}
	// Front matter starts on file line 2, so "kind:" (YAML line 2) is file line 3.
	if got := p.Pos("kind"); got.Line != 3 {
		t.Errorf("Pos(kind) = %+v", got)
	}
	if got := p.Pos("triggers[1].window"); got.Line < 20 || got.Col < 30 {
		t.Errorf("Pos(triggers[1].window) = %+v", got)
	}
	if p.BodyLine < 40 || !strings.Contains(string(p.Body), "# Payments API") {
		t.Errorf("body line %d body %q", p.BodyLine, p.Body)
	}
}

func TestParseBadInput(t *testing.T) {
	tests := []struct {
		name, src    string
		line, col    int
		rule, substr string
	}{
		{"malformed yaml", "---\ntitle: a\nkind: [rollout\n---\n", 3, 0, "yaml", "not valid YAML"},
		{"wrong type list", "---\nowners: team-a\n---\n", 2, 9, "type", "must be a list"},
		{"wrong type bool", "---\nrollback: {automatic: yes please}\n---\n", 2, 0, "type", "true or false"},
		{"wrong type int", "---\ntriggers:\n  - {metric: error_rate, min_requests: lots}\n---\n", 3, 0, "type", "whole number"},
		{"unknown kind", "---\nkind: rolout\n---\n", 2, 7, "enum", `unknown kind "rolout"`},
		{"bad duration", "---\nanalysis: {interval: 30 seconds}\n---\n", 2, 0, "value", "invalid duration"},
		{"bad percentage", "---\ntriggers:\n  - {metric: error_rate, max_delta: 200%}\n---\n", 3, 0, "value", "invalid percentage"},
		{"bad date", "---\nreviewed: 2026-13-45\n---\n", 2, 11, "value", "invalid date"},
		{"bad cron", "---\ngameday: {schedule: \"0 25 * * TUE\"}\n---\n", 2, 0, "value", "invalid cron"},
		{"unclosed", "---\ntitle: x\n", 1, 1, "front-matter", "never closed"},
		{"invalid utf8", "---\ntitle: a\xffb\n---\n", 2, 9, "encoding", "UTF-8"},
		{"duplicate key", "---\ntitle: a\ntitle: b\n---\n", 3, 1, "yaml", "already defined on line 2"},
		{"typo key", "---\nrollback: {clas: fast}\n---\n", 2, 0, "unknown-key", `did you mean "class"`},
		{"not a mapping", "---\n- a\n- b\n---\n", 2, 0, "yaml", "mapping"},
		{"bad scenario", "---\ngameday: {scenarios: [bad-canary]}\n---\n", 2, 0, "enum", "unknown scenarios"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ds := Parse("content/x.md", "x.md", []byte(tt.src))
			if len(ds) == 0 {
				t.Fatal("no finding")
			}
			f := ds[0]
			if f.Rule != tt.rule || !strings.Contains(f.String(), tt.substr) || f.Line != tt.line || (tt.col != 0 && f.Col != tt.col) {
				t.Errorf("got %s; want line %d col %d rule %s containing %q", f, tt.line, tt.col, tt.rule, tt.substr)
			}
			if f.Fix == "" {
				t.Errorf("finding has no fix: %s", f)
			}
			if !strings.HasPrefix(f.String(), "content/x.md:") {
				t.Errorf("finding does not name the file: %s", f)
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	src := make([]byte, MaxFileSize+1)
	_, ds := Parse("content/big.md", "big.md", src)
	if len(ds) != 1 || ds[0].Rule != "file-size" {
		t.Fatalf("got %v", ds)
	}
}

func TestParseHugoPages(t *testing.T) {
	tests := []struct {
		name, rel, src, title, body string
		section                     bool
	}{
		{"no front matter", "notes/on-call.md", "# On-call handbook\n\ntext\n", "On-call handbook", "\n\ntext\n", false},
		{"heading after text", "notes/x.md", "intro\n\n# On call #\r\ntext\n", "On call", "intro\n\n\ntext\n", false},
		{"heading in a fence", "notes/y.md", "```\n# not a heading\n```\n", "Y", "```\n# not a heading\n```\n", false},
		{"front matter title and the same heading", "z.md", "---\ntitle: Z page\n---\n# Z Page\nz\n", "Z page", "\nz\n", false},
		{"front matter title and another heading", "z.md", "---\ntitle: Z\n---\n# Other\n", "Z", "# Other\n", false},
		{"no heading", "notes/db-failover.md", "just text\n", "Db failover", "just text\n", false},
		{"section", "payments/_index.md", "---\ntitle: Payments\nweight: 3\n---\n", "Payments", "", true},
		{"index.md", "payments/index.md", "text\n", "Payments", "text\n", true},
		{"README.md", "db/README.md", "# Database\n", "Database", "\n", true},
		{"readme.md", "db/readme.md", "text\n", "Db", "text\n", true},
		{"README.md that is a plan", "db/README.md", "---\nkind: process\n---\n", "Db", "", false},
		{"hugo keys", "a.md", "---\ntitle: A\ndraft: true\naliases: [/old/a/]\ndate: 2026-01-02T03:04:05Z\ncustom: {x: 1}\n---\n", "A", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ds := Parse(tt.rel, tt.rel, []byte(tt.src))
			if len(ds) != 0 {
				t.Fatalf("findings: %v", ds)
			}
			if p.Title != tt.title || string(p.Body) != tt.body || p.Section != tt.section {
				t.Errorf("title %q, body %q, section %v; want %q, %q, %v", p.Title, p.Body, p.Section, tt.title, tt.body, tt.section)
			}
		})
	}
	p, _ := Parse("a.md", "a.md", []byte("---\ntitle: A\ndraft: true\ncustom: {x: 1}\n---\n"))
	if !p.Draft || p.Params["custom"] == nil || p.IsPlan() {
		t.Errorf("draft=%v params=%v", p.Draft, p.Params)
	}
}

func TestDurationAndPercent(t *testing.T) {
	durs := map[string]time.Duration{"30s": 30 * time.Second, "2d": 48 * time.Hour, "1d12h": 36 * time.Hour, "90m": 90 * time.Minute, "0": 0, "1.5d": 36 * time.Hour}
	for s, want := range durs {
		if got, err := ParseDuration(s); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "d", "-5m", "5", "xd3h", "1e400d"} {
		if _, err := ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", s)
		}
	}
	pcts := map[string]float64{"2%": 0.02, "0.02": 0.02, "100%": 1, "0": 0}
	for s, want := range pcts {
		if got, err := ParsePercent(s); err != nil || got != want {
			t.Errorf("ParsePercent(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"2", "-1%", "abc", "101%"} {
		if _, err := ParsePercent(s); err == nil {
			t.Errorf("ParsePercent(%q) succeeded", s)
		}
	}
	if FormatDuration(90*time.Minute) != "90m" || FormatDuration(48*time.Hour) != "2d" || FormatDuration(1500*time.Millisecond) != "1.5s" {
		t.Errorf("FormatDuration: %s %s %s", FormatDuration(90*time.Minute), FormatDuration(48*time.Hour), FormatDuration(1500*time.Millisecond))
	}
}

func FuzzParse(f *testing.F) {
	if src, err := os.ReadFile("testdata/full.md"); err == nil {
		f.Add(src)
	}
	f.Add([]byte("---\ntitle: a\n---\n# x\n"))
	f.Add([]byte("---\ntriggers: [{metric: x, window: 2d, max: 5%}]\n---\n"))
	f.Add([]byte("no front matter"))
	f.Fuzz(func(t *testing.T, src []byte) {
		p, ds := Parse("f.md", "f.md", src)
		for _, d := range ds {
			if d.Line < 1 || d.Col < 1 {
				t.Fatalf("finding without position: %s", d)
			}
		}
		if p != nil && p.Title == "" {
			t.Fatal("empty title")
		}
	})
}

func TestAlertRunbook(t *testing.T) {
	for _, tc := range []struct {
		path, fm string
		want     []string
	}{
		{"k8s/KubePodCrashLooping.md", "kind: alert\nseverity: warning\n", []string{"KubePodCrashLooping"}},
		{"k8s/crash.md", "kind: alert\nalert: KubePodCrashLooping\n", []string{"KubePodCrashLooping"}},
		{"k8s/crash.md", "kind: alert\nalert: [KubePodCrashLooping, KubePodNotReady]\n", []string{"KubePodCrashLooping", "KubePodNotReady"}},
		{"k8s/crash.md", "kind: rollout\nalert: X\n", nil},
	} {
		p, ds := Parse("content/"+tc.path, tc.path, []byte("---\n"+tc.fm+"---\n# T\n"))
		if len(ds) != 0 {
			t.Fatalf("%s: %v", tc.fm, ds)
		}
		if got := p.AlertNames(); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: alert names %v, want %v", tc.fm, got, tc.want)
		}
	}
	p, _ := Parse("content/a.md", "a.md", []byte("---\nkind: alert\nalert: X\nseverity: critical\n---\n"))
	if p.Pos("alert") != (Pos{Line: 3, Col: 8}) || p.Severity != "critical" {
		t.Errorf("alert at %v, severity %q", p.Pos("alert"), p.Severity)
	}
	if len(RequiredSections(KindAlert, "medium")) != 2 || len(RequiredSections(KindAlert, "high")) != 4 {
		t.Errorf("alert sections = %+v", Sections[KindAlert])
	}
}
