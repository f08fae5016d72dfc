package controlplane

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiext "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	sigyaml "sigs.k8s.io/yaml"
)

// RolloutsNamespace is where the Argo Rollouts controller reads its
// ConfigMap (its default when it runs outside a pod).
const RolloutsNamespace = "argo-rollouts"

// prepareArgo does what Argo's install manifest does that the controller
// needs before it starts: its CRDs (created, not applied: the Rollout CRD's
// last-applied annotation would pass the 256 KiB limit), its namespace and
// its ConfigMap naming the traffic-router plugins.
func prepareArgo(ctx context.Context, cfg *rest.Config, cs kubernetes.Interface, bin Binaries) error {
	ext, err := apiext.NewForConfig(cfg)
	if err != nil {
		return err
	}
	files, err := filepath.Glob(filepath.Join(bin.RolloutsCRDs, "*.yaml"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no CRD manifests in %s: run `make argo-controlplane`", bin.RolloutsCRDs)
	}
	var names []string
	for _, f := range files {
		crd, err := readCRD(f)
		if err != nil {
			return err
		}
		if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating CRD %s from %s: %w", crd.Name, f, err)
		}
		names = append(names, crd.Name)
	}
	for _, name := range names {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			crd, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			for _, c := range crd.Status.Conditions {
				if c.Type == apiextv1.Established && c.Status == apiextv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("CRD %s not established: %w", name, err)
		}
	}

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: RolloutsNamespace}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "argo-rollouts-config", Namespace: RolloutsNamespace},
		Data:       map[string]string{},
	}
	if len(bin.TrafficRouterPlugins) > 0 {
		cm.Data["trafficRouterPlugins"] = pluginList(bin.TrafficRouterPlugins)
	}
	if _, err := cs.CoreV1().ConfigMaps(RolloutsNamespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// pluginList is the ConfigMap's YAML list of plugins, each a local binary
// (Argo copies a file:// plugin under its plugin-bin/).
func pluginList(plugins map[string]string) string {
	names := make([]string, 0, len(plugins))
	for n := range plugins {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "- name: %q\n  location: %q\n", n, "file://"+plugins[n])
	}
	return b.String()
}

func readCRD(path string) (*apiextv1.CustomResourceDefinition, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := yaml.NewYAMLReader(bufio.NewReader(f)).Read()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var crd apiextv1.CustomResourceDefinition
	if err := sigyaml.UnmarshalStrict(raw, &crd); err != nil {
		return nil, fmt.Errorf("%s is not a CustomResourceDefinition: %w", path, err)
	}
	return &crd, nil
}

// httpOK is a readiness probe: a GET that must answer 200. The control
// plane's endpoints listen on loopback with certificates they made at
// start, before any client could have been told about them, so the probe
// does not verify them; clients do, through the kubeconfig.
func httpOK(ctx context.Context, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	drain(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

var probeClient = &http.Client{
	Timeout:   2 * time.Second,
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
}
