// Package nodeagent is the kubelet of a drill's cluster: it registers one
// Node, binds every unscheduled pod to it (the cluster has no scheduler),
// runs each pod's container as a Docker container on the drill's network,
// reports it Ready from its readiness probe, and removes the container
// when the pod goes. It runs what a ReplicaSet of a team's Rollout asks
// for (image, env, port, probe) and nothing of a kubelet's isolation:
// volumes, service-account tokens and init containers are not supported,
// and a pod that needs them fails with an event that says so.
package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Runtime runs containers; *Docker is the one a drill uses.
type Runtime interface {
	// Run creates and starts a container, replacing one of the same name.
	Run(ctx context.Context, s ContainerSpec) (Running, error)
	// Remove stops and removes it; a container already gone is not an error.
	Remove(ctx context.Context, name string) error
}

// ContainerSpec is what the agent asks of the runtime for one pod.
type ContainerSpec struct {
	Name    string // unique per pod
	Image   string
	Env     []string // KEY=value
	Port    int      // the container port, published on loopback; 0: none
	Aliases []string // names on the drill network
	Labels  map[string]string
}

// Running is a started container.
type Running struct {
	ID string
	IP string // on the drill network
	// Addr is host:port where the agent reaches Port from this host
	// (loopback), for the readiness probe.
	Addr string
}

// Config is one agent.
type Config struct {
	Node    string // the Node's name
	Runtime Runtime
	// HashLabel's value names every pod of one ReplicaSet on the drill
	// network (alias AliasPrefix+value), so that a router can send a
	// release's share to all its pods by one name.
	HashLabel string
	// Labels are put on every container, so that the drill's clean-up
	// finds them whatever happens to the agent.
	Labels map[string]string
	Log    *slog.Logger
}

// AliasFor is the drill-network name of every pod of one ReplicaSet.
func AliasFor(hash string) string { return "rs-" + hash }

// Agent is a running node agent.
type Agent struct {
	cfg Config
	cs  kubernetes.Interface
	log *slog.Logger

	mu   sync.Mutex
	pods map[types.UID]*podRun // pods whose container was started
}

type podRun struct {
	name   string // container name
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns an agent; Run starts it.
func New(cs kubernetes.Interface, cfg Config) *Agent {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.HashLabel == "" {
		cfg.HashLabel = "rollouts-pod-template-hash"
	}
	return &Agent{cfg: cfg, cs: cs, log: cfg.Log.With("node", cfg.Node), pods: map[types.UID]*podRun{}}
}

// Run registers the node and serves pods until ctx ends; then it removes
// every container it started.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.register(ctx); err != nil {
		return fmt.Errorf("registering node %s: %w", a.cfg.Node, err)
	}
	f := informers.NewSharedInformerFactory(a.cs, 0)
	inf := f.Core().V1().Pods().Informer()
	work := make(chan *corev1.Pod, 256)
	enqueue := func(obj any) {
		if p, ok := obj.(*corev1.Pod); ok {
			work <- p
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				a.forget(context.WithoutCancel(ctx), p.UID)
			}
		},
	}); err != nil {
		return err
	}
	f.Start(ctx.Done())
	defer f.Shutdown()
	go a.heartbeat(ctx)
	for {
		select {
		case <-ctx.Done():
			a.stopAll()
			return nil
		case p := <-work:
			if err := a.sync(ctx, p); err != nil && ctx.Err() == nil {
				a.log.Warn("pod", "pod", p.Namespace+"/"+p.Name, "err", err)
			}
		}
	}
}

// sync does one pod's next step: bind it, start it, or end it.
func (a *Agent) sync(ctx context.Context, p *corev1.Pod) error {
	switch {
	case p.DeletionTimestamp != nil:
		if p.Spec.NodeName != a.cfg.Node {
			return nil
		}
		a.forget(ctx, p.UID)
		// The kubelet's last word on a graceful delete: the container is
		// gone, so the pod object may go too.
		err := a.cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
			GracePeriodSeconds: new(int64),
			Preconditions:      &metav1.Preconditions{UID: &p.UID},
		})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	case p.Spec.NodeName == "":
		err := a.cs.CoreV1().Pods(p.Namespace).Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: a.cfg.Node},
		}, metav1.CreateOptions{})
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return nil // bound already, or gone
		}
		return err
	case p.Spec.NodeName != a.cfg.Node:
		return nil
	}
	a.mu.Lock()
	_, started := a.pods[p.UID]
	if !started {
		pctx, cancel := context.WithCancel(ctx)
		run := &podRun{name: containerName(p), cancel: cancel, done: make(chan struct{})}
		a.pods[p.UID] = run
		go func() {
			defer close(run.done)
			a.runPod(pctx, p.DeepCopy())
		}()
	}
	a.mu.Unlock()
	return nil
}

func containerName(p *corev1.Pod) string { return "k8s-" + p.Namespace + "-" + p.Name }

// runPod starts the pod's container and keeps its Ready condition true to
// its readiness probe until ctx ends.
func (a *Agent) runPod(ctx context.Context, p *corev1.Pod) {
	log := a.log.With("pod", p.Namespace+"/"+p.Name)
	spec, probe, err := a.containerSpec(p)
	if err != nil {
		a.fail(ctx, p, "Unsupported", err)
		return
	}
	started := metav1.Now()
	r, err := a.cfg.Runtime.Run(ctx, spec)
	if err != nil {
		a.fail(ctx, p, "RunContainerError", err)
		return
	}
	log.Info("started", "container", spec.Name, "ip", r.IP)
	ready := probe == nil
	if err := a.setStatus(ctx, p, r, started, ready); err != nil {
		log.Warn("status", "err", err)
	}
	if probe == nil {
		return
	}
	period := time.Duration(max(probe.PeriodSeconds, 1)) * time.Second
	timeout := time.Duration(max(probe.TimeoutSeconds, 1)) * time.Second
	success, failure := max(probe.SuccessThreshold, 1), max(probe.FailureThreshold, 1)
	url := "http://" + r.Addr + probe.HTTPGet.Path
	client := &http.Client{Timeout: timeout}
	select {
	case <-ctx.Done():
		return
	case <-time.After(time.Duration(probe.InitialDelaySeconds) * time.Second):
	}
	var passed, failed int32
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		if httpProbe(ctx, client, url) {
			passed, failed = passed+1, 0
		} else {
			passed, failed = 0, failed+1
		}
		if now := ready; !ready && passed >= success || ready && failed >= failure {
			ready = !now
			log.Info("readiness", "ready", ready)
			if err := a.setStatus(ctx, p, r, started, ready); err != nil && ctx.Err() == nil {
				log.Warn("status", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func httpProbe(ctx context.Context, c *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	// The kubelet's rule: any 2xx or 3xx passes.
	return resp.StatusCode >= 200 && resp.StatusCode < 400
}

// containerSpec maps the pod's one container to the runtime's terms, and
// refuses what the agent would silently get wrong.
func (a *Agent) containerSpec(p *corev1.Pod) (ContainerSpec, *corev1.Probe, error) {
	if len(p.Spec.Containers) != 1 || len(p.Spec.InitContainers) > 0 {
		return ContainerSpec{}, nil, fmt.Errorf("the drill's node agent runs pods of exactly one container, this one has %d (and %d init containers)", len(p.Spec.Containers), len(p.Spec.InitContainers))
	}
	c := p.Spec.Containers[0]
	s := ContainerSpec{
		Name:   containerName(p),
		Image:  c.Image,
		Labels: a.cfg.Labels,
		// The pod's own name, as a kubelet's pod has its own address.
		Aliases: []string{p.Name},
	}
	if h := p.Labels[a.cfg.HashLabel]; h != "" {
		s.Aliases = append(s.Aliases, AliasFor(h))
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			return s, nil, fmt.Errorf("env %s: valueFrom is not supported by the drill's node agent; give it a value", e.Name)
		}
		s.Env = append(s.Env, e.Name+"="+e.Value)
	}
	if len(c.Ports) > 0 {
		s.Port = int(c.Ports[0].ContainerPort)
	}
	probe := c.ReadinessProbe
	if probe == nil {
		return s, nil, nil
	}
	if probe.HTTPGet == nil {
		return s, nil, errors.New("readinessProbe: only httpGet is supported by the drill's node agent")
	}
	port, err := probePort(probe.HTTPGet.Port, c)
	if err != nil {
		return s, nil, err
	}
	if port != s.Port {
		return s, nil, fmt.Errorf("readinessProbe port %d is not the container's port %d: the agent publishes one port", port, s.Port)
	}
	return s, probe, nil
}

func probePort(p intstr.IntOrString, c corev1.Container) (int, error) {
	if p.StrVal == "" {
		return int(p.IntVal), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("readinessProbe port %q names no container port", p.StrVal)
}

// setStatus writes what a kubelet writes: Running, the pod's address and
// its Ready condition.
func (a *Agent) setStatus(ctx context.Context, p *corev1.Pod, r Running, started metav1.Time, ready bool) error {
	cond := corev1.ConditionFalse
	if ready {
		cond = corev1.ConditionTrue
	}
	now := metav1.Now()
	cur, err := a.cs.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if cur.UID != p.UID {
		return nil
	}
	cur.Status.Phase = corev1.PodRunning
	cur.Status.HostIP = "127.0.0.1"
	cur.Status.PodIP = r.IP
	cur.Status.PodIPs = []corev1.PodIP{{IP: r.IP}}
	cur.Status.StartTime = &started
	cur.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: started},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: started},
		{Type: corev1.ContainersReady, Status: cond, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: cond, LastTransitionTime: now},
	}
	c := p.Spec.Containers[0]
	cur.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: c.Name, Image: c.Image, ImageID: c.Image, ContainerID: "docker://" + r.ID,
		Ready: ready, Started: new(true),
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}},
	}}
	_, err = a.cs.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	return err
}

func (a *Agent) fail(ctx context.Context, p *corev1.Pod, reason string, err error) {
	a.log.Error("pod failed", "pod", p.Namespace+"/"+p.Name, "reason", reason, "err", err)
	cur, gerr := a.cs.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
	if gerr != nil {
		return
	}
	cur.Status.Phase = corev1.PodFailed
	cur.Status.Reason = reason
	cur.Status.Message = err.Error()
	_, _ = a.cs.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	_, _ = a.cs.CoreV1().Events(p.Namespace).Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: p.Name + ".", Namespace: p.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID},
		Reason:         reason, Message: err.Error(), Type: corev1.EventTypeWarning,
		Source:         corev1.EventSource{Component: "rollbook-node-agent", Host: a.cfg.Node},
		FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(), Count: 1,
	}, metav1.CreateOptions{})
}

// forget stops a pod's probe and removes its container.
func (a *Agent) forget(ctx context.Context, uid types.UID) {
	a.mu.Lock()
	run := a.pods[uid]
	delete(a.pods, uid)
	a.mu.Unlock()
	if run == nil {
		return
	}
	run.cancel()
	<-run.done
	if err := a.cfg.Runtime.Remove(ctx, run.name); err != nil {
		a.log.Warn("removing container", "container", run.name, "err", err)
		return
	}
	a.log.Info("removed", "container", run.name)
}

func (a *Agent) stopAll() {
	a.mu.Lock()
	uids := make([]types.UID, 0, len(a.pods))
	for uid := range a.pods {
		uids = append(uids, uid)
	}
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, uid := range uids {
		a.forget(ctx, uid)
	}
}

// register creates the Node, Ready, with room for any drill's pods.
func (a *Agent) register(ctx context.Context) error {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("64"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: a.cfg.Node, Labels: map[string]string{"kubernetes.io/hostname": a.cfg.Node, "type": "rollbook-drill"}},
		Status:     corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}
	if _, err := a.cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return a.nodeReady(ctx)
}

func (a *Agent) nodeReady(ctx context.Context) error {
	n, err := a.cs.CoreV1().Nodes().Get(ctx, a.cfg.Node, metav1.GetOptions{})
	if err != nil {
		return err
	}
	now := metav1.Now()
	n.Status.Conditions = []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "RollbookNodeAgent",
		Message: "runs pods as Docker containers", LastHeartbeatTime: now, LastTransitionTime: now,
	}}
	_, err = a.cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
	return err
}

// heartbeat keeps the node Ready for readers that look at its condition's
// age (no node-lifecycle controller runs here to judge it).
func (a *Agent) heartbeat(ctx context.Context) {
	t := time.NewTicker(20 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.nodeReady(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("node heartbeat", "err", err)
			}
		}
	}
}
