package drillenv

// The drill's Prometheus: a real server that scrapes the router (and the
// releases' own metrics where the plan names them), so the drill sends
// the exported analysis's PromQL to the same engine production runs.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/rollbook/rollbook/internal/metricquery"
)

// The host's Prometheus (Debian's prometheus package) the image is
// assembled from.
const promBin = "/usr/bin/prometheus"

// promRecipe changes whenever the image layout below does.
const promRecipe = "rollbook-prometheus/1"

const (
	promPort   = "9090/tcp"
	promConfig = "/etc/prometheus/prometheus.yml"
	// prometheusName is the container's name in the drill (LogLines).
	prometheusName = "prometheus"
)

// PrometheusImage builds a Prometheus image from the host's Debian
// prometheus install (the server binary and every shared library it
// loads) and returns its reference, rollbook-prometheus:<sha12> over its
// inputs; an existing one is reused.
func PrometheusImage(ctx context.Context) (string, error) {
	st, err := os.Stat(promBin)
	if err != nil {
		return "", fmt.Errorf("no Prometheus server at %s to build the drill's Prometheus image from: install it (apt-get install -y prometheus), or name a registry image with --prometheus-image (for example prom/prometheus:v2.53.0)", promBin)
	}
	files, err := libraries(promBin)
	if err != nil {
		return "", err
	}
	ref := contentTag("rollbook-prometheus", fmt.Sprintf("%s\n%s %d %d\n", promRecipe, promBin, st.Size(), st.ModTime().UnixNano()), files)
	c, built, err := openImage(ctx, ref)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if built {
		return ref, nil
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writePromRootfs(pw, files)) }()
	res, err := c.ImageImport(ctx, client.ImageImportSource{Source: pr, SourceName: "-"}, ref, client.ImageImportOptions{
		Message: "rollbook drill Prometheus from the host's prometheus package",
		Changes: []string{
			"USER 65534:65534",
			"ENV TZ=UTC",
			"EXPOSE 9090",
			"LABEL " + labelManaged + "=true",
			`ENTRYPOINT ["/usr/bin/prometheus"]`,
		},
	})
	if err != nil {
		pr.CloseWithError(err)
		return "", fmt.Errorf("importing the drill Prometheus image %s: %w", ref, err)
	}
	defer res.Close()
	if err := readProgress(ctx, c, "importing", ref, res); err != nil {
		return "", err
	}
	return ref, nil
}

// libraries lists a binary and what ldd says it loads, with the symlinks
// leading to each.
func libraries(bin string) ([]string, error) {
	set := map[string]bool{bin: true}
	if err := addSharedLibraries(set, []string{bin}, bin, "reinstall its package"); err != nil {
		return nil, err
	}
	return sorted(set), nil
}

// writePromRootfs writes the files, a passwd with nobody, and the
// writable folders the server needs (/prometheus for its database, /tmp).
func writePromRootfs(w io.Writer, files []string) error {
	r := newRootfs(w)
	for _, d := range []struct {
		name  string
		mode  int64
		owner int
	}{{"tmp", 0o1777, 0}, {"prometheus", 0o755, 65534}, {"etc", 0o755, 0}, {"etc/prometheus", 0o755, 0}} {
		if err := r.dir(d.name, d.mode, d.owner, d.owner); err != nil {
			return err
		}
	}
	if err := r.hostFiles(files, "the Prometheus image"); err != nil {
		return err
	}
	if err := r.etc("root:x:0:0:root:/root:/nonexistent\nnobody:x:65534:65534:nobody:/prometheus:/nonexistent\n", "root:x:0:\nnogroup:x:65534:\n"); err != nil {
		return err
	}
	return r.Close()
}

// PrometheusOptions says what the drill's Prometheus scrapes.
type PrometheusOptions struct {
	// Image is one built by PrometheusImage or a registry image such as
	// prom/prometheus:v2.53.0. Required.
	Image string
	// Service is the plan's service: the service label of every series,
	// as the exported queries select it.
	Service string
	// ScrapeInterval is how often each target is scraped; the drill scales
	// it with its time so a compressed window still holds several
	// samples. 0 means one second.
	ScrapeInterval time.Duration
	// ServiceMetrics is the path of the releases' own metrics (the plan's
	// metrics:), scraped on both releases at ServicePort; "" scrapes only
	// the router.
	ServiceMetrics string
	ServicePort    int
	// Hashes, when set, are the pod-template hashes of the releases a
	// real controller runs (release "stable" or "canary" to its hash): the
	// router's series of that release carry its hash as the label the
	// exported queries select, and the service's own metrics are scraped
	// from the release's pods (nodeagent's alias rs-HASH). A release
	// without one keeps its name as the label, as in the built-in drill.
	Hashes map[string]string
}

// Prometheus is the drill's running Prometheus.
type Prometheus struct {
	// URL is its HTTP API on the host (http://127.0.0.1:PORT).
	URL string

	env  *Env
	opts PrometheusOptions // guarded by env.mu once started
	// noRouter is set once StopScrapingRouter has run (env.mu).
	noRouter bool
}

// prometheusConfig is the server's configuration for a drill. The
// router's series are renamed to those a Kubernetes service exposes and
// its release label becomes the pod-template hash label Argo Rollouts
// sets, so the exported queries run on them unchanged. router=false
// leaves the router out (the metrics-missing scenario).
func prometheusConfig(o PrometheusOptions, router bool) string {
	iv := o.ScrapeInterval
	if iv <= 0 {
		iv = time.Second
	}
	d := metricquery.Duration(iv)
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: %s\nscrape_configs:\n", d, d, d)
	relabel := `    metric_relabel_configs:
      - {source_labels: [__name__], regex: rollbook_requests_total, target_label: __name__, replacement: ` + metricquery.RequestsTotal + `}
      - {source_labels: [__name__], regex: "rollbook_request_duration_seconds_(bucket|sum|count)", target_label: __name__, replacement: "http_request_duration_seconds_$1"}
      - {source_labels: [release], regex: "(.+)", target_label: ` + metricquery.ReleaseLabel + `}
` + hashRelabel(o.Hashes) + `      - {regex: release, action: labeldrop}
`
	if router {
		fmt.Fprintf(&b, "  - job_name: router\n    static_configs:\n      - targets: [\"router:8080\"]\n        labels: {service: %q}\n%s", o.Service, relabel)
	}
	if o.ServiceMetrics != "" {
		port := o.ServicePort
		if port == 0 {
			port = 8080
		}
		fmt.Fprintf(&b, "  - job_name: service\n    metrics_path: %q\n    static_configs:\n", o.ServiceMetrics)
		for _, rel := range []string{"stable", "canary"} {
			host, label := rel, rel
			if h := o.Hashes[rel]; h != "" {
				host, label = "rs-"+h, h
			}
			fmt.Fprintf(&b, "      - targets: [\"%s:%d\"]\n        labels: {service: %q, %s: %q}\n", host, port, o.Service, metricquery.ReleaseLabel, label)
		}
		// The router counts every request the built-in triggers judge; a
		// service's own series of the same name would count them twice.
		fmt.Fprintf(&b, "    metric_relabel_configs:\n      - {source_labels: [__name__], regex: \"%s|http_request_duration_seconds_.*\", action: drop}\n", metricquery.RequestsTotal)
	}
	return b.String()
}

// StartPrometheus starts the drill's Prometheus on the drill network and
// returns once it is ready and has scraped the router once, so the first
// analysis has data. It is removed with the drill's other containers.
func (e *Env) StartPrometheus(ctx context.Context, o PrometheusOptions) (*Prometheus, error) {
	if o.Image == "" {
		return nil, fmt.Errorf("drillenv: PrometheusOptions.Image is required (build one with PrometheusImage)")
	}
	network, err := e.networkName(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	labels := map[string]string{labelManaged: "true", labelDrill: e.RunID, labelOwner: ownerLabel()}
	ct, err := testcontainers.Run(ctx, o.Image,
		testcontainers.WithLogger(tcLogger{e.log}),
		testcontainers.WithLabels(labels),
		tcnetwork.WithNetworkName([]string{prometheusName}, network),
		testcontainers.WithName(fmt.Sprintf("rollbook-%s-%s", e.RunID, prometheusName)),
		testcontainers.WithExposedPorts(promPort),
		testcontainers.WithFiles(testcontainers.ContainerFile{Reader: strings.NewReader(prometheusConfig(o, true)), ContainerFilePath: promConfig, FileMode: 0o644}),
		testcontainers.WithCmd("--config.file="+promConfig, "--storage.tsdb.path=/prometheus", "--storage.tsdb.retention.time=2h",
			"--web.listen-address=:9090", "--web.enable-lifecycle", "--log.level=warn"),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/-/ready").WithPort(promPort).WithPollInterval(50*time.Millisecond).WithStartupTimeout(60*time.Second)),
	)
	if ct != nil {
		e.mu.Lock()
		e.containers[prometheusName] = ct
		e.mu.Unlock()
	}
	if err != nil {
		return nil, fmt.Errorf("starting %s (%s): %w%s", prometheusName, o.Image, startErr(ctx, err), logSuffix(ctx, ct))
	}
	u, err := ct.PortEndpoint(ctx, promPort, "http")
	if err != nil {
		return nil, fmt.Errorf("finding the Prometheus port on the host: %w", err)
	}
	p := &Prometheus{URL: u, env: e, opts: o}
	if err := p.waitScraped(ctx, "router"); err != nil {
		return nil, fmt.Errorf("%w%s", err, logSuffix(ctx, ct))
	}
	e.log.Debug("prometheus ready", "drill", e.RunID, "url", u, "took", time.Since(start).Round(time.Millisecond))
	return p, nil
}

// networkName finds the drill's network by its label.
func (e *Env) networkName(ctx context.Context) (string, error) {
	c, err := dockerClient(ctx)
	if err != nil {
		return "", err
	}
	defer c.Close()
	ns, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: labelFilter(e.RunID)})
	if err != nil {
		return "", fmt.Errorf("finding the drill network: %w", err)
	}
	if len(ns.Items) != 1 {
		return "", fmt.Errorf("finding the drill network of %s: %d networks carry its label", e.RunID, len(ns.Items))
	}
	return ns.Items[0].Name, nil
}

// waitScraped waits until the job's targets have been scraped up.
func (p *Prometheus) waitScraped(ctx context.Context, job string) error {
	api, err := metricquery.NewClient(p.URL)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	q := `up{job="` + job + `"} == 1`
	for {
		v, err := api.Query(ctx, q, time.Now())
		if err == nil && len(v) > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("prometheus did not scrape the %s (query %s: %v)", job, q, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// hashRelabel are the relabelling rules that give each release's series
// its pod-template hash, after the rule that copies the release's name.
func hashRelabel(hashes map[string]string) string {
	var b strings.Builder
	for _, rel := range []string{"stable", "canary"} {
		if h := hashes[rel]; h != "" {
			fmt.Fprintf(&b, "      - {source_labels: [release], regex: %q, target_label: %s, replacement: %q}\n", rel, metricquery.ReleaseLabel, h)
		}
	}
	return b.String()
}

// StopScrapingRouter reloads the configuration without the router, so its
// series go stale and the analysis has no data: what a scrape target
// that disappears looks like in production.
func (p *Prometheus) StopScrapingRouter(ctx context.Context) error {
	p.env.mu.Lock()
	p.noRouter = true
	o := p.opts
	p.env.mu.Unlock()
	return p.reload(ctx, o, false)
}

// SetHashes labels the releases' series from now on with their
// pod-template hashes (PrometheusOptions.Hashes), as a real controller
// names them once it has made their ReplicaSets; a series already scraped
// keeps its labels.
func (p *Prometheus) SetHashes(ctx context.Context, hashes map[string]string) error {
	p.env.mu.Lock()
	p.opts.Hashes = maps.Clone(hashes)
	o, router := p.opts, !p.noRouter
	p.env.mu.Unlock()
	return p.reload(ctx, o, router)
}

// reload writes the configuration for o and tells the server to read it.
func (p *Prometheus) reload(ctx context.Context, o PrometheusOptions, router bool) error {
	p.env.mu.Lock()
	ct := p.env.containers[prometheusName]
	p.env.mu.Unlock()
	if ct == nil {
		return fmt.Errorf("no Prometheus container in this drill")
	}
	if err := ct.CopyToContainer(ctx, []byte(prometheusConfig(o, router)), promConfig, 0o644); err != nil {
		return fmt.Errorf("writing the Prometheus configuration: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL+"/-/reload", bytes.NewReader(nil))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reloading Prometheus: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 2000))
		return fmt.Errorf("reloading Prometheus: %s: %s", resp.Status, b)
	}
	return nil
}
