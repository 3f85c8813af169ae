package server

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

// runHealthcheck is `nuttx-feed healthcheck`: /health of the server that
// listens on --listen, for Docker's HEALTHCHECK on an image without curl.
func runHealthcheck(args []string, stdout, stderr io.Writer) int {
	var cfg Config
	cmd := newCommand("healthcheck", &cfg)
	if err := cmd.parseAndCheck(args, stdout, &cfg, ""); err != nil {
		return usageError(stderr, "healthcheck", err)
	}
	host, port, _ := net.SplitHostPort(cfg.Listen) // validated
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1" // listening on every address: ask over loopback
	}
	target := "http://" + net.JoinHostPort(host, port) + urls.Health.Path()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(target)
	if err != nil {
		fmt.Fprintf(stderr, "nuttx-feed healthcheck: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	fmt.Fprintln(stdout, strings.TrimSpace(string(body)))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "nuttx-feed healthcheck: %s answered HTTP %d\n", target, resp.StatusCode)
		return 1
	}
	return 0
}
