package gameday

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rollbook/rollbook/internal/drillreport"
)

// warmUp sends the canary the traffic mix straight, past the router, until
// its latency stops falling, before step 1 gives it weighted traffic.
//
// A drill compresses time: a 3-minute window is a second or two, and the
// first step's weight is raised so that window holds min_requests. A cold
// release (an empty connection pool, caches not yet filled, a runtime not
// yet grown) answers its first hundred requests slowly; in production those
// are a sliver of a 3-minute window at 1 %, in the drill they are the
// window, and a healthy canary would fire a latency trigger on a busy
// machine. The warm-up is in the timeline with what it saw; no analysis
// and no figure of what users saw counts it, because the router never
// sees it.
func (c *Controller) warmUp(ctx context.Context) {
	if c.Warmer == nil {
		return
	}
	w, err := c.Warmer.WarmCanary(ctx)
	if err != nil {
		c.record(Event{Type: drillreport.EventAction, Action: drillreport.ActionWarmedUp, Error: err.Error(), Message: "canary warm-up failed (the drill goes on, cold): " + err.Error()})
		return
	}
	c.record(Event{Type: drillreport.EventAction, Action: drillreport.ActionWarmedUp, Warmup: &w, Message: warmupText(w)})
}

func warmupText(w drillreport.Warmup) string {
	var b strings.Builder
	fmt.Fprintf(&b, "canary warmed up past the router (not in the analysis or in what users saw): %d requests", w.Requests)
	if w.Failed > 0 {
		fmt.Fprintf(&b, ", %d failed", w.Failed)
	}
	fmt.Fprintf(&b, " in %s", w.Took.Round(time.Millisecond))
	if n := len(w.P99); n > 0 {
		fmt.Fprintf(&b, ", p99 per batch %s", w.P99[0].Round(time.Millisecond))
		if n > 1 {
			fmt.Fprintf(&b, " → %s", w.P99[n-1].Round(time.Millisecond))
		}
	}
	if !w.Settled {
		b.WriteString("; still falling when the warm-up's time was up")
	}
	return b.String()
}
