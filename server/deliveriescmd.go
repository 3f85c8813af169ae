package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

const deliveriesUsage = `Usage: nuttx-feed deliveries [list] [flags]
       nuttx-feed deliveries retry [flags] HOST

  list         shows the delivery queue per server: pending, next attempt, breaker, last
               error (--failed: only the servers failing now); the default
  retry HOST   closes the delivery breaker of HOST's server (a host name, or an inbox
               URL): what is held or parked after its repeated failures goes out again

Run "nuttx-feed deliveries list --help" or "nuttx-feed deliveries retry --help" for the flags.
`

// runDeliveries is `nuttx-feed deliveries [list] [--failed]` and
// `nuttx-feed deliveries retry HOST`.
func runDeliveries(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && !slices.Contains([]string{"-h", "-help", "--help"}, args[0]) {
		return runDeliveriesList(args, stdout, stderr) // bare, or flags only: the list
	}
	sub, code, ok := subcommand("deliveries", deliveriesUsage, []string{"list", "retry"}, args, stdout, stderr)
	if !ok {
		return code
	}
	if sub == "list" {
		return runDeliveriesList(args[1:], stdout, stderr)
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

// hostRow is a server as deliveries list prints it.
type hostRow struct {
	Host        string     `json:"host"` // registrable domain
	Pending     int        `json:"pending"`
	Retrying    int        `json:"retrying"` // pending ones that failed at least once
	NextAttempt *time.Time `json:"next_attempt"`
	Breaker     string     `json:"breaker"` // closed, failing, held or parked
	Failures    int        `json:"failures_in_a_row"`
	NextProbe   *time.Time `json:"next_probe"` // while held
	LastError   string     `json:"last_error"` // of the last failed attempt
	LastErrorAt *time.Time `json:"last_error_at"`
	Failing     bool       `json:"failing"` // what --failed keeps
}

// newHostRow describes h.
func newHostRow(h store.HostStatus) hostRow {
	r := hostRow{Host: h.Domain, Pending: h.Pending, Retrying: h.Retrying, NextAttempt: timeOrNil(h.NextAttempt),
		Breaker: "closed", Failures: h.Failures, NextProbe: timeOrNil(h.NextProbe),
		LastError: failure(h.LastStatus, h.LastError), LastErrorAt: timeOrNil(h.LastErrAt), Failing: h.Failing()}
	if h.Breaker != "" {
		r.Breaker = h.Breaker
	}
	if h.Breaker == store.HostHeld || h.Breaker == store.HostParked { // they wait for the breaker, not for their time
		r.NextAttempt = timeOrNil(h.NextProbe)
	}
	return r
}

// cells are r's columns.
func (r hostRow) cells() []string {
	next, breaker, lastErr := "-", r.Breaker, "-"
	if r.NextAttempt != nil {
		next = shownTime(*r.NextAttempt)
	}
	switch {
	case r.Breaker == store.HostFailing:
		breaker = fmt.Sprintf("failing (%d in a row)", r.Failures)
	case r.Breaker == store.HostHeld && r.NextProbe != nil:
		breaker = "held (probe " + shownTime(*r.NextProbe) + ")"
	}
	if r.LastErrorAt != nil {
		lastErr = truncated(r.LastError) + " at " + shownTime(*r.LastErrorAt)
	}
	return []string{r.Host, fmt.Sprint(r.Pending), next, breaker, lastErr}
}

// runDeliveriesList is `nuttx-feed deliveries [list] [--failed]`.
func runDeliveriesList(args []string, stdout, stderr io.Writer) int {
	var failed bool
	a, code, ok := startAdmin("deliveries list", "", args, stdout, stderr, func(c *command) {
		c.addBool(&failed, "failed", "only the servers whose deliveries fail now")
	})
	if !ok {
		return code
	}
	defer a.close()
	var hosts []store.HostStatus
	if err := a.view(func(tx *store.Tx) (err error) { hosts, err = tx.HostStatuses(); return err }); err != nil {
		return a.fail(err, "cannot read the delivery queue")
	}
	var rows []hostRow
	for _, h := range hosts {
		if r := newHostRow(h); r.Failing || !failed {
			rows = append(rows, r)
		}
	}
	empty := "No deliveries."
	if failed {
		empty = "No server's deliveries are failing."
	}
	return printRows(a, rows, []string{"HOST", "PENDING", "NEXT ATTEMPT", "BREAKER", "LAST ERROR"}, hostRow.cells, empty)
}
