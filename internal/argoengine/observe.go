package argoengine

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"time"
)

// HashLabel is the label Argo Rollouts puts on each ReplicaSet's pods.
const HashLabel = "rollouts-pod-template-hash"

// Rollout is what the drill reads of a Rollout's status.
type Rollout struct {
	Status struct {
		Phase            string `json:"phase"`
		Message          string `json:"message"`
		Abort            bool   `json:"abort"`
		StableRS         string `json:"stableRS"`
		CurrentPodHash   string `json:"currentPodHash"`
		CurrentStepIndex *int   `json:"currentStepIndex"`
		PauseConditions  []struct {
			Reason string `json:"reason"`
		} `json:"pauseConditions"`
		Canary struct {
			Weights *struct {
				Canary struct {
					Weight          int    `json:"weight"`
					PodTemplateHash string `json:"podTemplateHash"`
				} `json:"canary"`
			} `json:"weights"`
		} `json:"canary"`
	} `json:"status"`
}

// AnalysisRun is what the drill reads of one AnalysisRun.
type AnalysisRun struct {
	Metadata struct {
		Name              string            `json:"name"`
		Labels            map[string]string `json:"labels"`
		CreationTimestamp time.Time         `json:"creationTimestamp"`
	} `json:"metadata"`
	Status struct {
		Phase         string         `json:"phase"`
		Message       string         `json:"message"`
		MetricResults []MetricResult `json:"metricResults"`
	} `json:"status"`
}

// Hash is the pod-template hash of the release the run analyses.
func (r AnalysisRun) Hash() string { return r.Metadata.Labels[HashLabel] }

// MetricResult is one metric of a run: its phase, its counts over the
// whole run, and the last measurements Argo keeps (ten at most: Count
// says how many there were).
type MetricResult struct {
	Name         string        `json:"name"`
	Phase        string        `json:"phase"`
	Message      string        `json:"message"`
	Count        int           `json:"count"`
	Successful   int           `json:"successful"`
	Failed       int           `json:"failed"`
	Inconclusive int           `json:"inconclusive"`
	Error        int           `json:"error"`
	Measurements []Measurement `json:"measurements"`
}

// Measurement is one measurement of a metric.
type Measurement struct {
	Phase      string     `json:"phase"`
	Value      string     `json:"value"`
	Message    string     `json:"message"`
	FinishedAt *time.Time `json:"finishedAt"`
}

// Pod is what the drill reads of a pod.
type Pod struct {
	Metadata struct {
		Name              string            `json:"name"`
		Labels            map[string]string `json:"labels"`
		DeletionTimestamp *time.Time        `json:"deletionTimestamp"`
	} `json:"metadata"`
	Status struct {
		Phase      string `json:"phase"`
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"conditions"`
	} `json:"status"`
}

// Ready reports whether the pod is Ready and not going.
func (p Pod) Ready() bool {
	if p.Metadata.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

// Observation is one reading of the Rollout, its analysis and its pods.
type Observation struct {
	At      time.Time
	Rollout Rollout
	// Runs are the AnalysisRuns, oldest first.
	Runs []AnalysisRun
	// Pods counts the pods of each pod-template hash that exist and are
	// not being deleted; Ready those of them that are Ready.
	Pods, Ready map[string]int
}

// Observe reads the Rollout name, every AnalysisRun and every pod of the
// namespace (a drill's cluster runs one Rollout).
func (c *Client) Observe(ctx context.Context, name string) (Observation, error) {
	o := Observation{At: time.Now(), Pods: map[string]int{}, Ready: map[string]int{}}
	if err := c.Get(ctx, c.RolloutPath(name), &o.Rollout); err != nil {
		return o, fmt.Errorf("reading Rollout %s: %w", name, err)
	}
	var runs struct{ Items []AnalysisRun }
	if err := c.Get(ctx, c.AnalysisRunsPath(), &runs); err != nil {
		return o, fmt.Errorf("listing AnalysisRuns: %w", err)
	}
	o.Runs = runs.Items
	sort.SliceStable(o.Runs, func(i, j int) bool {
		return o.Runs[i].Metadata.CreationTimestamp.Before(o.Runs[j].Metadata.CreationTimestamp)
	})
	var pods struct{ Items []Pod }
	if err := c.Get(ctx, c.PodsPath()+"?labelSelector="+url.QueryEscape(HashLabel), &pods); err != nil {
		return o, fmt.Errorf("listing pods: %w", err)
	}
	for _, p := range pods.Items {
		if p.Metadata.DeletionTimestamp != nil {
			continue
		}
		h := p.Metadata.Labels[HashLabel]
		o.Pods[h]++
		if p.Ready() {
			o.Ready[h]++
		}
	}
	return o, nil
}

// Alias is the drill-network name of every pod of the ReplicaSet with
// hash (the node agent's nodeagent.AliasFor, in a module this one cannot
// import).
func Alias(hash string) string { return "rs-" + hash }
