package nodeagent

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func pod(mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "orders-abc-x1", Namespace: "default", Labels: map[string]string{"rollouts-pod-template-hash": "abc"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "orders", Image: "example-orders:2.4.0",
			Env:   []corev1.EnvVar{{Name: "VERSION", Value: "2.4.0"}},
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				HTTPGet: &corev1.HTTPGetAction{Path: "/health/ready", Port: intstr.FromString("http")},
			}},
		}}},
	}
	if mutate != nil {
		mutate(p)
	}
	return p
}

// What the agent asks Docker for is what the pod says, and a pod it would
// run wrongly is refused with the reason, never run half-configured.
func TestContainerSpec(t *testing.T) {
	a := New(nil, Config{Node: "drill", Labels: map[string]string{"rollbook.drill": "r1"}})
	for _, tc := range []struct {
		name    string
		pod     *corev1.Pod
		want    ContainerSpec
		probe   bool
		wantErr string
	}{
		{
			name: "release pod",
			pod:  pod(nil),
			want: ContainerSpec{
				Name: "k8s-default-orders-abc-x1", Image: "example-orders:2.4.0", Env: []string{"VERSION=2.4.0"}, Port: 8080,
				Aliases: []string{"orders-abc-x1", "rs-abc"}, Labels: map[string]string{"rollbook.drill": "r1"},
			},
			probe: true,
		},
		{
			name: "no probe: ready when running, no hash: no release alias",
			pod: pod(func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = nil
				p.Labels = nil
			}),
			want: ContainerSpec{
				Name: "k8s-default-orders-abc-x1", Image: "example-orders:2.4.0", Env: []string{"VERSION=2.4.0"}, Port: 8080,
				Aliases: []string{"orders-abc-x1"}, Labels: map[string]string{"rollbook.drill": "r1"},
			},
		},
		{
			name: "env from a secret",
			pod: pod(func(p *corev1.Pod) {
				p.Spec.Containers[0].Env[0] = corev1.EnvVar{Name: "DB", ValueFrom: &corev1.EnvVarSource{}}
			}),
			wantErr: "env DB: valueFrom is not supported",
		},
		{
			name:    "sidecar",
			pod:     pod(func(p *corev1.Pod) { p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "proxy"}) }),
			wantErr: "exactly one container, this one has 2",
		},
		{
			name: "exec probe",
			pod: pod(func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe.ProbeHandler = corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}
			}),
			wantErr: "only httpGet",
		},
		{
			name:    "probe on another port",
			pod:     pod(func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe.HTTPGet.Port = intstr.FromInt32(9090) }),
			wantErr: "port 9090 is not the container's port 8080",
		},
		{
			name:    "probe on an unknown port name",
			pod:     pod(func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe.HTTPGet.Port = intstr.FromString("admin") }),
			wantErr: `port "admin" names no container port`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, probe, err := a.containerSpec(tc.pod)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("spec\n got %+v\nwant %+v", got, tc.want)
			}
			if (probe != nil) != tc.probe {
				t.Errorf("probe %v, want one: %v", probe, tc.probe)
			}
		})
	}
}
