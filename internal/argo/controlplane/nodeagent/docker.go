package nodeagent

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Docker runs pods' containers on one Docker network (the drill's), each
// port published on loopback only: the host reaches a container through
// 127.0.0.1, never through the network's own addresses.
type Docker struct {
	Client  *client.Client
	Network string
}

// NewDocker connects to the Docker engine of the environment (DOCKER_HOST).
func NewDocker(networkName string) (*Docker, error) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	return &Docker{Client: c, Network: networkName}, nil
}

// Run implements Runtime.
func (d *Docker) Run(ctx context.Context, s ContainerSpec) (Running, error) {
	if err := d.Remove(ctx, s.Name); err != nil {
		return Running{}, err
	}
	cfg := &container.Config{Image: s.Image, Env: s.Env, Labels: s.Labels}
	host := &container.HostConfig{
		// restartPolicy Always, as a ReplicaSet's pods have it.
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyAlways},
	}
	var port network.Port
	if s.Port > 0 {
		var err error
		if port, err = network.ParsePort(strconv.Itoa(s.Port) + "/tcp"); err != nil {
			return Running{}, err
		}
		cfg.ExposedPorts = network.PortSet{port: {}}
		host.PortBindings = network.PortMap{port: {{HostIP: netip.MustParseAddr("127.0.0.1")}}}
	}
	created, err := d.Client.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: s.Name, Config: cfg, HostConfig: host,
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			d.Network: {Aliases: s.Aliases},
		}},
	})
	if errdefs.IsNotFound(err) {
		return Running{}, fmt.Errorf("image %s is not on this Docker engine: build or load it first (docker build -t %s .)", s.Image, s.Image)
	}
	if err != nil {
		return Running{}, fmt.Errorf("creating container %s: %w", s.Name, err)
	}
	if _, err := d.Client.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		return Running{}, fmt.Errorf("starting container %s: %w", s.Name, err)
	}
	in, err := d.Client.ContainerInspect(ctx, created.ID, client.ContainerInspectOptions{})
	if err != nil {
		return Running{}, err
	}
	r := Running{ID: created.ID}
	if ns := in.Container.NetworkSettings; ns != nil {
		if ep := ns.Networks[d.Network]; ep != nil {
			r.IP = ep.IPAddress.String()
		}
		if s.Port > 0 {
			for _, b := range ns.Ports[port] {
				r.Addr = net.JoinHostPort("127.0.0.1", b.HostPort)
			}
		}
	}
	if s.Port > 0 && r.Addr == "" {
		return r, fmt.Errorf("container %s: port %d was not published", s.Name, s.Port)
	}
	return r, nil
}

// Remove implements Runtime.
func (d *Docker) Remove(ctx context.Context, name string) error {
	_, err := d.Client.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true})
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("removing container %s: %w", name, err)
	}
	return nil
}
