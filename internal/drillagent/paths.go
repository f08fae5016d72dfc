package drillagent

// The agent's HTTP paths, shared by the agent's roles and their clients
// (the drill environment and the controller's world).
const (
	PathReady    = "/health/ready"   // every role: 200 once it serves
	PathLive     = "/health/live"    // app
	PathMetrics  = "/metrics"        // router: per-release counters
	PathWeights  = "/admin/weights"  // router: GET, PUT {"canary": 0..100}
	PathFailures = "/admin/failures" // router: GET the first failing responses ([]Failure) since the last GET, and forget them
	PathFaults   = "/admin/faults"   // faults: GET, PUT FaultConfig
	// PathUpstreams: router and faults, GET, PUT {"stable": URL, "canary": URL}
	// (faults: "canary" only). Where Argo Rollouts runs the releases, each
	// ReplicaSet is its own address and its traffic-router plugin moves them.
	PathUpstreams = "/admin/upstreams"
	PathRate      = "/admin/rate"  // load: GET, PUT {"rate": n}
	PathStats     = "/stats"       // load: total, failed (5xx or no answer) and answers by code
	PathWarm      = "/admin/warm"  // load: POST warmup.Request, answers warmup.Result
	PathPages     = "/pages"       // pager: POST a page, GET the list
	PathBreak     = "/admin/break" // app: POST {"health": true, "error_rate": x}
	PathState     = "/admin/state" // app: GET
	PathSmoke     = "/smoke"       // app: the demo release's own queries
	PathOrders    = "/api/orders"  // app: the demo traffic
)
