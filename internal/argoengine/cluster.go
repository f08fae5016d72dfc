package argoengine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// ClusterOptions says how to start a drill's cluster.
type ClusterOptions struct {
	// Bin is the folder `make argo-controlplane` builds into
	// (internal/argo/controlplane/bin): rollbook-cluster and the programs
	// it runs.
	Bin string
	// Dir holds the cluster's data, keys and logs; the caller removes it.
	Dir string
	// Network is the Docker network the pods' containers join; Labels go
	// on every one of them, for the drill's clean-up.
	Network string
	Labels  map[string]string
	Log     *slog.Logger
}

// Cluster is a running rollbook-cluster.
type Cluster struct {
	Kubeconfig string
	// Startup is each component's time from exec to ready; Took the whole
	// start, from exec to the ready line.
	Startup map[string]time.Duration
	Took    time.Duration
	// LogPath is rollbook-cluster's own log (its components' logs are
	// under Dir/logs).
	LogPath string

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// FindBin is the folder of the cluster's programs: dir when set, else
// $ROLLBOOK_ARGO_BIN, else internal/argo/controlplane/bin under root.
func FindBin(dir, root string) (string, error) {
	if dir == "" {
		dir = os.Getenv("ROLLBOOK_ARGO_BIN")
	}
	if dir == "" {
		dir = filepath.Join(root, "internal", "argo", "controlplane", "bin")
	}
	if _, err := os.Stat(filepath.Join(dir, "rollbook-cluster")); err != nil {
		return "", fmt.Errorf("the Argo engine needs the drill cluster's programs in %s (%v): run `make argo-controlplane` (a cold build takes about 24 minutes), or name their folder with --argo-bin", dir, err)
	}
	// rollbook-cluster starts its programs from other working folders.
	return filepath.Abs(dir)
}

// StartCluster runs rollbook-cluster and returns once it printed its ready
// line. On error or when ctx ends first, the process is stopped.
func StartCluster(ctx context.Context, o ClusterOptions) (*Cluster, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	args := []string{"-bin", o.Bin, "-dir", o.Dir, "-network", o.Network}
	keys := make([]string, 0, len(o.Labels))
	for k := range o.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-label", k+"="+o.Labels[k])
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	c := &Cluster{LogPath: filepath.Join(o.Dir, "rollbook-cluster.log"), done: make(chan struct{})}
	logf, err := os.Create(c.LogPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(o.Bin, "rollbook-cluster"), args...)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	// A process group of its own: a terminal's Ctrl-C reaches the drill,
	// which stops the cluster in order (pods' containers first), not every
	// component at once. If the drill dies, so does the cluster.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	c.cmd = cmd
	o.Log.Info("argo cluster starting", "pid", cmd.Process.Pid, "dir", o.Dir)
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		for sc.Scan() {
		}
	}()
	go func() { c.err = cmd.Wait(); logf.Close(); close(c.done) }()

	var line string
	select {
	case l, ok := <-lines:
		if !ok {
			<-c.done
			return nil, fmt.Errorf("rollbook-cluster exited before it was ready (%v); the end of %s:\n%s", c.err, c.LogPath, tail(c.LogPath, 15))
		}
		line = l
	case <-ctx.Done():
		c.Stop()
		return nil, fmt.Errorf("the drill cluster did not start: %w; the end of %s:\n%s", ctx.Err(), c.LogPath, tail(c.LogPath, 15))
	}
	var ready struct {
		Kubeconfig string           `json:"kubeconfig"`
		StartupMS  map[string]int64 `json:"startup_ms"`
	}
	if err := json.Unmarshal([]byte(line), &ready); err != nil || ready.Kubeconfig == "" {
		c.Stop()
		return nil, fmt.Errorf("rollbook-cluster's ready line %q: want {\"kubeconfig\": PATH, ...} (%v)", line, err)
	}
	c.Took = time.Since(began)
	c.Kubeconfig = ready.Kubeconfig
	c.Startup = map[string]time.Duration{}
	for k, ms := range ready.StartupMS {
		c.Startup[k] = time.Duration(ms) * time.Millisecond
	}
	o.Log.Info("argo cluster ready", "took", c.Took.Round(time.Millisecond))
	return c, nil
}

// Stop asks rollbook-cluster to end (SIGTERM: it removes the pods'
// containers, then stops the control plane) and waits; after a minute the
// whole process group is killed.
func (c *Cluster) Stop() error {
	if c == nil || c.cmd == nil {
		return nil
	}
	select {
	case <-c.done:
		return nil
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(time.Minute):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
		return errors.New("rollbook-cluster did not stop within a minute: killed")
	}
	var ee *exec.ExitError
	if c.err != nil && !errors.As(c.err, &ee) {
		return c.err
	}
	return nil
}

// Exited is closed when rollbook-cluster has ended.
func (c *Cluster) Exited() <-chan struct{} { return c.done }

// Tail is the end of rollbook-cluster's log.
func (c *Cluster) Tail(n int) string { return tail(c.LogPath, n) }

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
