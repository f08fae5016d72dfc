// Package trafficrouter is an Argo Rollouts traffic-router plugin (Argo's
// RPC plugin mechanism, a local binary the controller starts) that sets the
// drill router's weights when Argo sets the canary weight, and points the
// router's stable and canary upstreams at the ReplicaSets Argo names by
// pod-template hash. A Rollout selects it with
//
//	trafficRouting:
//	  plugins:
//	    rollbook/router: {router: "http://127.0.0.1:PORT", faults: "http://127.0.0.1:PORT2", port: 8080}
//
// where router is the drill router's admin address, reached from the host,
// faults the fault injector's in front of the canary (optional: without
// it the router sends the canary's share to the canary itself), and port
// the releases' container port on the drill network.
package trafficrouter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/rollout/trafficrouting/plugin/rpc"
	"github.com/argoproj/argo-rollouts/utils/plugin/types"

	"github.com/rollbook/rollbook/internal/argo/controlplane/nodeagent"
)

// Name is the plugin's name in Argo's ConfigMap and in a Rollout.
const Name = "rollbook/router"

// The drill router's admin paths (internal/drillagent's PathWeights and
// PathUpstreams: this module cannot import rollbook's).
const (
	pathWeights   = "/admin/weights"
	pathUpstreams = "/admin/upstreams"
)

// Config is the Rollout's plugins["rollbook/router"] entry.
type Config struct {
	Router string `json:"router"`
	Faults string `json:"faults,omitempty"`
	Port   int    `json:"port"`
}

// Plugin implements rpc.TrafficRouterPlugin.
type Plugin struct {
	Client *http.Client
}

var _ rpc.TrafficRouterPlugin = (*Plugin)(nil)

// InitPlugin implements rpc.TrafficRouterPlugin.
func (p *Plugin) InitPlugin() types.RpcError {
	if p.Client == nil {
		p.Client = &http.Client{Timeout: 5 * time.Second}
	}
	return types.RpcError{}
}

// Type implements rpc.TrafficRouterPlugin.
func (p *Plugin) Type() string { return Name }

// UpdateHash points the router's upstreams at the ReplicaSets: Argo calls
// it before it shifts weight to a new canary and after a promotion or an
// abort, when the stable hash changes or the canary goes.
func (p *Plugin) UpdateHash(ro *v1alpha1.Rollout, canaryHash, stableHash string, _ []v1alpha1.WeightDestination) types.RpcError {
	cfg, err := config(ro)
	if err != nil {
		return rpcErr(err)
	}
	up := map[string]string{}
	if stableHash != "" {
		up["stable"] = upstream(stableHash, cfg.Port)
	}
	// No canary (promoted or aborted): canary traffic, if any is left,
	// goes to the stable release.
	if canaryHash == "" || canaryHash == stableHash {
		canaryHash = stableHash
	}
	if canaryHash == "" { // neither release known yet
		return types.RpcError{}
	}
	canary := map[string]string{"canary": upstream(canaryHash, cfg.Port)}
	if cfg.Faults == "" {
		maps.Copy(up, canary)
		return rpcErr(p.put(cfg.Router+pathUpstreams, up))
	}
	// The router's canary upstream stays the fault injector, which
	// forwards to the canary: the drill's faults reach Argo's canary.
	if err := p.put(cfg.Faults+pathUpstreams, canary); err != nil || len(up) == 0 {
		return rpcErr(err)
	}
	return rpcErr(p.put(cfg.Router+pathUpstreams, up))
}

// SetWeight implements rpc.TrafficRouterPlugin.
func (p *Plugin) SetWeight(ro *v1alpha1.Rollout, desiredWeight int32, _ []v1alpha1.WeightDestination) types.RpcError {
	cfg, err := config(ro)
	if err != nil {
		return rpcErr(err)
	}
	return rpcErr(p.put(cfg.Router+pathWeights, map[string]int32{"canary": desiredWeight}))
}

// VerifyWeight reads the weight back: the router applies a PUT before it
// answers, so a mismatch means someone else moved it.
func (p *Plugin) VerifyWeight(ro *v1alpha1.Rollout, desiredWeight int32, _ []v1alpha1.WeightDestination) (types.RpcVerified, types.RpcError) {
	cfg, err := config(ro)
	if err != nil {
		return types.NotVerified, rpcErr(err)
	}
	resp, err := p.Client.Get(cfg.Router + pathWeights)
	if err != nil {
		return types.NotVerified, rpcErr(err)
	}
	defer resp.Body.Close()
	var w struct {
		Canary int32 `json:"canary"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&w); err != nil {
		return types.NotVerified, rpcErr(fmt.Errorf("router weights: %w", err))
	}
	if w.Canary != desiredWeight {
		return types.NotVerified, types.RpcError{}
	}
	return types.Verified, types.RpcError{}
}

// SetHeaderRoute implements rpc.TrafficRouterPlugin: the drill router
// splits by weight only, so a plan with header routes is not drilled here.
func (p *Plugin) SetHeaderRoute(*v1alpha1.Rollout, *v1alpha1.SetHeaderRoute) types.RpcError {
	return types.RpcError{ErrorString: "the drill router does not route by header"}
}

// SetMirrorRoute implements rpc.TrafficRouterPlugin (see SetHeaderRoute).
func (p *Plugin) SetMirrorRoute(*v1alpha1.Rollout, *v1alpha1.SetMirrorRoute) types.RpcError {
	return types.RpcError{ErrorString: "the drill router does not mirror traffic"}
}

// RemoveManagedRoutes implements rpc.TrafficRouterPlugin: there are none.
func (p *Plugin) RemoveManagedRoutes(*v1alpha1.Rollout) types.RpcError { return types.RpcError{} }

func config(ro *v1alpha1.Rollout) (Config, error) {
	var cfg Config
	c := ro.Spec.Strategy.Canary
	if c == nil || c.TrafficRouting == nil || c.TrafficRouting.Plugins[Name] == nil {
		return cfg, fmt.Errorf("rollout %s/%s has no trafficRouting.plugins[%q]", ro.Namespace, ro.Name, Name)
	}
	if err := json.Unmarshal(c.TrafficRouting.Plugins[Name], &cfg); err != nil {
		return cfg, fmt.Errorf("rollout %s/%s: trafficRouting.plugins[%q]: %w", ro.Namespace, ro.Name, Name, err)
	}
	if cfg.Router == "" || cfg.Port <= 0 {
		return cfg, fmt.Errorf("rollout %s/%s: trafficRouting.plugins[%q] needs router (the drill router's admin URL) and port", ro.Namespace, ro.Name, Name)
	}
	return cfg, nil
}

func upstream(hash string, port int) string {
	return "http://" + nodeagent.AliasFor(hash) + ":" + strconv.Itoa(port)
}

func (p *Plugin) put(url string, body any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.Client.Do(req)
	if err != nil {
		return fmt.Errorf("drill router: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("drill router: PUT %s %s: %s", url, data, resp.Status)
	}
	return nil
}

func rpcErr(err error) types.RpcError {
	if err == nil {
		return types.RpcError{}
	}
	return types.RpcError{ErrorString: err.Error()}
}
