// Command rollbook-cluster runs a drill's cluster on this host until it is
// interrupted: the control plane (package controlplane) and the node agent
// that runs its pods on a Docker network. When every component is ready it
// prints one JSON line to stdout (the kubeconfig's path and each
// component's start-up time), for the drill that started it or a person
// with kubectl. On SIGINT or SIGTERM it removes the pods' containers, then
// stops the control plane.
//
//	rollbook-cluster -bin internal/argo/controlplane/bin -dir /tmp/drill -network rollbook-drill-1
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/rollbook/rollbook/internal/argo/controlplane"
	"github.com/rollbook/rollbook/internal/argo/controlplane/nodeagent"
)

type labels map[string]string

func (l labels) String() string { return fmt.Sprint(map[string]string(l)) }
func (l labels) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return errors.New("want key=value")
	}
	l[k] = v
	return nil
}

// Ready is the line printed when the cluster is up.
type Ready struct {
	Kubeconfig string           `json:"kubeconfig"`
	StartupMS  map[string]int64 `json:"startup_ms"`
}

func main() {
	exe, _ := os.Executable()
	bin := flag.String("bin", filepath.Dir(exe), "folder of the control plane's programs (make argo-controlplane)")
	dir := flag.String("dir", "", "folder for the cluster's data, keys and logs (required; kept on exit)")
	network := flag.String("network", "", "Docker network the pods' containers join (required)")
	lbl := labels{}
	flag.Var(lbl, "label", "key=value put on every pod container (repeatable), for the drill's clean-up")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *dir == "" || *network == "" {
		fmt.Fprintln(os.Stderr, "rollbook-cluster: -dir and -network are required")
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*bin, *dir, *network, lbl, log); err != nil {
		log.Error("rollbook-cluster", "err", err)
		os.Exit(1)
	}
}

func run(binDir, dir, network string, lbl labels, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	bin, err := controlplane.BinariesIn(binDir)
	if err != nil {
		return err
	}
	c, err := controlplane.Start(ctx, dir, bin, log)
	if err != nil {
		return err
	}
	defer c.Stop()
	docker, err := nodeagent.NewDocker(network)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	agent := nodeagent.New(cs, nodeagent.Config{Node: "drill", Runtime: docker, Labels: lbl, Log: log})
	done := make(chan error, 1)
	go func() { done <- agent.Run(ctx) }()
	ready := Ready{Kubeconfig: c.Kubeconfig, StartupMS: map[string]int64{}}
	for _, s := range c.Started {
		ready.StartupMS[s.Name] = s.Took.Milliseconds()
	}
	if err := json.NewEncoder(os.Stdout).Encode(ready); err != nil {
		return err
	}
	select {
	case err := <-done: // the agent stops on ctx, or fails on its own
		return err
	case <-ctx.Done():
		select {
		case err := <-done:
			return err
		case <-time.After(time.Minute):
			return errors.New("the node agent did not stop within a minute")
		}
	}
}
