// Package servetest starts `nuttx-feed serve` for tests and the benchmark
// programs and learns where it listens from its log, so that they can pass
// --listen 127.0.0.1:0 and never pick a port, release it and hope to bind
// it again; and it seeds a data folder with followers.
package servetest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// Start starts cmd, a `nuttx-feed serve` (its stderr must be unset), and
// waits up to timeout for its "nuttx-feed started ... listen=ADDR" log line
// (text or JSON): it returns ADDR, the address the server is bound to. The
// rest of the log is read and discarded, so that the server never blocks
// on a full pipe.
func Start(cmd *exec.Cmd, timeout time.Duration) (string, error) {
	if cmd.Stderr != nil {
		return "", errors.New("servetest: cmd.Stderr is set")
	}
	r, w, err := os.Pipe()
	if err != nil {
		return "", err
	}
	cmd.Stderr = w // a file: no copying goroutine in os/exec
	err = cmd.Start()
	w.Close() // the child has its own copy
	if err != nil {
		r.Close()
		return "", err
	}
	type result struct {
		addr string
		log  []string
	}
	found := make(chan result, 1)
	go func() {
		var seen []string
		lines := bufio.NewScanner(r)
		for lines.Scan() {
			if addr, ok := StartedAddr(lines.Text()); ok {
				found <- result{addr: addr}
				io.Copy(io.Discard, r)
				r.Close()
				return
			}
			seen = append(seen, lines.Text())
		}
		found <- result{log: seen} // the server exited (or wrote a line too long to scan)
		io.Copy(io.Discard, r)
		r.Close()
	}()
	select {
	case res := <-found:
		if res.addr == "" {
			return "", fmt.Errorf("%s exited before it started:\n%s", cmd.Path, strings.Join(res.log, "\n"))
		}
		return res.addr, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("%s: no \"nuttx-feed started\" line within %v", cmd.Path, timeout)
	}
}

// NewData makes a data folder with a bot, as a first `serve` does: it
// runs bin (a nuttx-feed binary) serve on dir with baseURL until it has
// started, then stops it. Other commands need such a folder.
func NewData(bin, dir, baseURL string) error {
	cmd := exec.Command(bin, "serve", "--data", dir, "--base-url", baseURL, "--listen", "127.0.0.1:0", "--prometheus-url", "")
	if _, err := Start(cmd, 20*time.Second); err != nil {
		if cmd.Process != nil { // it started, then failed or hung
			cmd.Process.Kill()
			cmd.Wait()
		}
		return err
	}
	cmd.Process.Signal(syscall.SIGTERM)
	return cmd.Wait()
}

var listenAttr = regexp.MustCompile(` listen=(\S+)`)

// StartedAddr returns the listen=ADDR of a "nuttx-feed started" log line,
// in the text or the JSON format.
func StartedAddr(line string) (string, bool) {
	if strings.HasPrefix(line, "{") {
		var rec struct{ Msg, Listen string }
		if json.Unmarshal([]byte(line), &rec) != nil || rec.Msg != "nuttx-feed started" {
			return "", false
		}
		return rec.Listen, rec.Listen != ""
	}
	if !strings.Contains(line, ` msg="nuttx-feed started" `) {
		return "", false
	}
	m := listenAttr.FindStringSubmatch(line)
	if m == nil {
		return "", false
	}
	if addr, err := strconv.Unquote(m[1]); err == nil {
		return addr, true
	}
	return m[1], true
}

// AddFollowers makes each inbox (a personal inbox; its actor is
// inbox+"#actor") follow the bot username in the database of data folder
// dir, written through the store as Follows are, and returns the bot's
// public key (PEM) for checking what the server signs.
func AddFollowers(dir, username string, inboxes []string) (string, error) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, store.FileName), store.Options{})
	if err != nil {
		return "", err
	}
	defer st.Close()
	var pub string
	err = st.Update(ctx, func(tx *store.Tx) error {
		a, err := tx.Actor(username)
		if err != nil {
			return err
		}
		pub = a.PublicKeyPEM
		for _, inbox := range inboxes {
			f := store.Follower{ActorID: a.ID, IRI: inbox + "#actor", Inbox: inbox, FollowID: inbox + "#follow"}
			if err := tx.SaveFollower(f); err != nil {
				return err
			}
		}
		return nil
	})
	return pub, err
}
