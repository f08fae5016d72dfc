package controlplane

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	sigyaml "sigs.k8s.io/yaml"
)

// binDir is where `make argo-controlplane` put the programs; the make
// target that runs these tests builds them first, so their absence fails.
func binDir(tb testing.TB) Binaries {
	tb.Helper()
	dir := os.Getenv("ROLLBOOK_ARGO_BIN")
	if dir == "" {
		dir, _ = filepath.Abs("bin")
	}
	b, err := BinariesIn(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func startCluster(tb testing.TB, bin Binaries) *Cluster {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := Start(ctx, tb.TempDir(), bin, log)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Stop)
	return c
}

var rolloutGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "rollouts"}

const rolloutYAML = `
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - {name: web, image: "example-orders:2.3.1", ports: [{containerPort: 8080}]}
  strategy:
    canary:
      steps:
        - setWeight: 50
        - pause: {}
`

// Gate 1 of the Argo engine: the control plane built from Go modules
// starts here, the real Argo Rollouts controller turns a Rollout into a
// ReplicaSet, and kube-controller-manager's ReplicaSet controller makes its
// pods. Nothing runs the pods yet (the node agent does): they stay Pending.
func TestRolloutGetsReplicaSetAndPods(t *testing.T) {
	c := startCluster(t, binDir(t))
	for _, s := range c.Started {
		t.Logf("%-24s ready in %s", s.Name, s.Took.Round(time.Millisecond))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	var obj map[string]any
	if err := sigyaml.Unmarshal([]byte(rolloutYAML), &obj); err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(c.Config)
	if _, err := dyn.Resource(rolloutGVR).Namespace("default").Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the Rollout: %v", err)
	}

	cs := kubernetes.NewForConfigOrDie(c.Config)
	var pods []corev1.Pod
	err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		rss, err := cs.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil || len(rss.Items) != 1 {
			return false, nil
		}
		rs := rss.Items[0]
		if owner := metav1.GetControllerOf(&rs); owner == nil || owner.Kind != "Rollout" || owner.Name != "web" {
			return false, fmt.Errorf("ReplicaSet %s is not the Rollout's: owner %v", rs.Name, owner)
		}
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, nil
		}
		pods = list.Items
		return len(pods) == 2, nil
	})
	if err != nil {
		t.Fatalf("want the Rollout's ReplicaSet and its 2 pods: %v (have %d pods); controller log:\n%s", err, len(pods), tail(c.Log("rollouts-controller"), 10))
	}
	for _, p := range pods {
		owner := metav1.GetControllerOf(&p)
		if owner == nil || owner.Kind != "ReplicaSet" {
			t.Errorf("pod %s: controller %v, want its ReplicaSet", p.Name, owner)
		}
		if p.Labels["rollouts-pod-template-hash"] == "" {
			t.Errorf("pod %s has no rollouts-pod-template-hash label: %v", p.Name, p.Labels)
		}
		if got := p.Spec.Containers[0].Image; got != "example-orders:2.3.1" {
			t.Errorf("pod %s runs %q, want the Rollout's image", p.Name, got)
		}
	}
	for name, b := range c.RSS() {
		t.Logf("%-24s RSS %4d MiB", name, b>>20)
	}
}

// BenchmarkStart measures the control plane's start-up, from nothing to
// every component ready, CRDs established and Argo's controller healthy.
func BenchmarkStart(b *testing.B) {
	bin := binDir(b)
	var rss int64
	for b.Loop() {
		c := startCluster(b, bin)
		for _, v := range c.RSS() {
			rss += v
		}
		c.Stop()
	}
	b.ReportMetric(float64(rss>>20)/float64(b.N), "MiB-rss")
}
