package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// The operator's commands on a bot's data: followers, block, delete,
// deliveries (list) and token. Each reads or changes the database, also
// while the server runs (writes go through the store like the server's
// own; the server sees them at once, or wakes on them through the
// write-ahead log), and prints aligned columns, or with --json a JSON
// array of objects with stable snake_case keys.

const followersUsage = `Usage: nuttx-feed followers list|remove [flags] [ACTOR]

  list           lists the followers: handle, actor id, server, since, last delivery
  remove ACTOR   removes a follower (actor id or @user@host): a Reject of their Follow
                 goes to their server and nothing more is delivered to them

Run "nuttx-feed followers list --help" for the flags.
`

const blockUsage = `Usage: nuttx-feed block add|remove|list [flags] [DOMAIN]

  add DOMAIN      blocks a server and its subdomains: its followers are removed, its
                  follows and requests refused (401), nothing sent to it or fetched from it
  remove DOMAIN   lifts a block
  list            lists the blocked servers

Run "nuttx-feed block add --help" for the flags.
`

const tokenUsage = `Usage: nuttx-feed token create|list|revoke [flags] [NAME]

  create NAME   makes a token for the API and the webhooks and prints it once
  list          lists the tokens (never the tokens themselves)
  revoke NAME   deletes a token

Run "nuttx-feed token create --help" for the flags.
`

// jsonHelp is the help of every admin command's --json.
const jsonHelp = "print a JSON array of objects (stable snake_case keys) instead of aligned columns"

// admin is an admin command under way: its flags read, its database open.
type admin struct {
	name           string // "followers list", ...
	json           bool   // --json
	arg            string // the positional argument, if the command takes one
	log            *slog.Logger
	st             *store.Store
	svc            *activitypub.Service
	stdout, stderr io.Writer
}

// startAdmin starts the admin command name: it reads args (--json, the
// settings data and log-format, the flags that more adds, and the one
// positional argument named arg, or none when arg is ""), then opens the
// database, which must exist. When it cannot, it has said why and returns
// the exit status, with ok false.
func startAdmin(name, arg string, args []string, stdout, stderr io.Writer, more func(*command)) (a *admin, code int, ok bool) {
	var cfg Config
	a = &admin{name: name, stdout: stdout, stderr: stderr}
	cmd := newCommand(name, &cfg)
	cmd.addBool(&a.json, "json", jsonHelp)
	if more != nil {
		more(cmd)
	}
	if err := cmd.parseAndCheck(args, stdout, &cfg, arg); err != nil {
		return nil, usageError(stderr, name, err), false
	}
	a.arg = cmd.fs.Arg(0)
	if a.log, a.st, a.svc, ok = startCommand(context.Background(), &cfg, stderr); !ok {
		return nil, 1, false
	}
	return a, 0, true
}

// close closes the database.
func (a *admin) close() { a.st.Close() }

// fail reports err and returns the exit status: bad input (malformed,
// unknown, taken) as one line and 2, anything else in the log and 1.
func (a *admin) fail(err error, what string) int {
	if errors.Is(err, activitypub.ErrInvalid) || errors.Is(err, activitypub.ErrNotFound) || errors.Is(err, store.ErrExists) {
		return usageError(a.stderr, a.name, err)
	}
	a.log.Error(what, "err", err)
	return 1
}

// view reads from the database for the command.
func (a *admin) view(fn func(*store.Tx) error) error { return a.st.View(context.Background(), fn) }

// done prints what an action did: the sentence for people (made of what
// we checked or cleaned already), or row as a JSON array of one object.
func (a *admin) done(row any, sentence string) int {
	if a.json {
		return a.printJSON([]any{row})
	}
	fmt.Fprintln(a.stdout, sentence)
	return 0
}

// printJSON prints v (an array) indented.
func (a *admin) printJSON(v any) int {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		a.log.Error("cannot print", "err", err)
		return 1
	}
	return 0
}

// printRows prints rows: with --json as a JSON array (empty, not null,
// when there are none), else as aligned columns under header, each row's
// cells made by cells, or the line empty when there are none.
func printRows[T any](a *admin, rows []T, header []string, cells func(T) []string, empty string) int {
	if a.json {
		if rows == nil {
			rows = []T{}
		}
		return a.printJSON(rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(a.stdout, empty)
		return 0
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		cs := cells(r)
		for i := range cs {
			cs[i] = clean(cs[i])
		}
		fmt.Fprintln(tw, strings.Join(cs, "\t"))
	}
	if err := tw.Flush(); err != nil {
		a.log.Error("cannot print", "err", err)
		return 1
	}
	return 0
}

// clean makes text from other servers (error messages, names) safe for a
// terminal and for columns: control characters (escape sequences, tabs,
// newlines) become U+FFFD.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return unicode.ReplacementChar
		}
		return r
	}, s)
}

// timeOrNil is t for JSON: null when zero.
func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// shownTime is t in a column: RFC 3339 in UTC, "-" when zero.
func shownTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// failure names a failed attempt: its error, or the HTTP status answered.
func failure(status int, err string) string {
	switch {
	case err != "":
		return err
	case status != 0:
		return fmt.Sprintf("HTTP %d", status)
	}
	return ""
}

// adminSub is a subcommand of a group of admin commands: its name, its
// positional argument ("" for none) and what it does.
type adminSub struct {
	name, arg string
	run       func(*admin) int
	flags     func(*command) // adds the subcommand's own flags; nil: none
}

// runAdminGroup runs the subcommand args[0] of group (followers, block,
// token), one of subs; usage is the group's.
func runAdminGroup(group, usage string, subs []adminSub, args []string, stdout, stderr io.Writer) int {
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.name
	}
	name, code, ok := subcommand(group, usage, names, args, stdout, stderr)
	if !ok {
		return code
	}
	sub := subs[slices.Index(names, name)]
	a, code, ok := startAdmin(group+" "+name, sub.arg, args[1:], stdout, stderr, sub.flags)
	if !ok {
		return code
	}
	defer a.close()
	return sub.run(a)
}

// runFollowers is `nuttx-feed followers list|remove`.
func runFollowers(args []string, stdout, stderr io.Writer) int {
	return runAdminGroup("followers", followersUsage, []adminSub{
		{"list", "", (*admin).listFollowers, nil},
		{"remove", "ACTOR", (*admin).removeFollower, nil},
	}, args, stdout, stderr)
}

// followerRow is a follower as followers list prints it.
type followerRow struct {
	Handle         string     `json:"handle"` // "" when the username is not known
	Actor          string     `json:"actor"`
	Server         string     `json:"server"`
	Follows        string     `json:"follows"` // the local actor's username
	Since          time.Time  `json:"since"`
	Inbox          string     `json:"inbox"`
	SharedInbox    string     `json:"shared_inbox"`
	LastDelivery   string     `json:"last_delivery"`    // delivered, failing, failed or none
	LastDeliveryAt *time.Time `json:"last_delivery_at"` // when delivered or given up
	NextAttempt    *time.Time `json:"next_attempt"`     // while failing
	LastError      string     `json:"last_error"`
}

// newFollowerRow describes f.
func newFollowerRow(f store.FollowerStatus) followerRow {
	r := followerRow{Handle: activitypub.Handle(f.IRI, f.Username), Actor: f.IRI, Follows: f.Following,
		Since: f.CreatedAt, Inbox: f.Inbox, SharedInbox: f.SharedInbox, LastDelivery: "none",
		LastDeliveryAt: timeOrNil(f.Last.At), NextAttempt: timeOrNil(f.Last.Next)}
	if u, err := url.Parse(f.IRI); err == nil {
		r.Server = u.Host
	}
	switch f.Last.State {
	case store.Delivered:
		r.LastDelivery = "delivered"
	case store.Pending:
		r.LastDelivery, r.LastError = "failing", failure(f.Last.Status, f.Last.Error)
	case store.Failed:
		r.LastDelivery, r.LastError = "failed", failure(f.Last.Status, f.Last.Error)
	}
	return r
}

// lastDelivery is r's last delivery in a column.
func (r followerRow) lastDelivery() string {
	switch r.LastDelivery {
	case "delivered":
		return "delivered " + shownTime(*r.LastDeliveryAt)
	case "failing":
		if r.NextAttempt == nil { // its server's breaker parked it: it waits for deliveries retry, or for a sign of life
			return "failing: " + truncated(r.LastError) + " (its server is parked)"
		}
		return "failing: " + truncated(r.LastError) + " (next try " + shownTime(*r.NextAttempt) + ")"
	case "failed":
		return "failed " + shownTime(*r.LastDeliveryAt) + ": " + truncated(r.LastError)
	}
	return r.LastDelivery
}

// truncated cuts an error for a column.
func truncated(s string) string {
	if r := []rune(s); len(r) > 80 {
		return string(r[:79]) + "…"
	}
	return s
}

// listFollowers is `followers list`.
func (a *admin) listFollowers() int {
	var follows []store.FollowerStatus
	if err := a.view(func(tx *store.Tx) (err error) { follows, err = tx.FollowerStatuses(); return err }); err != nil {
		return a.fail(err, "cannot read the followers")
	}
	rows := make([]followerRow, len(follows))
	local := map[string]bool{}
	for i, f := range follows {
		rows[i] = newFollowerRow(f)
		local[f.Following] = true
	}
	header := []string{"HANDLE", "ACTOR", "SERVER", "SINCE", "LAST DELIVERY"}
	several := len(local) > 1 // more than one local actor is followed: say which
	if several {
		header = append(header, "FOLLOWS")
	}
	return printRows(a, rows, header, func(r followerRow) []string {
		handle := r.Handle
		if handle == "" {
			handle = r.Actor
		}
		cells := []string{handle, r.Actor, r.Server, shownTime(r.Since), r.lastDelivery()}
		if several {
			cells = append(cells, r.Follows)
		}
		return cells
	}, "No followers.")
}

// removeFollower is `followers remove ACTOR`.
func (a *admin) removeFollower() int {
	r, err := a.svc.RemoveFollower(context.Background(), a.arg)
	if err != nil {
		return a.fail(err, "cannot remove the follower")
	}
	who := r.Actor
	if r.Handle != "" {
		who = r.Handle + " (" + r.Actor + ")"
	}
	row := struct {
		Actor               string   `json:"actor"`
		Handle              string   `json:"handle"`
		Accounts            []string `json:"accounts"`
		RejectsTo           []string `json:"rejects_to"`
		DeliveriesCancelled int      `json:"deliveries_cancelled"`
	}{r.Actor, r.Handle, r.Accounts, r.Inboxes, r.Cancelled}
	accounts := make([]string, len(r.Accounts))
	for i, name := range r.Accounts {
		accounts[i] = "@" + name
	}
	rejects := "a Reject of their Follow goes"
	if len(r.Accounts) > 1 {
		rejects = "a Reject of each Follow goes"
	}
	return a.done(row, fmt.Sprintf("Removed %s from %s: %s to %s (a running server sends it within a second); %d queued deliveries given up.",
		who, strings.Join(accounts, ", "), rejects, strings.Join(slices.Compact(slices.Sorted(slices.Values(r.Inboxes))), ", "), r.Cancelled))
}

// runBlock is `nuttx-feed block add|remove|list`.
func runBlock(args []string, stdout, stderr io.Writer) int {
	return runAdminGroup("block", blockUsage, []adminSub{
		{"add", "DOMAIN", (*admin).addBlock, nil},
		{"remove", "DOMAIN", (*admin).removeBlock, nil},
		{"list", "", (*admin).listBlocks, nil},
	}, args, stdout, stderr)
}

// blockRow is a block as block list prints it.
type blockRow struct {
	Domain           string    `json:"domain"`
	Since            time.Time `json:"since"`
	FollowersRemoved int       `json:"followers_removed"`
}

// addBlock is `block add DOMAIN`.
func (a *admin) addBlock() int {
	b, added, err := a.svc.Block(context.Background(), a.arg)
	if err != nil {
		return a.fail(err, "cannot block")
	}
	row := struct {
		blockRow
		New                 bool `json:"new"`
		DeliveriesCancelled int  `json:"deliveries_cancelled"`
	}{blockRow{b.Domain, b.Since, b.FollowersRemoved}, added, b.DeliveriesCancelled}
	if !added {
		return a.done(row, fmt.Sprintf("%s is blocked already, since %s; nothing changed.", b.Domain, shownTime(b.Since)))
	}
	return a.done(row, fmt.Sprintf("Blocked %s and its subdomains: %d followers removed, %d queued deliveries given up.",
		b.Domain, b.FollowersRemoved, b.DeliveriesCancelled))
}

// removeBlock is `block remove DOMAIN`.
func (a *admin) removeBlock() int {
	domain, err := a.svc.Unblock(context.Background(), a.arg)
	if err != nil {
		return a.fail(err, "cannot unblock")
	}
	row := struct {
		Domain string `json:"domain"`
	}{domain}
	return a.done(row, fmt.Sprintf("Unblocked %s. The followers its block removed must follow again.", domain))
}

// listBlocks is `block list`.
func (a *admin) listBlocks() int {
	var blocks []store.Block
	if err := a.view(func(tx *store.Tx) (err error) { blocks, err = tx.Blocks(); return err }); err != nil {
		return a.fail(err, "cannot read the blocks")
	}
	rows := make([]blockRow, len(blocks))
	for i, b := range blocks {
		rows[i] = blockRow{b.Domain, b.Since, b.FollowersRemoved}
	}
	return printRows(a, rows, []string{"DOMAIN", "SINCE", "FOLLOWERS REMOVED"}, func(r blockRow) []string {
		return []string{r.Domain, shownTime(r.Since), fmt.Sprint(r.FollowersRemoved)}
	}, "No server is blocked.")
}

// runDelete is `nuttx-feed delete NOTE`.
func runDelete(args []string, stdout, stderr io.Writer) int {
	a, code, ok := startAdmin("delete", "NOTE", args, stdout, stderr, nil)
	if !ok {
		return code
	}
	defer a.close()
	d, err := a.svc.DeleteNote(context.Background(), a.arg)
	if err != nil {
		return a.fail(err, "cannot delete the note")
	}
	row := struct {
		Note                string    `json:"note"`
		DeletedAt           time.Time `json:"deleted_at"`
		DeletedBefore       bool      `json:"deleted_before"`
		DeliveriesQueued    int       `json:"deliveries_queued"`
		DeliveriesCancelled int       `json:"deliveries_cancelled"`
	}{d.IRI, d.Note.Deleted, d.Before, d.Queued, d.Cancelled}
	if d.Before {
		return a.done(row, fmt.Sprintf("%s was deleted already, at %s: nothing sent again.", d.IRI, shownTime(d.Note.Deleted)))
	}
	echoes := ""
	if d.Echoes > 0 {
		echoes = fmt.Sprintf(", with the %d notes of feed accounts that repeated it", d.Echoes)
	}
	return a.done(row, fmt.Sprintf("Deleted %s%s: a Delete goes to %d inboxes (a running server sends it within a second); %d queued deliveries of the note given up.",
		d.IRI, echoes, d.Queued, d.Cancelled))
}

// runToken is `nuttx-feed token create|list|revoke`.
func runToken(args []string, stdout, stderr io.Writer) int {
	var t tokenFlags
	return runAdminGroup("token", tokenUsage, []adminSub{
		{"create", "NAME", func(a *admin) int { return a.createToken(t) }, t.add},
		{"list", "", (*admin).listTokens, nil},
		{"revoke", "NAME", (*admin).revokeToken, nil},
	}, args, stdout, stderr)
}

// tokenNameRE is what a token's name may be.
var tokenNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// tokenFlags are the flags of `token create`.
type tokenFlags struct {
	scopes  string // --scopes
	account string // --account
}

// add adds the flags to cmd.
func (t *tokenFlags) add(cmd *command) {
	t.scopes = defaultScopes
	cmd.addString(&t.scopes, "scopes", "SCOPES", "Mastodon's scopes, comma-separated (default read,write): read, write, or granular ones (read:statuses, write:statuses, ...)")
	cmd.addString(&t.account, "account", "USERNAME", "the local account the token acts as (posts as); empty: the bot (--username of serve)")
}

// createToken is `token create NAME`.
func (a *admin) createToken(f tokenFlags) int {
	if !tokenNameRE.MatchString(a.arg) {
		return usageError(a.stderr, a.name, fmt.Errorf("token name %q: use up to 64 lower-case letters, digits, ., _ and -, starting with a letter or digit", a.arg))
	}
	scopes, err := parseScopes(f.scopes)
	if err != nil {
		return usageError(a.stderr, a.name, fmt.Errorf("--scopes: %w", err))
	}
	token := store.NewToken()
	var created time.Time
	err = a.st.Update(context.Background(), func(tx *store.Tx) error {
		created = tx.Now
		if acct, err := tx.Actor(strings.TrimPrefix(f.account, "@")); err == nil && store.IsFeedKind(acct.Kind) {
			return fmt.Errorf("--account %q: %w: the account of a %s only repeats the feed's news; a token acts as the bot or another account of the operator", f.account, activitypub.ErrInvalid, acct.Kind)
		}
		err := tx.CreateToken(store.Token{Name: a.arg, Scopes: scopes, Account: strings.TrimPrefix(f.account, "@")}, token)
		if errors.Is(err, store.ErrNotFound) {
			return unknownAccount(tx, f.account)
		}
		return err
	})
	if err != nil {
		return a.fail(err, "cannot store the token")
	}
	row := struct {
		Name    string    `json:"name"`
		Token   string    `json:"token"`
		Created time.Time `json:"created"`
		Scopes  string    `json:"scopes"`
		Account string    `json:"account"`
	}{a.arg, token, created, shownScopes(scopes), f.account}
	if a.json {
		return a.printJSON([]any{row})
	}
	// The token alone on stdout, so that T=$(nuttx-feed token create x)
	// is the token; what it is goes to stderr, for the operator.
	fmt.Fprintf(a.stderr, "Token %s, scopes %s, acting as %s (shown this once; only its hash is stored):\n",
		a.arg, shownScopes(scopes), tokenAccount(f.account))
	fmt.Fprintln(a.stdout, token)
	return 0
}

// unknownAccount is the error of --account naming no local account: it
// lists those there are (the operator's, not the feed's accounts).
func unknownAccount(tx *store.Tx, username string) error {
	names, err := tx.Usernames()
	if err != nil {
		return err
	}
	return fmt.Errorf("--account %q: no such local account (%w); the local accounts are: %s",
		username, store.ErrNotFound, strings.Join(names, ", "))
}

// shownScopes is how commands show stored scopes (space-separated): as
// --scopes takes them, comma-separated.
func shownScopes(scopes string) string { return strings.ReplaceAll(scopes, " ", ",") }

// tokenAccount names the account of a token: its username, or "the bot".
func tokenAccount(username string) string {
	if username == "" {
		return "the bot"
	}
	return username
}

// tokenRow is a token as token list prints it.
type tokenRow struct {
	Name     string     `json:"name"`
	Created  time.Time  `json:"created"`
	LastUsed *time.Time `json:"last_used"`
	Scopes   string     `json:"scopes"`  // comma-separated (shownScopes)
	Account  string     `json:"account"` // "": the bot
	// Kind is store.KindApp or KindClient; "" (left out of the JSON) for
	// a token made by token create.
	Kind string `json:"kind,omitempty"`
	App  string `json:"app,omitempty"` // the app of a KindClient token, which acts as no account
}

// listTokens is `token list`.
func (a *admin) listTokens() int {
	var tokens []store.Token
	if err := a.view(func(tx *store.Tx) (err error) { tokens, err = tx.Tokens(); return err }); err != nil {
		return a.fail(err, "cannot read the tokens")
	}
	rows := make([]tokenRow, len(tokens))
	for i, t := range tokens {
		kind := t.Kind
		if kind == store.KindOperator {
			kind = ""
		}
		rows[i] = tokenRow{t.Name, t.Created, timeOrNil(t.LastUsed), shownScopes(t.Scopes), t.Account, kind, t.App}
	}
	return printRows(a, rows, []string{"NAME", "KIND", "CREATED", "LAST USED", "SCOPES", "ACCOUNT"}, func(r tokenRow) []string {
		used := "never"
		if r.LastUsed != nil {
			used = shownTime(*r.LastUsed)
		}
		scopes, account := r.Scopes, tokenAccount(r.Account)
		if r.Kind == store.KindClient {
			scopes, account = "(what anyone may read)", "none: the app "+r.App
		}
		return []string{r.Name, orDefault(r.Kind, store.KindOperator), shownTime(r.Created), used, scopes, account}
	}, "No tokens.")
}

// revokeToken is `token revoke NAME`.
func (a *admin) revokeToken() int {
	var revoked bool
	err := a.st.Update(context.Background(), func(tx *store.Tx) (err error) {
		revoked, err = tx.RevokeToken(a.arg)
		return err
	})
	switch {
	case err != nil:
		return a.fail(err, "cannot revoke the token")
	case !revoked:
		return usageError(a.stderr, a.name, fmt.Errorf("no token named %q", a.arg))
	}
	row := struct {
		Name string `json:"name"`
	}{a.arg}
	return a.done(row, fmt.Sprintf("Token %s revoked.", a.arg))
}
