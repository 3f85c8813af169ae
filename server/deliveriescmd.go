package server

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
)

const deliveriesUsage = `Usage: nuttx-feed deliveries retry [flags] HOST

  retry HOST   closes the delivery breaker of HOST's server (a host name, or an inbox
               URL): what is held or parked after its repeated failures goes out again

Run "nuttx-feed deliveries retry --help" for the flags.
`

// runDeliveries is `nuttx-feed deliveries retry HOST`.
func runDeliveries(args []string, stdout, stderr io.Writer) int {
	if _, code, ok := subcommand("deliveries", deliveriesUsage, []string{"retry"}, args, stdout, stderr); !ok {
		return code
	}
	var cfg Config
	cmd := newCommand("deliveries retry", &cfg)
	if err := cmd.parseAndCheck(args[1:], stdout, &cfg, "HOST"); err != nil {
		return usageError(stderr, "deliveries retry", err)
	}
	ctx := context.Background()
	log, st, svc, ok := startCommand(ctx, &cfg, stderr)
	if !ok {
		return 1
	}
	defer st.Close()
	domain, revived, err := svc.RetryHost(ctx, cmd.fs.Arg(0))
	switch {
	case errors.Is(err, activitypub.ErrInvalid):
		return usageError(stderr, "deliveries retry", err)
	case err != nil:
		log.Error("cannot release the deliveries", "err", err)
		return 1
	case revived:
		fmt.Fprintf(stdout, "%s: its held deliveries go out again (a running server sends them within a second)\n", domain)
	default:
		fmt.Fprintf(stdout, "%s: nothing was held; deliveries to it go out as usual\n", domain)
	}
	return 0
}
