package controlplane

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	sigyaml "sigs.k8s.io/yaml"

	"github.com/rollbook/rollbook/internal/argo/controlplane/nodeagent"
)

// routerAdmin records what the traffic-router plugin asks of the drill
// router's admin API (the real router's side is internal/drillagent's
// TestUpstreamsMove).
type routerAdmin struct {
	mu    sync.Mutex
	calls []string
}

func (r *routerAdmin) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var body map[string]any
	if req.Method == http.MethodPut {
		_ = json.NewDecoder(req.Body).Decode(&body)
		data, _ := json.Marshal(body)
		r.mu.Lock()
		r.calls = append(r.calls, req.URL.Path+" "+string(data))
		r.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	// VerifyWeight reads the last weight set.
	r.mu.Lock()
	last := `{"canary":0}`
	for _, c := range r.calls {
		if p, b, _ := cut(c); p == "/admin/weights" {
			last = b
		}
	}
	r.mu.Unlock()
	_, _ = w.Write([]byte(last))
}

func (r *routerAdmin) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

func cut(s string) (string, string, bool) {
	for i := range s {
		if s[i] == ' ' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

const canaryRolloutYAML = `
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: orders, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: orders}}
  template:
    metadata: {labels: {app: orders}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: orders
          image: "example-orders:2.3.1"
          # The demo release listens without its database; /health/live
          # answers then (its /health/ready would wait for the database).
          env: [{name: VERSION, value: "2.3.1"}, {name: DATABASE_URL, value: "postgres://nowhere:5432/orders"}]
          ports: [{containerPort: 8080}]
          readinessProbe: {httpGet: {path: /health/live, port: 8080}, periodSeconds: 1}
  strategy:
    canary:
      scaleDownDelaySeconds: 0
      abortScaleDownDelaySeconds: 0
      trafficRouting:
        plugins:
          rollbook/router: {router: %q, port: 8080}
      steps:
        - setWeight: 50
        - pause: {}
`

// Gate 2 of the Argo engine: the pods of the Rollout's ReplicaSets run as
// Docker containers on the drill's network (the node agent), become Ready
// from their readiness probe, go when their pods go; and Argo's canary
// weight reaches the drill router through the traffic-router plugin.
func TestRolloutRunsAsContainers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := startCluster(t, binDir(t))
	cs := kubernetes.NewForConfigOrDie(c.Config)
	docker, netName := startNode(t, ctx, cs)

	admin := &routerAdmin{}
	router := httptest.NewServer(admin)
	defer router.Close()
	var obj map[string]any
	if err := sigyaml.Unmarshal(fmt.Appendf(nil, canaryRolloutYAML, router.URL), &obj); err != nil {
		t.Fatal(err)
	}
	ro := dynamic.NewForConfigOrDie(c.Config).Resource(rolloutGVR).Namespace("default")
	if _, err := ro.Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the Rollout: %v", err)
	}

	// The stable release: one pod, Running and Ready from its probe, a
	// container on the drill network named for its ReplicaSet.
	stable := waitPods(t, ctx, cs, "2.3.1", 1)
	stableHash := stable[0].Labels["rollouts-pod-template-hash"]
	waitPhase(t, ctx, ro, "Healthy")
	ct := inspect(t, ctx, docker, "k8s-default-"+stable[0].Name)
	if ep := ct.NetworkSettings.Networks[netName]; ep == nil || !slices.Contains(ep.Aliases, nodeagent.AliasFor(stableHash)) {
		t.Errorf("stable container's aliases on %s: %+v, want %s", netName, ep, nodeagent.AliasFor(stableHash))
	}
	if !slices.Contains(ct.Config.Env, "VERSION=2.3.1") {
		t.Errorf("stable container's env %v lacks the pod's VERSION=2.3.1", ct.Config.Env)
	}

	// The canary: Argo makes its ReplicaSet, the plugin points the router
	// at it and sets the step's weight, and the rollout pauses.
	patch := `[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"example-orders:2.4.0"},{"op":"replace","path":"/spec/template/spec/containers/0/env/0/value","value":"2.4.0"}]`
	if _, err := ro.Patch(ctx, "orders", types.JSONPatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	canary := waitPods(t, ctx, cs, "2.4.0", 1)
	canaryHash := canary[0].Labels["rollouts-pod-template-hash"]
	waitPhase(t, ctx, ro, "Paused")
	wantUp := fmt.Sprintf(`/admin/upstreams {"canary":"http://%s:8080","stable":"http://%s:8080"}`, nodeagent.AliasFor(canaryHash), nodeagent.AliasFor(stableHash))
	calls := admin.seen()
	if !slices.Contains(calls, wantUp) || !slices.Contains(calls, `/admin/weights {"canary":50}`) {
		t.Fatalf("router admin calls %q, want %q and the weight 50", calls, wantUp)
	}

	// Abort: Argo sends the traffic back (weight 0) and scales the canary
	// down; its pod goes, and with it its container.
	if _, err := ro.Patch(ctx, "orders", types.MergePatchType, []byte(`{"status":{"abort":true}}`), metav1.PatchOptions{}, "status"); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, ctx, ro, "Degraded")
	err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		_, err := docker.ContainerInspect(ctx, "k8s-default-"+canary[0].Name, client.ContainerInspectOptions{})
		return errdefs.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("the aborted canary's container is still there: %v", err)
	}
	if calls := admin.seen(); calls[len(calls)-1] != `/admin/weights {"canary":0}` && !slices.Contains(calls[len(calls)-3:], `/admin/weights {"canary":0}`) {
		t.Errorf("after the abort, router admin calls end with %q, want the weight back to 0", calls[max(0, len(calls)-3):])
	}
	if _, err := docker.ContainerInspect(ctx, "k8s-default-"+stable[0].Name, client.ContainerInspectOptions{}); err != nil {
		t.Errorf("the stable container went with the canary: %v", err)
	}
	t.Logf("router admin calls: %q", admin.seen())
}

// startNode runs the node agent for the test's cluster on a Docker network
// of its own, and checks at the end that no container outlived it.
func startNode(t *testing.T, ctx context.Context, cs kubernetes.Interface) (*client.Client, string) {
	t.Helper()
	docker, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := docker.Ping(ctx, client.PingOptions{}); err != nil {
		t.Fatalf("the node agent runs pods on Docker: %v", err)
	}
	raw := make([]byte, 4)
	_, _ = rand.Read(raw)
	run := hex.EncodeToString(raw)
	labels := map[string]string{"rollbook.io/argo-test": run}
	netName := "rollbook-argo-" + run
	if _, err := docker.NetworkCreate(ctx, netName, client.NetworkCreateOptions{Labels: labels}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = docker.NetworkRemove(context.Background(), netName, client.NetworkRemoveOptions{}) })

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	agent := nodeagent.New(cs, nodeagent.Config{
		Node: "drill", Runtime: &nodeagent.Docker{Client: docker, Network: netName}, Labels: labels, Log: log,
	})
	actx, stopAgent := context.WithCancel(ctx)
	agentDone := make(chan error, 1)
	go func() { agentDone <- agent.Run(actx) }()
	t.Cleanup(func() {
		stopAgent()
		<-agentDone
		// Whatever the agent left (it should leave nothing) goes too.
		list, _ := docker.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", "rollbook.io/argo-test="+run)})
		for _, ct := range list.Items {
			t.Errorf("container %s outlived the agent", ct.Names)
			_, _ = docker.ContainerRemove(context.Background(), ct.ID, client.ContainerRemoveOptions{Force: true})
		}
	})

	return docker, netName
}

// waitPods waits for n pods of a release (by env VERSION), Running and Ready.
func waitPods(t *testing.T, ctx context.Context, cs kubernetes.Interface, version string, n int) []corev1.Pod {
	t.Helper()
	var got []corev1.Pod
	err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		got = got[:0]
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil && p.Spec.Containers[0].Env[0].Value == version && p.Status.Phase == corev1.PodRunning && ready(p) {
				got = append(got, p)
			}
		}
		return len(got) == n, nil
	})
	if err != nil {
		t.Fatalf("want %d Ready pods of %s: %v (have %d)", n, version, err, len(got))
	}
	return got
}

func ready(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func waitPhase(t *testing.T, ctx context.Context, ro dynamic.ResourceInterface, phase string) {
	t.Helper()
	waitRollout(t, ctx, ro, "orders", phase)
}

func inspect(t *testing.T, ctx context.Context, docker *client.Client, name string) container.InspectResponse {
	t.Helper()
	in, err := docker.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("container %s: %v", name, err)
	}
	return in.Container
}
