package plan

import "strings"

// Section is one section a reviewer expects in a plan of some kind.
type Section struct {
	Name string
	// Core sections are required at every risk; the others only at high risk.
	Core bool
	// Aliases are other headings accepted for the section.
	Aliases []string
	// Hint says what the section holds; `rollbook new` writes it as a prompt.
	Hint string
	// Generated reports whether the front matter already provides the
	// section (the site renders it as a panel), so no heading is needed.
	Generated func(*Plan) bool
}

func hasTriggers(p *Plan) bool { return len(p.Triggers) > 0 }
func hasContacts(p *Plan) bool { return p.Contacts.Primary != "" }
func hasEnvs(p *Plan) bool     { return len(p.Environments) > 0 }
func hasHealth(p *Plan) bool   { return len(p.HealthChecks) > 0 }
func hasFlags(p *Plan) bool    { return len(p.Flags) > 0 }
func hasSteps(p *Plan) bool    { return len(p.Strategy.Steps) > 0 }
func hasStrategy(p *Plan) bool { return p.Strategy.Type != "" }
func hasComms(p *Plan) bool    { return len(p.Communication) > 0 }
func hasMachine(p *Plan) bool  { return len(p.Strategy.Steps) > 0 && p.Rollback.Class != "" }
func hasRBClass(p *Plan) bool  { return p.Rollback.Class != "" }
func hasMigrate(p *Plan) bool  { return len(p.Migrations) > 0 }

// Sections lists the sections of each kind, in the order a plan presents them (SPEC 1.1).
var Sections = map[string][]Section{
	KindRollout: {
		{Name: "Executive summary", Core: true, Hint: "What changes and why, when, expected duration, risk, rollback time, affected systems, expected downtime."},
		{Name: "Prerequisites and approvals", Core: true, Aliases: []string{"Prerequisites", "Approvals"}, Hint: "What must be true before starting, and who signed off."},
		{Name: "Preflight checks", Aliases: []string{"Go / no-go criteria", "Go/no-go checklist"}, Hint: "Go / no-go list: each item a check with the command that proves it."},
		{Name: "Rollout procedure", Core: true, Hint: "Phases; per step a command, a validation and a duration estimate."},
		{Name: "Verification signals", Core: true, Hint: "What to watch at 0-2 min, 2-5 min, 5-15 min and 15+ min."},
		{Name: "Rollback procedure", Core: true, Hint: "Numbered steps, each an exact command and a verification."},
		{Name: "Communication plan", Generated: hasComms, Hint: "Who is told what, when and where."},
		{Name: "Post-deployment tasks", Hint: "What happens at 1 h, 24 h and 1 week."},
		{Name: "Contingency plans", Hint: "Partial failure, degradation, data inconsistency, dependency failure: symptoms, response, timeline."},
		{Name: "Contacts", Core: true, Generated: hasContacts, Hint: "Primary and secondary on-call, escalation path."},
	},
	KindDeployment: {
		{Name: "Environment matrix", Core: true, Generated: hasEnvs, Hint: "Each environment with its version, config and owner."},
		{Name: "Pipeline", Hint: "Build, test and deploy stages; gates; artifacts."},
		{Name: "Deployment strategy", Core: true, Generated: hasStrategy, Hint: "Canary, blue-green, rolling or feature flag, and why."},
		{Name: "Rollback checklist", Core: true, Aliases: []string{"Rollback procedure"}, Hint: "Numbered steps, each an exact command and a verification."},
		{Name: "Feature flag plan", Generated: hasFlags, Hint: "Flags, their rollout and their cleanup."},
		{Name: "Health checks", Core: true, Generated: hasHealth, Hint: "Probes and post-deploy checks with thresholds."},
		{Name: "Database migration plan", Generated: hasMigrate, Hint: "Migrations, their phase (expand/contract) and when they run."},
	},
	KindRollback: {
		{Name: "Rollback classification", Core: true, Generated: hasRBClass, Hint: "instant, fast (<15 min), complex (15-60 min) or irreversible, and why."},
		{Name: "Go / no-go criteria", Core: true, Aliases: []string{"Go/no-go criteria", "Go / no-go"}, Hint: "When to start, and the mid-rollout abort triggers."},
		{Name: "Rollback triggers", Core: true, Generated: func(p *Plan) bool { return hasTriggers(p) && p.Rollback.DecisionMaker != "" }, Hint: "Metric, threshold and window for each trigger, and who decides."},
		{Name: "Step-by-step rollback procedure", Core: true, Aliases: []string{"Rollback procedure"}, Hint: "One concrete action per step: exact command, check, time; flag destructive steps; order across components."},
		{Name: "Data recovery", Hint: "How data written by the new release is recovered, with the backup check."},
		{Name: "Canary and progressive rollout", Generated: hasSteps, Hint: "Traffic steps and bake times."},
		{Name: "Communication plan", Core: true, Hint: "Paste-ready message templates for each audience."},
	},
	KindAutomatedRollback: {
		{Name: "Trigger table", Core: true, Generated: hasTriggers, Hint: "Each trigger: metric, threshold, window, consecutive windows."},
		{Name: "State machine", Core: true, Generated: hasMachine, Hint: "States and transitions of the controller."},
		{Name: "Migration-safety policy", Core: true, Hint: "Which migrations block automatic rollback, and what happens then."},
		{Name: "Stuck-state and override", Hint: "What the controller does when rollback fails, and how a human takes over."},
		{Name: "Game-day plan", Core: true, Aliases: []string{"Game day plan"}, Generated: func(p *Plan) bool { return len(p.Gameday.Scenarios) > 0 }, Hint: "Scenarios drilled and their schedule."},
	},
	KindProcess: {
		{Name: "Expectations", Core: true, Hint: "What every change following this process must do."},
		{Name: "Metrics to observe", Hint: "Signals and where to find them."},
		{Name: "Testing scenarios", Hint: "What is tested before production."},
		{Name: "Communication", Hint: "Who is told what, when."},
		{Name: "Staging and production checks", Hint: "Checks in each environment."},
		{Name: "Rollout steps", Core: true, Hint: "The steps of the process, in order."},
		{Name: "Retro", Hint: "How the team reviews each change."},
	},
	// The prometheus-operator runbook template.
	KindAlert: {
		{Name: "Meaning", Core: true, Aliases: []string{"Description", "Summary"}, Hint: "What the alert means: what the expression measures and when it fires."},
		{Name: "Impact", Aliases: []string{"Consequences"}, Hint: "What users or other systems notice while it fires."},
		{Name: "Diagnosis", Aliases: []string{"Investigation", "Triage"}, Hint: "How to find the cause: dashboards, queries and commands, most likely first."},
		{Name: "Mitigation", Core: true, Aliases: []string{"Resolution", "Remediation", "Fix"}, Hint: "What to do about it: exact commands, who to escalate to."},
	},
}

// RollbackProcedure is the section that says how to roll back, by any of
// the names the kinds give it: check holds its steps to a command and a
// verification, and the site links it from the top of the page.
var RollbackProcedure = Section{Name: "Step-by-step rollback procedure", Aliases: []string{"Rollback procedure", "Rollback checklist", "Rollback steps"}}

// RequiredSections returns the sections a plan of this kind and risk must
// have: low and medium risk need the core sections, high risk needs all.
func RequiredSections(kind, risk string) []Section {
	var out []Section
	for _, s := range Sections[kind] {
		if s.Core || risk == "high" {
			out = append(out, s)
		}
	}
	return out
}

// Matches reports whether a heading names this section. Matching ignores
// case, punctuation and a leading step number ("3. Rollback procedure").
func (s Section) Matches(heading string) bool {
	return MatchesNormalized(s.NormalizedNames(), NormalizeHeading(heading))
}

// NormalizedNames is the section's name and aliases as Matches compares
// them; a checker that looks for many sections among the same headings
// normalizes each once.
func (s Section) NormalizedNames() []string {
	out := make([]string, 0, 1+len(s.Aliases))
	out = append(out, NormalizeHeading(s.Name))
	for _, a := range s.Aliases {
		out = append(out, NormalizeHeading(a))
	}
	return out
}

// MatchesNormalized is Matches for a normalized heading and a section's
// NormalizedNames.
func MatchesNormalized(names []string, heading string) bool {
	for _, n := range names {
		if heading == n || len(heading) > len(n) && heading[len(n)] == ' ' && strings.HasPrefix(heading, n) {
			return true
		}
	}
	return false
}

// NormalizeHeading is a heading as Matches compares it.
func NormalizeHeading(s string) string {
	var b strings.Builder
	space := true
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			space = false
		default:
			if !space {
				b.WriteByte(' ')
				space = true
			}
		}
	}
	out := strings.TrimSpace(b.String())
	// Drop a leading section number such as "3 " or "3 1 ".
	for {
		i := strings.IndexByte(out, ' ')
		if i <= 0 || strings.Trim(out[:i], "0123456789") != "" {
			break
		}
		out = out[i+1:]
	}
	return out
}
