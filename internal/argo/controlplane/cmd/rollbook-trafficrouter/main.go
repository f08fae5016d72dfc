// Command rollbook-trafficrouter is the Argo Rollouts traffic-router
// plugin of a drill (package trafficrouter); the controller starts it.
package main

import (
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/argoproj/argo-rollouts/rollout/trafficrouting/plugin/rpc"

	"github.com/rollbook/rollbook/internal/argo/controlplane/trafficrouter"
)

func main() {
	goplugin.Serve(&goplugin.ServeConfig{
		// Argo's handshake for traffic-router plugins.
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  1,
			MagicCookieKey:   "ARGO_ROLLOUTS_RPC_PLUGIN",
			MagicCookieValue: "trafficrouter",
		},
		Plugins: map[string]goplugin.Plugin{
			"RpcTrafficRouterPlugin": &rpc.RpcTrafficRouterPlugin{Impl: &trafficrouter.Plugin{}},
		},
	})
}
