package argoengine

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeCluster writes a rollbook-cluster that runs script (sh).
func fakeCluster(t *testing.T, script string) string {
	t.Helper()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "rollbook-cluster"), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// The drill's side of rollbook-cluster: its ready line read, its failure
// before it quoted from its log, and Stop ending it with SIGTERM.
func TestStartCluster(t *testing.T) {
	cases := []struct {
		name, script, err string
	}{
		{"ready", `echo "started $*" >&2; trap 'echo stopped >&2; exit 0' TERM; echo '{"kubeconfig":"/k/kubeconfig","startup_ms":{"etcd":700,"kube-apiserver":3600}}'; while :; do sleep 0.05; done`, ""},
		{"exits before ready", `echo "etcd: address in use" >&2; exit 1`, "etcd: address in use"},
		{"not a ready line", `echo hello; sleep 5`, `ready line "hello"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			dir := t.TempDir()
			cl, err := StartCluster(ctx, ClusterOptions{Bin: fakeCluster(t, c.script), Dir: dir, Network: "net-1", Labels: map[string]string{"b": "2", "a": "1"}})
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want it to say %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cl.Kubeconfig != "/k/kubeconfig" || cl.Startup["kube-apiserver"] != 3600*time.Millisecond {
				t.Errorf("kubeconfig %q, startup %v", cl.Kubeconfig, cl.Startup)
			}
			pid := cl.cmd.Process.Pid
			if err := cl.Stop(); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Kill(pid, 0); err == nil {
				t.Errorf("rollbook-cluster %d still runs after Stop", pid)
			}
			log, _ := os.ReadFile(cl.LogPath)
			if want := "started -bin " + filepath.Dir(cl.cmd.Path) + " -dir " + dir + " -network net-1 -label a=1 -label b=2"; !strings.Contains(string(log), want) || !strings.Contains(string(log), "stopped") {
				t.Errorf("its log %q, want %q and its stop", log, want)
			}
		})
	}
}

// The client reads the kubeconfig rollbook-cluster writes: it trusts the
// server's own certificate as the authority and sends the token.
func TestNewClient(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t0k" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"kind":"Status","reason":"Unauthorized","message":"no"}`)
			return
		}
		if r.URL.Path == "/apis/argoproj.io/v1alpha1/namespaces/drills/rollouts/x" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"kind":"Status","reason":"NotFound","message":"rollouts.argoproj.io \"x\" not found"}`)
			return
		}
		fmt.Fprint(w, `{"status":{"phase":"Healthy","stableRS":"abc"}}`)
	}))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: drill
clusters:
- name: drill
  cluster: {server: %q, certificate-authority-data: %s}
users:
- name: drill
  user: {token: t0k}
contexts:
- name: drill
  context: {cluster: drill, user: drill, namespace: drills}
`, srv.URL, base64.StdEncoding.EncodeToString(ca))
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(path)
	if err != nil {
		t.Fatal(err)
	}
	var ro Rollout
	if err := c.Get(context.Background(), c.RolloutPath("payments-api"), &ro); err != nil || ro.Status.StableRS != "abc" {
		t.Fatalf("rollout %+v, err %v", ro.Status, err)
	}
	if err := c.Get(context.Background(), c.RolloutPath("x"), &ro); !IsNotFound(err) || !strings.Contains(err.Error(), "not found") {
		t.Errorf("err %v, want the API server's NotFound", err)
	}
	// A kubeconfig without a readable authority is refused, not trusted.
	bad := strings.Replace(kc, base64.StdEncoding.EncodeToString(ca), base64.StdEncoding.EncodeToString([]byte("not a certificate")), 1)
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewClient(path); err == nil || !strings.Contains(err.Error(), "certificate-authority-data") {
		t.Errorf("err %v, want the unreadable authority named", err)
	}
	if _, err := NewClient(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing kubeconfig read without an error")
	}
}
