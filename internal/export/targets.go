package export

// Target is a controller a plan's drilled policy exports to. Targets is the
// one list of them: the export command, the site's _export/ files and
// rollbook serve's incremental update all read it, so a new controller is
// one entry here and its function.
type Target struct {
	// Key names the target on the command line and in file names.
	Key string
	// Controller is the controller's name as pages and warnings show it.
	Controller string
	// StuckPhase is where the controller shows a rollback that cannot
	// finish: none of them pages, so the user must alert on it.
	StuckPhase string
	export     func(Target, Input) (*Result, error)
}

// Targets lists the export targets in the order plan pages show them.
var Targets = []Target{
	{Key: "argo", Controller: "Argo Rollouts", StuckPhase: "the Rollout's Degraded phase", export: argo},
	{Key: "flagger", Controller: "Flagger", StuckPhase: "the Canary's Failed phase", export: flagger},
}

// Export writes a plan's manifests for the target's controller.
func (t Target) Export(in Input) (*Result, error) { return t.export(t, in) }

// Suffix ends the name of a file holding the target's manifests.
func (t Target) Suffix() string { return "." + t.Key + ".yaml" }

// TargetFor finds the target named key.
func TargetFor(key string) (Target, bool) {
	for _, t := range Targets {
		if t.Key == key {
			return t, true
		}
	}
	return Target{}, false
}

// TargetKeys lists the targets' keys, for usage lines and errors.
func TargetKeys() []string {
	keys := make([]string, len(Targets))
	for i, t := range Targets {
		keys[i] = t.Key
	}
	return keys
}

// Argo exports a Rollout canary strategy and an AnalysisTemplate per trigger.
func Argo(in Input) (*Result, error) {
	t, _ := TargetFor("argo")
	return t.Export(in)
}

// Flagger exports a Canary and a MetricTemplate per trigger. Flagger always
// rolls back when the failure threshold is reached and offers no gate that
// holds a failed canary for a human, so a plan whose rollback must not be
// automatic is refused with the reason instead of exported.
func Flagger(in Input) (*Result, error) {
	t, _ := TargetFor("flagger")
	return t.Export(in)
}
