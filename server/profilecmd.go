package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

const profileUsage = `Usage: nuttx-feed profile show|set [flags]

  show   prints the bot's profile, as stored in the database
  set    changes it and sends one Update to every follower's server

Run "nuttx-feed profile set --help" for the flags.
`

// runProfile is `nuttx-feed profile show|set`.
func runProfile(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	sub, code, ok := subcommand("profile", profileUsage, []string{"show", "set"}, args, stdout, stderr)
	if !ok {
		return code
	}
	name := "profile " + sub
	var cfg Config
	cmd := newCommand(name, &cfg)
	var edit profileFlags
	var asJSON bool
	if sub == "set" {
		edit.define(cmd)
	} else {
		cmd.addBool(&asJSON, "json", "print JSON, for scripts")
	}
	if err := cmd.parseAndCheck(args[1:], stdout, &cfg, ""); err != nil {
		return usageError(stderr, name, err)
	}
	e, err := edit.edit(cmd, stdin)
	if err != nil {
		return usageError(stderr, name, err)
	}
	ctx := context.Background()
	log, st, svc, ok := startCommand(ctx, &cfg, stderr)
	if !ok {
		return 1
	}
	defer st.Close()
	if sub == "show" {
		a, err := svc.Actor(ctx, cfg.Username)
		if err != nil {
			log.Error("cannot read the profile", "err", err)
			return 1
		}
		return printProfile(stdout, svc, a, asJSON)
	}
	changed, err := svc.EditProfile(ctx, cfg.Username, e)
	switch {
	case errors.Is(err, activitypub.ErrInvalid):
		return usageError(stderr, name, err)
	case err != nil:
		log.Error("cannot change the profile", "err", err)
		return 1
	case !changed:
		fmt.Fprintln(stdout, "Nothing changed: the profile already reads so.")
		return 0
	}
	fmt.Fprintln(stdout, "Profile saved. The server sends an Update of it to every follower's server (the running server shows it within seconds).")
	return 0
}

// profileFlags are the flags of profile set; each one given changes its part.
type profileFlags struct {
	displayName, summary, visibility, avatar, header string
	fields                                           fieldList
	noFields                                         bool
}

// fieldList is the repeatable --field NAME=URL.
type fieldList []store.Field

func (l *fieldList) String() string { return fmt.Sprint([]store.Field(*l)) }

func (l *fieldList) Set(v string) error {
	name, url, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(name) == "" {
		return errors.New("want NAME=URL")
	}
	*l = append(*l, store.Field{Name: strings.TrimSpace(name), URL: strings.TrimSpace(url)})
	return nil
}

func (f *profileFlags) define(cmd *command) {
	cmd.addString(&f.displayName, "display-name", "TEXT", fmt.Sprintf("the display name (at most %d characters)", activitypub.MaxDisplayName))
	cmd.addString(&f.summary, "summary", "TEXT", fmt.Sprintf(`the bio: plain text, links and #hashtags become links (at most %d characters; "-" reads it from standard input)`, activitypub.MaxSummary))
	cmd.addVar(&f.fields, "field", "NAME=URL", fmt.Sprintf("a profile link; repeat it for each (at most %d): the ones given replace them all", activitypub.MaxFields))
	cmd.addBool(&f.noFields, "no-fields", "remove every profile link")
	cmd.addString(&f.avatar, "avatar", "FILE", `the avatar: a PNG, JPEG, GIF or WebP file of at most 2 MB ("none" removes it)`)
	cmd.addString(&f.header, "header", "FILE", `the header image, as --avatar ("none" removes it)`)
	cmd.addString(&f.visibility, "visibility", "public|unlisted", "how posts are addressed from now on: public, or unlisted (kept off public timelines)")
}

// edit is the change the flags given on cmd's command line ask for.
func (f *profileFlags) edit(cmd *command, stdin io.Reader) (activitypub.ProfileEdit, error) {
	var e activitypub.ProfileEdit
	if cmd.name != "profile set" {
		return e, nil
	}
	given := cmd.flagsGiven()
	if len(given) == 0 {
		return e, errors.New("nothing to change: give at least one flag (see --help)")
	}
	if given["display-name"] {
		e.DisplayName = &f.displayName
	}
	if given["summary"] {
		if f.summary == "-" {
			b, err := io.ReadAll(io.LimitReader(stdin, 64<<10))
			if err != nil {
				return e, fmt.Errorf("reading the bio from standard input: %w", err)
			}
			f.summary = strings.TrimSpace(string(b))
		}
		e.Summary = &f.summary
	}
	if given["visibility"] {
		e.Visibility = &f.visibility
	}
	switch {
	case given["field"] && f.noFields:
		return e, errors.New("--field and --no-fields contradict each other")
	case given["field"]:
		e.Fields = (*[]store.Field)(&f.fields)
	case f.noFields:
		e.Fields = &[]store.Field{}
	}
	var err error
	if given["avatar"] {
		if e.Avatar, err = readImage("--avatar", f.avatar); err != nil {
			return e, err
		}
	}
	if given["header"] {
		if e.Header, err = readImage("--header", f.header); err != nil {
			return e, err
		}
	}
	return e, nil
}

// readImage reads an image flag's file; "none" removes the image.
func readImage(flag, path string) (*activitypub.ImageEdit, error) {
	if path == "none" {
		return &activitypub.ImageEdit{}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, activitypub.MaxImageBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	if data == nil {
		data = []byte{}
	}
	return &activitypub.ImageEdit{Data: data}, nil
}

// profileJSON is profile show --json.
type profileJSON struct {
	Handle      string        `json:"handle"`
	Actor       string        `json:"actor"`
	DisplayName string        `json:"display_name"`
	Summary     string        `json:"summary"`
	Fields      []store.Field `json:"fields"`
	Visibility  string        `json:"visibility"`
	Avatar      string        `json:"avatar"`
	Header      string        `json:"header"`
}

// printProfile prints a's profile, as text or JSON.
func printProfile(w io.Writer, svc *activitypub.Service, a *store.Actor, asJSON bool) int {
	site := svc.Site()
	p := profileJSON{
		Handle: "@" + site.Handle(a.Username), Actor: site.Actor(a.Username), DisplayName: a.DisplayName,
		Summary: a.Summary, Fields: a.Fields, Visibility: a.Visibility,
	}
	if a.Avatar.ContentType != "" {
		p.Avatar = site.ImageURL(a.Username, store.Avatar, a.Avatar.UpdatedAt.UnixMilli())
	}
	if a.Header.ContentType != "" {
		p.Header = site.ImageURL(a.Username, store.Header, a.Header.UpdatedAt.UnixMilli())
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(p); err != nil {
			return 1
		}
		return 0
	}
	fmt.Fprintf(w, "handle:        %s\nactor:         %s\ndisplay name:  %s\nvisibility:    %s\navatar:        %s\nheader:        %s\nbio:\n  %s\nfields:\n",
		p.Handle, p.Actor, p.DisplayName, p.Visibility, orNone(p.Avatar), orNone(p.Header), strings.ReplaceAll(p.Summary, "\n", "\n  "))
	for _, f := range p.Fields {
		fmt.Fprintf(w, "  %s = %s\n", f.Name, f.URL)
	}
	return 0
}

// orNone is s, or "(none)" when it is empty.
func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
