// Package argoengine is what rollbook's drill needs to run a plan with the
// real Argo Rollouts controller, without Kubernetes or Argo in rollbook's
// own go.mod: it starts the drill's cluster (internal/argo/controlplane's
// rollbook-cluster, a child process), talks to its API server over plain
// HTTP and JSON with the kubeconfig's token and authority, prepares the
// manifests `rollbook export argo` writes for the drill, and reads back
// the Rollout, its AnalysisRuns and its pods.
package argoengine

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Client is a client of one Kubernetes API server, as a kubeconfig's
// current context names it (server, bearer token, certificate authority).
type Client struct {
	Server    string
	Namespace string
	token     string
	http      *http.Client
}

// kubeconfig is the part of a kubeconfig file the drill reads.
type kubeconfig struct {
	CurrentContext string `yaml:"current-context"`
	Clusters       []struct {
		Name    string `yaml:"name"`
		Cluster struct {
			Server string `yaml:"server"`
			CAData string `yaml:"certificate-authority-data"`
		} `yaml:"cluster"`
	} `yaml:"clusters"`
	Users []struct {
		Name string `yaml:"name"`
		User struct {
			Token string `yaml:"token"`
		} `yaml:"user"`
	} `yaml:"users"`
	Contexts []struct {
		Name    string `yaml:"name"`
		Context struct {
			Cluster   string `yaml:"cluster"`
			User      string `yaml:"user"`
			Namespace string `yaml:"namespace"`
		} `yaml:"context"`
	} `yaml:"contexts"`
}

// NewClient reads the kubeconfig at path: its current context's server,
// token and certificate authority. Only token authentication is read:
// rollbook-cluster writes no other.
func NewClient(path string) (*Client, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the drill cluster's kubeconfig: %w", err)
	}
	var kc kubeconfig
	if err := yaml.Unmarshal(data, &kc); err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	c := &Client{Namespace: "default"}
	var cluster, user string
	for _, x := range kc.Contexts {
		if x.Name == kc.CurrentContext {
			cluster, user = x.Context.Cluster, x.Context.User
			if x.Context.Namespace != "" {
				c.Namespace = x.Context.Namespace
			}
		}
	}
	if cluster == "" {
		return nil, fmt.Errorf("kubeconfig %s: no context %q", path, kc.CurrentContext)
	}
	pool := x509.NewCertPool()
	for _, x := range kc.Clusters {
		if x.Name != cluster {
			continue
		}
		c.Server = strings.TrimRight(x.Cluster.Server, "/")
		ca, err := base64.StdEncoding.DecodeString(x.Cluster.CAData)
		if err != nil || !pool.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("kubeconfig %s: cluster %s has no readable certificate-authority-data", path, cluster)
		}
	}
	for _, x := range kc.Users {
		if x.Name == user {
			c.token = x.User.Token
		}
	}
	if c.Server == "" || c.token == "" {
		return nil, fmt.Errorf("kubeconfig %s: context %s needs a cluster server and a user token", path, kc.CurrentContext)
	}
	c.http = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return c, nil
}

// NewClientFor is a client of server with token over client (a test's
// httptest server).
func NewClientFor(server, token string, client *http.Client) *Client {
	return &Client{Server: strings.TrimRight(server, "/"), Namespace: "default", token: token, http: client}
}

// StatusError is the API server's refusal.
type StatusError struct {
	Method, Path string
	Code         int
	Reason       string // the Status's reason: NotFound, AlreadyExists, Invalid…
	Message      string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Code, e.Reason, e.Message)
}

// IsNotFound reports whether err is the API server's 404.
func IsNotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == http.StatusNotFound
}

// do sends one request; out, when set, receives the JSON answer.
func (c *Client) do(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.Server+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		se := &StatusError{Method: method, Path: path, Code: resp.StatusCode, Message: strings.TrimSpace(string(data))}
		var st struct{ Reason, Message string }
		if json.Unmarshal(data, &st) == nil && st.Message != "" {
			se.Reason, se.Message = st.Reason, st.Message
		}
		return se
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// Get reads the object at path into out.
func (c *Client) Get(ctx context.Context, path string, out any) error {
	return c.do(ctx, http.MethodGet, path, "", nil, out)
}

// Create posts obj to the collection at path.
func (c *Client) Create(ctx context.Context, path string, obj any) error {
	body, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, path, "application/json", body, nil)
}

// PatchJSON applies a JSON patch (RFC 6902) to the object at path.
func (c *Client) PatchJSON(ctx context.Context, path string, ops []PatchOp) error {
	body, err := json.Marshal(ops)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPatch, path, "application/json-patch+json", body, nil)
}

// PatchOp is one operation of a JSON patch.
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// Paths of the objects a drill reads and writes, in the client's namespace.
func (c *Client) RolloutPath(name string) string {
	return "/apis/argoproj.io/v1alpha1/namespaces/" + c.Namespace + "/rollouts/" + name
}

func (c *Client) RolloutsPath() string {
	return "/apis/argoproj.io/v1alpha1/namespaces/" + c.Namespace + "/rollouts"
}

func (c *Client) AnalysisTemplatesPath() string {
	return "/apis/argoproj.io/v1alpha1/namespaces/" + c.Namespace + "/analysistemplates"
}

func (c *Client) AnalysisRunsPath() string {
	return "/apis/argoproj.io/v1alpha1/namespaces/" + c.Namespace + "/analysisruns"
}

func (c *Client) PodsPath() string { return "/api/v1/namespaces/" + c.Namespace + "/pods" }
