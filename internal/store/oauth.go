package store

import (
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// OAuth 2 for phone apps (tables oauth_apps, oauth_codes, oauth_tokens):
// anyone may register an app, so their number is bounded and unused ones
// expire; the operator authorizes an app by pasting one of their tokens,
// which gives the app a code, which the app exchanges for a token of its
// own (table tokens, so `token list` shows it and `token revoke` ends it).

// ErrTooMany is returned (wrapped) when a bounded table is full.
var ErrTooMany = errors.New("too many")

// MaxApps is how many registered apps are kept at most.
const MaxApps = 1000

// unusedAppTTL is how long an app that never got a token is kept.
const unusedAppTTL = 24 * time.Hour

// App is a registered OAuth app, without its secret.
type App struct {
	ID           int64
	ClientID     string
	Name         string
	Website      string
	RedirectURIs []string
	Scopes       string // space-separated
}

// RegisterApp stores a, with the hash of its secret. Anyone may register
// an app, so apps the operator never authorized (no token of
// oauth_tokens; an app's own client_credentials token does not count) are
// deleted after a day, and past MaxApps apps the oldest of them gives way
// to the new one: a flood of registrations cannot keep a real app from
// signing up. Only MaxApps apps that all hold the operator's tokens make
// it refuse, with an error wrapping ErrTooMany. a.ID is set.
func (tx *Tx) RegisterApp(a *App, secret string) error {
	if _, err := tx.exec(`DELETE FROM oauth_apps WHERE created_at < ? AND `+unauthorizedApp, ms(tx.Now.Add(-unusedAppTTL))); err != nil {
		return fmt.Errorf("register app: expire unused ones: %w", err)
	}
	var n int
	if err := tx.queryRow(`SELECT COUNT(*) FROM oauth_apps`).Scan(&n); err != nil {
		return fmt.Errorf("register app: %w", err)
	}
	if n >= MaxApps {
		res, err := tx.exec(`DELETE FROM oauth_apps WHERE id = (SELECT id FROM oauth_apps WHERE ` + unauthorizedApp + ` ORDER BY created_at, id LIMIT 1)`)
		if err != nil {
			return fmt.Errorf("register app: make room: %w", err)
		}
		if gone, _ := res.RowsAffected(); gone == 0 {
			return fmt.Errorf("register app: %w apps registered (%d), all authorized", ErrTooMany, n)
		}
	}
	err := tx.queryRow(`INSERT INTO oauth_apps (client_id, secret_hash, name, website, redirect_uris, scopes, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		a.ClientID, tokenHash(secret), a.Name, a.Website, strings.Join(a.RedirectURIs, "\n"), a.Scopes, ms(tx.Now)).Scan(&a.ID)
	if err != nil {
		return fmt.Errorf("register app: %w", err)
	}
	return nil
}

// unauthorizedApp selects the apps of oauth_apps that the operator never
// gave a token.
const unauthorizedApp = `NOT EXISTS (SELECT 1 FROM oauth_tokens t WHERE t.app_id = oauth_apps.id)`

// appColumns selects an App and the hash of its secret; scanApp reads them.
const appColumns = `id, client_id, name, website, redirect_uris, scopes, secret_hash FROM oauth_apps`

// scanApp reads a row of appColumns.
func scanApp(row rowScanner) (*App, []byte, error) {
	var a App
	var uris string
	var secret []byte
	err := row.Scan(&a.ID, &a.ClientID, &a.Name, &a.Website, &uris, &a.Scopes, &secret)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, fmt.Errorf("%w: no such app", ErrNotFound)
	}
	a.RedirectURIs = strings.Split(uris, "\n")
	return &a, secret, err
}

// AppByClientID returns the app clientID, or an error wrapping ErrNotFound.
func (tx *Tx) AppByClientID(clientID string) (*App, error) {
	a, _, err := scanApp(tx.queryRow(`SELECT `+appColumns+` WHERE client_id = ?`, clientID))
	return a, err
}

// CheckApp returns the app clientID when secret is its secret (compared
// in constant time), else an error wrapping ErrNotFound.
func (tx *Tx) CheckApp(clientID, secret string) (*App, error) {
	a, hash, err := scanApp(tx.queryRow(`SELECT `+appColumns+` WHERE client_id = ?`, clientID))
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(hash, tokenHash(secret)) != 1 {
		return nil, fmt.Errorf("%w: wrong client secret", ErrNotFound)
	}
	return a, nil
}

// SetAppToken stores the hash of the app's client_credentials token,
// replacing the one before.
func (tx *Tx) SetAppToken(appID int64, token string) error {
	if _, err := tx.exec(`UPDATE oauth_apps SET app_token_hash = ? WHERE id = ?`, tokenHash(token), appID); err != nil {
		return fmt.Errorf("app token: %w", err)
	}
	return nil
}

// ClientTokenPrefix starts the name under which Tokens lists an app's
// client_credentials token: "nfa:" and the app's id. A token made by
// `token create` cannot have a colon in its name.
const ClientTokenPrefix = "nfa:"

// clientTokens returns the apps' client_credentials tokens as Tokens of
// KindClient (created: when the app registered; never marked used).
func (tx *Tx) clientTokens() ([]Token, error) {
	return queryList(tx, func(rows *sql.Rows) (Token, error) {
		t := Token{Kind: KindClient}
		var id, created int64
		err := rows.Scan(&id, &t.App, &created)
		t.Name, t.Created = ClientTokenPrefix+strconv.FormatInt(id, 10), fromMS(created)
		return t, err
	}, `SELECT id, name, created_at FROM oauth_apps WHERE app_token_hash IS NOT NULL ORDER BY id`)
}

// RevokeAppToken ends the client_credentials token of the app appID; it
// reports whether there was one. The app stays registered (but an app
// with no token at all is deleted a day after it registered).
func (tx *Tx) RevokeAppToken(appID int64) (bool, error) {
	res, err := tx.exec(`UPDATE oauth_apps SET app_token_hash = NULL WHERE id = ? AND app_token_hash IS NOT NULL`, appID)
	if err != nil {
		return false, fmt.Errorf("revoke app token: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// AppByToken returns the app whose client_credentials token token is, or
// an error wrapping ErrNotFound. The hash is unique: an index lookup.
func (tx *Tx) AppByToken(token string) (*App, error) {
	a, _, err := scanApp(tx.queryRow(`SELECT `+appColumns+` WHERE app_token_hash = ?`, tokenHash(token)))
	return a, err
}

// AppOfToken returns the app that was given the stored token name, or an
// error wrapping ErrNotFound when none was (a token made by `token create`).
func (tx *Tx) AppOfToken(name string) (*App, error) {
	a, _, err := scanApp(tx.queryRow(`SELECT `+appColumns+` WHERE id = (SELECT app_id FROM oauth_tokens WHERE token_name = ?)`, name))
	return a, err
}

// Code is an authorization code's grant.
type Code struct {
	AppID         int64
	Scopes        string // space-separated
	Account       string // the username it acts as; "" is the bot
	RedirectURI   string
	CodeChallenge string // PKCE S256 challenge; "" for none
	Expires       time.Time
}

// CreateCode stores the hash of code with its grant.
func (tx *Tx) CreateCode(c Code, code string) error {
	var actorID sql.NullInt64
	if c.Account != "" {
		a, err := tx.Actor(c.Account)
		if err != nil {
			return fmt.Errorf("create code: account: %w", err)
		}
		actorID = sql.NullInt64{Int64: a.ID, Valid: true}
	}
	if _, err := tx.exec(`DELETE FROM oauth_codes WHERE expires_at <= ?`, ms(tx.Now)); err != nil {
		return fmt.Errorf("create code: expire old ones: %w", err)
	}
	_, err := tx.exec(`INSERT INTO oauth_codes (hash, app_id, scopes, actor_id, redirect_uri, code_challenge, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, tokenHash(code), c.AppID, c.Scopes, actorID, c.RedirectURI, c.CodeChallenge, ms(c.Expires))
	if err != nil {
		return fmt.Errorf("create code: %w", err)
	}
	return nil
}

// TakeCode deletes the code and returns its grant, so that it is used
// once (when the transaction commits). An unknown, used or expired code is
// an error wrapping ErrNotFound.
func (tx *Tx) TakeCode(code string) (Code, error) {
	var c Code
	var expires int64
	err := tx.queryRow(`DELETE FROM oauth_codes WHERE hash = ?
		RETURNING app_id, scopes, COALESCE((SELECT username FROM actors WHERE id = actor_id), ''), redirect_uri, code_challenge, expires_at`,
		tokenHash(code)).Scan(&c.AppID, &c.Scopes, &c.Account, &c.RedirectURI, &c.CodeChallenge, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return Code{}, fmt.Errorf("%w: no such code", ErrNotFound)
	}
	if err != nil {
		return Code{}, fmt.Errorf("take code: %w", err)
	}
	c.Expires = fromMS(expires)
	if !tx.Now.Before(c.Expires) {
		return Code{}, fmt.Errorf("%w: the code expired", ErrNotFound)
	}
	return c, nil
}

// CreateAppToken stores token as t (CreateToken) given to the app appID,
// named t.Name with the first of -1, -2... not taken; it returns the name.
func (tx *Tx) CreateAppToken(t Token, token string, appID int64) (string, error) {
	base := t.Name
	var taken int // start past the names taken: an app signing in again tries one name, not all before it
	if err := tx.queryRow(`SELECT COUNT(*) FROM tokens WHERE substr(name, 1, ?) = ?`, len(base)+1, base+"-").Scan(&taken); err != nil {
		return "", fmt.Errorf("create app token: %w", err)
	}
	for i := taken + 1; ; i++ {
		t.Name = fmt.Sprintf("%s-%d", base, i)
		err := tx.CreateToken(t, token)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrExists) || i > taken+MaxApps {
			return "", err
		}
	}
	if _, err := tx.exec(`INSERT INTO oauth_tokens (token_name, app_id) VALUES (?, ?)`, t.Name, appID); err != nil {
		return "", fmt.Errorf("create app token: %w", err)
	}
	return t.Name, nil
}

// IsFollower reports whether the remote actor iri follows the local actor
// actorID.
func (tx *Tx) IsFollower(actorID int64, iri string) (bool, error) {
	var n int
	if err := tx.queryRow(`SELECT COUNT(*) FROM followers WHERE actor_id = ? AND follower = ?`, actorID, iri).Scan(&n); err != nil {
		return false, fmt.Errorf("is follower: %w", err)
	}
	return n > 0, nil
}
