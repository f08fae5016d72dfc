package drillenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Labels every drill object carries. labelOwner holds "HOST:PID" of the
// process that started the drill, so CleanupOrphans can tell a drill whose
// process was killed from one that is still running.
const (
	labelManaged = "rollbook.managed"
	labelDrill   = "rollbook.drill"
	labelOwner   = "rollbook.owner"
)

func ownerLabel() string {
	host, _ := os.Hostname()
	return host + ":" + strconv.Itoa(os.Getpid())
}

// CleanupOrphans removes the objects of drills started on this host by a
// process that no longer exists (killed before it could clean up), and
// returns the run ids it cleaned.
func CleanupOrphans(ctx context.Context) ([]string, error) {
	c, err := dockerClient(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	host, _ := os.Hostname()
	runs := map[string]bool{}
	consider := func(labels map[string]string) {
		owner, run := labels[labelOwner], labels[labelDrill]
		h, pidText, ok := strings.Cut(owner, ":")
		pid, err := strconv.Atoi(pidText)
		if run == "" || !ok || err != nil || h != host || pid <= 0 {
			return
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			runs[run] = true
		}
	}
	f := labelFilter("")
	cs, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("listing drill containers: %w", err)
	}
	for _, ct := range cs.Items {
		consider(ct.Labels)
	}
	ns, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("listing drill networks: %w", err)
	}
	for _, n := range ns.Items {
		consider(n.Labels)
	}
	var ids []string
	var errs []error
	for run := range runs {
		ids = append(ids, run)
		if err := Cleanup(ctx, run); err != nil {
			errs = append(errs, err)
		}
	}
	sort.Strings(ids)
	return ids, errors.Join(errs...)
}

func dockerHost() string {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return "unix:///var/run/docker.sock"
}

// dockerClient connects to the local engine and says plainly when it cannot.
func dockerClient(ctx context.Context) (*client.Client, error) {
	prepare()
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("cannot configure the Docker client for %s: %w", dockerHost(), err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.Ping(pctx, client.PingOptions{}); err != nil {
		c.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("cannot reach the Docker engine at %s: start dockerd or set DOCKER_HOST: %w", dockerHost(), err)
	}
	return c, nil
}

// CheckDocker reports whether a Docker engine is reachable, and if not,
// what to do about it.
func CheckDocker(ctx context.Context) error {
	c, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	return c.Close()
}

func labelFilter(runID string) client.Filters {
	label := labelDrill
	if runID != "" {
		label += "=" + runID
	}
	return client.Filters{}.Add("label", label)
}

// Cleanup removes every container, network and volume labelled with
// rollbook.drill=runID, also those of a drill that crashed or was
// interrupted. Objects still being created when it runs are caught by a
// second pass.
func Cleanup(ctx context.Context, runID string) error {
	return cleanup(ctx, runID, 4)
}

// cleanup makes up to passes passes; one is enough when nothing of the
// drill can still be on its way.
func cleanup(ctx context.Context, runID string, passes int) error {
	if runID == "" {
		return errors.New("drillenv: Cleanup needs a run id")
	}
	c, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	var last error
	for pass := 0; pass < passes; pass++ {
		if pass > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("cleaning up drill %s: %w", runID, ctx.Err())
			case <-time.After(time.Duration(pass) * 200 * time.Millisecond):
			}
		}
		removed, err := cleanupOnce(ctx, c, runID)
		last = err
		if err == nil && (removed == 0 || passes == 1) {
			break
		}
	}
	if last != nil {
		return fmt.Errorf("cleaning up drill %s: %w", runID, last)
	}
	left, err := leftovers(ctx, c, runID)
	if err != nil {
		return fmt.Errorf("cleaning up drill %s: %w", runID, err)
	}
	if len(left) > 0 {
		return fmt.Errorf("cleaning up drill %s: still there: %s", runID, strings.Join(left, ", "))
	}
	return nil
}

// cleanupOnce removes what it finds and says how many objects that was.
func cleanupOnce(ctx context.Context, c *client.Client, runID string) (int, error) {
	f := labelFilter(runID)
	cs, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return 0, fmt.Errorf("listing drill containers: %w", err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, ct := range cs.Items {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			_, err := c.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			if err != nil && !errdefs.IsNotFound(err) && !strings.Contains(err.Error(), "already in progress") {
				mu.Lock()
				errs = append(errs, fmt.Errorf("removing container %.12s: %w", id, err))
				mu.Unlock()
			}
		}(ct.ID)
	}
	wg.Wait()
	n := len(cs.Items)
	ns, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return n, errors.Join(append(errs, fmt.Errorf("listing drill networks: %w", err))...)
	}
	for _, nw := range ns.Items {
		n++
		if _, err := c.NetworkRemove(ctx, nw.ID, client.NetworkRemoveOptions{}); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("removing network %s: %w", nw.Name, err))
		}
	}
	vs, err := c.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		return n, errors.Join(append(errs, fmt.Errorf("listing drill volumes: %w", err))...)
	}
	for _, v := range vs.Items {
		n++
		if _, err := c.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("removing volume %s: %w", v.Name, err))
		}
	}
	return n, errors.Join(errs...)
}

// Leftovers lists the containers, networks and volumes still labelled with
// rollbook.drill=runID (with any run id when runID is ""), as
// "container NAME", "network NAME" and "volume NAME".
func Leftovers(ctx context.Context, runID string) ([]string, error) {
	c, err := dockerClient(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return leftovers(ctx, c, runID)
}

func leftovers(ctx context.Context, c *client.Client, runID string) ([]string, error) {
	f := labelFilter(runID)
	var out []string
	cs, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("listing drill containers: %w", err)
	}
	for _, ct := range cs.Items {
		name := ct.ID[:12]
		if len(ct.Names) > 0 {
			name = strings.TrimPrefix(ct.Names[0], "/")
		}
		out = append(out, "container "+name)
	}
	ns, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("listing drill networks: %w", err)
	}
	for _, n := range ns.Items {
		out = append(out, "network "+n.Name)
	}
	vs, err := c.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("listing drill volumes: %w", err)
	}
	for _, v := range vs.Items {
		out = append(out, "volume "+v.Name)
	}
	sort.Strings(out)
	return out, nil
}

// ensureImage makes sure ref is on the engine, pulling it when it is not
// and a registry answers; the error says what to do otherwise.
func ensureImage(ctx context.Context, c *client.Client, ref, hint string) error {
	if imageExists(ctx, c, ref) {
		return nil
	}
	resp, err := c.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err == nil {
		err = resp.Wait(ctx)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("image %s is not on the Docker engine and could not be pulled (%v): %s", ref, err, hint)
	}
	return nil
}

func imageExists(ctx context.Context, c *client.Client, ref string) bool {
	_, err := c.ImageInspect(ctx, ref)
	return err == nil
}
