package drillenv

// What a program that runs the releases itself on the drill network (the
// Argo engine's node agent, Options.ExternalReleases) needs of the drill.

import (
	"context"
	"fmt"
	"net"
	"slices"

	"github.com/moby/moby/client"

	"github.com/rollbook/rollbook/internal/plan"
)

// Network is the name of the drill's Docker network.
func (e *Env) Network(ctx context.Context) (string, error) { return e.networkName(ctx) }

// Labels are the labels every object of this drill carries: a container
// started outside drillenv with them is removed by Close, Cleanup and
// CleanupOrphans like the drill's own.
func (e *Env) Labels() map[string]string {
	return map[string]string{labelManaged: "true", labelDrill: e.RunID, labelOwner: ownerLabel()}
}

// AliasURL is http://127.0.0.1:PORT where the host reaches port of the
// running container of this drill that has alias on the drill network
// (published on loopback by whoever started it).
func (e *Env) AliasURL(ctx context.Context, alias string, port int) (string, error) {
	c, err := dockerClient(ctx)
	if err != nil {
		return "", err
	}
	defer c.Close()
	network, err := e.networkName(ctx)
	if err != nil {
		return "", err
	}
	list, err := c.ContainerList(ctx, client.ContainerListOptions{Filters: labelFilter(e.RunID)})
	if err != nil {
		return "", fmt.Errorf("listing drill containers: %w", err)
	}
	for _, ct := range list.Items {
		in, err := c.ContainerInspect(ctx, ct.ID, client.ContainerInspectOptions{})
		if err != nil || in.Container.NetworkSettings == nil {
			continue
		}
		ep := in.Container.NetworkSettings.Networks[network]
		if ep == nil || !slices.Contains(ep.Aliases, alias) {
			continue
		}
		for p, binds := range in.Container.NetworkSettings.Ports {
			if int(p.Num()) != port {
				continue
			}
			for _, b := range binds {
				return "http://" + net.JoinHostPort("127.0.0.1", b.HostPort), nil
			}
		}
		return "", fmt.Errorf("the container %s (%s) does not publish port %d on the host", alias, in.Container.Name, port)
	}
	return "", fmt.Errorf("no running container of drill %s is %s on its network", e.RunID, alias)
}

// ReleaseEnv is the environment of the release ("stable" or "canary"):
// gameday.service.env rendered as drillenv renders it for its own
// containers, for a release something else runs.
func (s *Service) ReleaseEnv(release string) (map[string]string, error) {
	env, err := plan.RenderEnv(s.Env, s.envData(release))
	if err != nil {
		return nil, fmt.Errorf("gameday.service.%w (use %s)", err, plan.EnvFields)
	}
	return env, nil
}
