package drillenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// ReleaseSpec says where a release's image comes from: a tag on the
// engine (Image), or a Docker build of Context (absolute) with Dockerfile
// and Args.
type ReleaseSpec struct {
	Release    string // stable, canary or a dependency's name, for messages
	Image      string
	Context    string
	Dockerfile string
	Args       map[string]string
	// Tag names a built image (default rollbook-build:<hash of the inputs>).
	Tag string
}

// Image is a release image on the engine.
type Image struct {
	Release string
	Ref     string // the tag
	ID      string // the engine's image ID
	Built   string // "built from DIR/Dockerfile" for a build, else ""
}

// ReleaseImage returns the image of one release: an image named by tag
// must be on the engine (or pullable); a build runs with testcontainers'
// FromDockerfile and, when it fails, the error holds the build log's last
// lines.
func ReleaseImage(ctx context.Context, spec ReleaseSpec) (Image, error) {
	c, err := dockerClient(ctx)
	if err != nil {
		return Image{}, err
	}
	defer c.Close()
	if spec.Image != "" {
		if err := ensureReleaseImage(ctx, c, spec); err != nil {
			return Image{}, err
		}
		return inspect(ctx, c, spec.Release, spec.Image, "")
	}
	return buildRelease(ctx, c, spec)
}

func ensureReleaseImage(ctx context.Context, c *client.Client, spec ReleaseSpec) error {
	if imageExists(ctx, c, spec.Image) {
		return nil
	}
	// A registry may not answer at all here: the pull gets 20 seconds.
	pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	resp, err := c.ImagePull(pctx, spec.Image, client.ImagePullOptions{})
	if err == nil {
		err = resp.Wait(pctx)
	}
	if err == nil && imageExists(ctx, c, spec.Image) {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("the %s release's image %s is not on the Docker engine and could not be pulled (%v): build it (docker build -t %s DIR) or load it (docker load -i FILE.tar), or give gameday.service.%s a build: {context: DIR}",
		spec.Release, spec.Image, err, spec.Image, spec.Release)
}

func inspect(ctx context.Context, c *client.Client, release, ref, built string) (Image, error) {
	res, err := c.ImageInspect(ctx, ref)
	if err != nil {
		return Image{}, fmt.Errorf("inspecting the %s release's image %s: %w", release, ref, err)
	}
	return Image{Release: release, Ref: ref, ID: res.ID, Built: built}, nil
}

// buildMu serialises builds: two drills building one context at once
// would only compete for the two cores.
var buildMu sync.Mutex

func buildRelease(ctx context.Context, c *client.Client, spec ReleaseSpec) (Image, error) {
	dockerfile := spec.Dockerfile
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	st, err := os.Stat(spec.Context)
	if err != nil || !st.IsDir() {
		return Image{}, fmt.Errorf("the %s release's build context %s is not a folder: fix gameday.service.%s.build.context (relative to the plan)", spec.Release, spec.Context, spec.Release)
	}
	df := filepath.Join(spec.Context, filepath.FromSlash(dockerfile))
	if _, err := os.Stat(df); err != nil {
		return Image{}, fmt.Errorf("the %s release's Dockerfile %s does not exist: add it, or set gameday.service.%s.build.dockerfile to its path inside the context", spec.Release, df, spec.Release)
	}
	tag := spec.Tag
	if tag == "" {
		h := sha256.New()
		fmt.Fprintf(h, "%s\n%s\n", spec.Context, dockerfile)
		keys := make([]string, 0, len(spec.Args))
		for k := range spec.Args {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(h, "%s=%s\n", k, spec.Args[k])
		}
		// Named after the folder and release, so a report reads
		// rollbook-build/example-orders-canary:…; tagged by its inputs.
		tag = "rollbook-build/" + repoName(filepath.Base(spec.Context)+"-"+spec.Release) + ":" + hex.EncodeToString(h.Sum(nil))[:12]
	}
	i := strings.LastIndexByte(tag, ':')
	repo, version := tag, ""
	if i > strings.LastIndexByte(tag, '/') {
		repo, version = tag[:i], tag[i+1:]
	}
	if version == "" {
		version = "latest"
	}
	args := map[string]*string{}
	for k, v := range spec.Args {
		args[k] = &v
	}
	log := &lastLines{max: 20}
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return Image{}, fmt.Errorf("building the %s release: %w", spec.Release, err)
	}
	defer p.Close()
	buildMu.Lock()
	defer buildMu.Unlock()
	bctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	_, err = p.BuildImage(bctx, &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		Context: spec.Context, Dockerfile: dockerfile, BuildArgs: args, Repo: repo, Tag: version, KeepImage: true,
		BuildLogWriter: log,
		BuildOptionsModifier: func(o *client.ImageBuildOptions) {
			o.Labels = map[string]string{labelManaged: "true"}
		},
	}})
	if err != nil {
		if ctx.Err() != nil {
			return Image{}, ctx.Err()
		}
		return Image{}, fmt.Errorf("building the %s release from %s failed: %w\nlast lines of the build log:\n%s", spec.Release, df, err, log.String())
	}
	return inspect(ctx, c, spec.Release, tag, "built from "+df)
}

// repoName makes s a valid image repository name component.
func repoName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-._")
}
