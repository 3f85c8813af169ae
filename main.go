// Command nuttx-feed is a self-hosted ActivityPub bot server that posts
// failed Apache NuttX builds to the Fediverse. See README.md.
package main

import (
	"os"

	"github.com/nuttx-feed/nuttx-feed/server"
)

func main() {
	os.Exit(server.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
