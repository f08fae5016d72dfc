// Package controlplane starts, on this host and without a container
// registry, the part of a Kubernetes cluster that Argo Rollouts needs to run
// a team's Rollout for real: etcd, kube-apiserver, the ReplicaSet and
// garbage-collector controllers of kube-controller-manager, and the Argo
// Rollouts controller itself, each a child process built from Go modules
// (`make argo-controlplane`). It owns their flags, the credentials they share,
// the order they start in and their readiness; what runs the pods is the
// node agent (package nodeagent).
package controlplane

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/rollbook/rollbook/internal/argo/controlplane/trafficrouter"
)

// Binaries names where the control plane's programs are. Etcd is Debian's
// etcd-server (3.4, which kube-apiserver 1.34 still speaks to); the others
// are built by `make argo-controlplane` into one folder.
type Binaries struct {
	Etcd                  string
	APIServer             string
	ControllerManager     string
	RolloutsController    string // empty: no Argo Rollouts controller (gate 1 alone)
	RolloutsCRDs          string // folder of Argo's CRD manifests, created before the controller starts
	TrafficRouterPlugins  map[string]string
	ControllerManagerArgs []string // extra flags, for a test that needs more controllers
}

// BinariesIn is the layout `make argo-controlplane` writes: every program
// in dir, Argo's CRDs in dir/crds, etcd from PATH.
func BinariesIn(dir string) (Binaries, error) {
	etcd, err := exec.LookPath("etcd")
	if err != nil {
		return Binaries{}, fmt.Errorf("etcd is not installed: apt-get install etcd-server (%w)", err)
	}
	b := Binaries{
		Etcd:               etcd,
		APIServer:          filepath.Join(dir, "kube-apiserver"),
		ControllerManager:  filepath.Join(dir, "kube-controller-manager"),
		RolloutsController: filepath.Join(dir, "rollouts-controller"),
		RolloutsCRDs:       filepath.Join(dir, "crds"),
		TrafficRouterPlugins: map[string]string{
			trafficrouter.Name: filepath.Join(dir, "rollbook-trafficrouter"),
		},
	}
	for _, p := range []string{b.APIServer, b.ControllerManager, b.RolloutsController, b.RolloutsCRDs, b.TrafficRouterPlugins[trafficrouter.Name]} {
		if _, err := os.Stat(p); err != nil {
			return Binaries{}, fmt.Errorf("%w: run `make argo-controlplane` first", err)
		}
	}
	return b, nil
}

// Cluster is a running control plane. Stop ends every process it started.
type Cluster struct {
	// Kubeconfig is the file a client (kubectl, the node agent, the
	// drill) uses: the cluster's admin, over TLS with the server's own
	// self-signed certificate as its authority.
	Kubeconfig string
	// Config is the same as a client-go config.
	Config *rest.Config
	// Started says how long each component took to become ready, in
	// the order they started.
	Started []Startup

	dir   string
	log   *slog.Logger
	procs []*proc
}

// Startup is one component's time from exec to ready.
type Startup struct {
	Name string
	Took time.Duration
	PID  int
}

// Start brings the control plane up in dir (its data, keys, logs and
// kubeconfig; the caller removes it) and returns when every component is
// ready. On error, whatever had started is stopped.
func Start(ctx context.Context, dir string, bin Binaries, log *slog.Logger) (c *Cluster, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c = &Cluster{dir: dir, log: log}
	defer func() {
		if err != nil {
			c.Stop()
			c = nil
		}
	}()
	for _, sub := range []string{"etcd", "certs", "logs", "argo"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return c, err
		}
	}
	token, err := c.writeCredentials()
	if err != nil {
		return c, fmt.Errorf("control plane credentials: %w", err)
	}
	ports, err := freePorts(5)
	if err != nil {
		return c, err
	}
	etcdClient, etcdPeer, apiPort, kcmPort, argoHealth := ports[0], ports[1], ports[2], ports[3], ports[4]

	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdClient)
	if err := c.start(ctx, "etcd", bin.Etcd, []string{
		"--data-dir=" + filepath.Join(dir, "etcd"),
		"--listen-client-urls=" + etcdURL,
		"--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=http://127.0.0.1:" + strconv.Itoa(etcdPeer),
		"--initial-advertise-peer-urls=http://127.0.0.1:" + strconv.Itoa(etcdPeer),
		"--initial-cluster=default=http://127.0.0.1:" + strconv.Itoa(etcdPeer),
		// A drill's cluster lives for minutes: no fsync per write.
		"--unsafe-no-fsync",
	}, dir, func(ctx context.Context) error { return httpOK(ctx, etcdURL+"/health", "") }); err != nil {
		return c, err
	}

	certs := filepath.Join(dir, "certs")
	apiURL := "https://127.0.0.1:" + strconv.Itoa(apiPort)
	if err := c.start(ctx, "kube-apiserver", bin.APIServer, []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(apiPort),
		"--cert-dir=" + certs,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + filepath.Join(certs, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(certs, "sa.key"),
		"--token-auth-file=" + filepath.Join(certs, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.96.0.0/24",
		// Pods get no service-account token: the node agent runs the
		// team's image as it is, not as an in-cluster client.
		"--disable-admission-plugins=ServiceAccount",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
	}, dir, func(ctx context.Context) error {
		return httpOK(ctx, apiURL+"/readyz", token)
	}); err != nil {
		return c, err
	}
	if err := c.writeKubeconfig(apiURL, token); err != nil {
		return c, err
	}

	kcm := append([]string{
		"--kubeconfig=" + c.Kubeconfig,
		"--authentication-kubeconfig=" + c.Kubeconfig,
		"--authorization-kubeconfig=" + c.Kubeconfig,
		"--controllers=replicaset-controller,garbage-collector-controller",
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(kcmPort),
		"--cert-dir=" + filepath.Join(dir, "certs", "kcm"),
		"--profiling=false",
	}, bin.ControllerManagerArgs...)
	kcmURL := "https://127.0.0.1:" + strconv.Itoa(kcmPort)
	if err := c.start(ctx, "kube-controller-manager", bin.ControllerManager, kcm, dir,
		func(ctx context.Context) error { return httpOK(ctx, kcmURL+"/healthz", token) }); err != nil {
		return c, err
	}

	if bin.RolloutsController == "" {
		return c, nil
	}
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return c, err
	}
	if err := prepareArgo(ctx, c.Config, cs, bin); err != nil {
		return c, fmt.Errorf("preparing the cluster for Argo Rollouts: %w", err)
	}
	argoURL := "http://127.0.0.1:" + strconv.Itoa(argoHealth)
	// Argo copies its plugins under plugin-bin/ of its working folder.
	if err := c.start(ctx, "rollouts-controller", bin.RolloutsController, []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--leader-elect=false",
		"--healthzPort=" + strconv.Itoa(argoHealth),
		"--metricsPort=0",
		"--loglevel=info",
		"--logformat=json",
	}, filepath.Join(dir, "argo"), func(ctx context.Context) error {
		return httpOK(ctx, argoURL+"/healthz", "")
	}); err != nil {
		return c, err
	}
	return c, nil
}

// Log is the path of a component's combined output.
func (c *Cluster) Log(name string) string { return filepath.Join(c.dir, "logs", name+".log") }

// RSS is the resident memory of each component now, in bytes.
func (c *Cluster) RSS() map[string]int64 {
	out := make(map[string]int64, len(c.procs))
	for _, p := range c.procs {
		out[p.name] = rss(p.cmd.Process.Pid)
	}
	return out
}

// Stop ends the components in the reverse order of their start: SIGTERM,
// then SIGKILL after five seconds.
func (c *Cluster) Stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].stop(5 * time.Second)
	}
	c.procs = nil
}

type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  *os.File
	once sync.Once
}

func (p *proc) stop(grace time.Duration) {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		p.log.Close()
	})
}

// start runs one component and waits for ready to pass; a component that
// exits first is an error that quotes the end of its log.
func (c *Cluster) start(ctx context.Context, name, path string, args []string, wd string, ready func(context.Context) error) error {
	logf, err := os.Create(c.Log(name))
	if err != nil {
		return err
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = wd
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so that a drill's Ctrl-C reaches the drill,
	// which stops the components in order, and not each of them at once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{}), log: logf}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	c.procs = append(c.procs, p)
	c.log.Info("starting", "component", name, "pid", cmd.Process.Pid)

	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = ready(ctx); last == nil {
			took := time.Since(began)
			c.Started = append(c.Started, Startup{Name: name, Took: took, PID: cmd.Process.Pid})
			c.log.Info("ready", "component", name, "took", took.Round(time.Millisecond))
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready (%v); the end of %s:\n%s", name, p.err, c.Log(name), tail(c.Log(name), 15))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %v; the end of %s:\n%s", name, time.Since(began).Round(time.Second), last, c.Log(name), tail(c.Log(name), 15))
		case <-tick.C:
		}
	}
}

// writeCredentials writes the service-account key pair and the admin's
// static token, and returns the token.
func (c *Cluster) writeCredentials() (string, error) {
	certs := filepath.Join(c.dir, "certs")
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", err
	}
	files := map[string][]byte{
		"sa.key": pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		"sa.pub": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	token := hex.EncodeToString(raw)
	// token,user,uid,"groups": the admin is in system:masters, which RBAC
	// lets do anything; every client of this cluster is the drill's own.
	files["tokens.csv"] = []byte(token + `,rollbook-drill,rollbook-drill,"system:masters"` + "\n")
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(certs, name), data, 0o600); err != nil {
			return "", err
		}
	}
	return token, nil
}

func (c *Cluster) writeKubeconfig(server, token string) error {
	// kube-apiserver wrote its self-signed serving certificate into
	// --cert-dir before it answered /readyz.
	ca, err := os.ReadFile(filepath.Join(c.dir, "certs", "apiserver.crt"))
	if err != nil {
		return fmt.Errorf("kube-apiserver's serving certificate: %w", err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["drill"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos["drill"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["drill"] = &clientcmdapi.Context{Cluster: "drill", AuthInfo: "drill", Namespace: "default"}
	cfg.CurrentContext = "drill"
	c.Kubeconfig = filepath.Join(c.dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, c.Kubeconfig); err != nil {
		return err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return err
	}
	rc.QPS, rc.Burst = 50, 100
	c.Config = rc
	return nil
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// rss reads VmRSS from /proc, 0 when the process is gone.
func rss(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(data) {
		if f := bytes.Fields(line); len(f) >= 2 && string(f[0]) == "VmRSS:" {
			kb, _ := strconv.ParseInt(string(f[1]), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func drain(r io.Reader) { _, _ = io.Copy(io.Discard, r) }
