// Command rollbook-agent is the static binary inside every game-day drill
// container: the demo app, the router, the fault injector, the pager and
// the load generator (see internal/drillagent).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/rollbook/rollbook/internal/drillagent"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := drillagent.Main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
