package web

// AuthorizePage is /oauth/authorize: an app asks the operator for a
// token, and the operator proves who they are by pasting one of theirs.
// With Code set, it shows the code to copy into the app instead (an app
// without a redirect URI: urn:ietf:wg:oauth:2.0:oob).
type AuthorizePage struct {
	Page
	AppName    string
	AppWebsite string   // "" when it gave none
	Scopes     []string // those asked for
	ScopesFlag string   // the same, as token create's --scopes
	Account    string   // @user@host of the bot, which the token acts as unless made with --account
	// Destination is where authorizing sends the browser: the redirect
	// URI's host (or scheme, for an app's own), so that a lookalike app
	// shows; "" when the code is shown on the page instead (oob).
	Destination string
	Action      string  // the form's action, by path
	Hidden      []Field // the request's parameters, sent back with the form
	Error       string  // why the last attempt failed; "" for none
	Code        string  // the code to copy (oob)
	ProofToken  string  // with Code: the name of the token pasted, to revoke if made only for this
}

// Field is a hidden form field.
type Field struct {
	Name, Value string
}
