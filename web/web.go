// Package web renders the HTML face of nuttx-feed: the profile page, note
// pages with their thread, and tag pages. Templates and static files are
// embedded and parsed once, at startup. Handlers live in server.
package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"strings"
	"time"

	xhtml "golang.org/x/net/html"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Static returns the static files (style.css, avatar.png, missing.png: the
// API's avatar and header of a remote account without one), served at /static/.
func Static() fs.FS {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err)
	}
	return sub
}

// pageNames are the page templates; each is combined with the layout.
var pageNames = []string{"profile", "note", "tag", "target", "directory", "search", "error", "authorize"}

// Renderer executes the parsed page templates. It is safe for concurrent use.
type Renderer struct {
	pages map[string]*template.Template
}

// New parses every template; an error here is a broken build.
func New() (*Renderer, error) {
	r := &Renderer{pages: map[string]*template.Template{}}
	for _, p := range pageNames {
		t, err := template.New(p).Funcs(template.FuncMap{"breakable": BreakableHandle}).ParseFS(templateFiles, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", p, err)
		}
		r.pages[p] = t
	}
	return r, nil
}

// Render writes page with data. Output is buffered so that a template
// error never leaves half a page behind.
func (r *Renderer) Render(w io.Writer, page string, data any) error {
	t, ok := r.pages[page]
	if !ok {
		return fmt.Errorf("web: no page %q", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("web: render %s: %w", page, err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// Page holds what the layout needs.
type Page struct {
	Title       string
	Description string
	Site        urls.Site // builds the links to static files and home
	Alternate   string    // the ActivityPub id of what the page shows
	Canonical   string    // the page's own URL, however it was reached
	Feed        string    // its Atom feed, "" for none
	Me          []string  // rel="me" links
	Image       string    // the icon and preview image, absolute: the actor's avatar ("" for the default)
	Version     string
	Query       string // the search its header form shows
}

// Icon returns the page's icon by path when it is ours, so that a page
// opened by any name shows it.
func (p Page) Icon() string { return p.Site.Local(p.PreviewImage()) }

// PreviewImage returns the absolute URL of the page's preview image, as
// Open Graph requires for og:image.
func (p Page) PreviewImage() string {
	if p.Image != "" {
		return p.Image
	}
	return p.Site.Avatar()
}

// Static returns the path of the static file name: assets are linked by
// path, not by base URL, so a page opened by any name is styled.
func (p Page) Static(name string) string { return urls.Static.Path(name) }

// SearchURL returns the path of the search page, which the form in every
// page's header leads to.
func (p Page) SearchURL() string { return urls.Search.Path() }

// Home returns the URL of the home page.
func (p Page) Home() string { return p.Site.URL(urls.Home) }

// ProfileView is the header of a profile or note page.
type ProfileView struct {
	DisplayName string
	Username    string
	Handle      string // @user@host
	FollowURL   string // the remote follow form's action, by path
	ProfileURL  string
	AvatarURL   string // absolute, for the preview image
	AvatarSrc   string // AvatarURL by path when it is ours, for the page
	HeaderSrc   string // the header image by path when it is ours; "" for none
	Summary     template.HTML
	Fields      []store.Field
	Posts       int
	Followers   int
}

// NewProfileView describes actor a.
func NewProfileView(u urls.Site, a *store.Actor, posts, followers int) ProfileView {
	avatar, _ := activitypub.Avatar(u, a)
	header, _ := activitypub.Header(u, a)
	return ProfileView{
		DisplayName: a.DisplayName,
		Username:    a.Username,
		Handle:      "@" + u.Handle(a.Username),
		FollowURL:   u.Local(u.RemoteFollow()),
		ProfileURL:  u.Profile(a.Username),
		AvatarURL:   avatar,
		AvatarSrc:   u.Local(avatar),
		HeaderSrc:   localOrEmpty(u, header),
		Summary:     template.HTML(activitypub.SummaryHTML(u, a)), // built by richtext.Content: escaped
		Fields:      a.Fields,
		Posts:       posts,
		Followers:   followers,
	}
}

// localOrEmpty is u.Local(abs), and "" for "".
func localOrEmpty(u urls.Site, abs string) string {
	if abs == "" {
		return ""
	}
	return u.Local(abs)
}

// NoteView is one note as shown.
type NoteView struct {
	PublicID       string
	URL            string // its HTML page
	Content        template.HTML
	Warning        string // content warning: the content hides behind it
	Published      time.Time
	InReplyTo      string // parent IRI
	InReplyToURL   string // where to read the parent
	InReplyToLocal bool
	ReplyCount     int
	Focus          bool      // the note a note page is about
	Deleted        time.Time // when it was deleted: the page says so instead of its text; zero while it stands
}

// NewNoteView describes note n.
func NewNoteView(u urls.Site, n *store.Note) NoteView {
	v := NoteView{
		PublicID:  n.PublicID,
		URL:       u.NoteURL(n.Username, n.PublicID),
		Content:   template.HTML(n.Content), // built by richtext.Content: escaped
		Warning:   n.Summary,
		Published: n.Published,
		InReplyTo: n.InReplyTo,
		Deleted:   n.Deleted,
	}
	if n.InReplyTo != "" {
		v.InReplyToURL = n.InReplyTo
		if user, id, ok := u.ParseLocalNote(n.InReplyTo); ok {
			v.InReplyToURL, v.InReplyToLocal = u.NoteURL(user, id), true
		}
	}
	return v
}

// NoteViews describes a list of notes.
func NoteViews(u urls.Site, notes []*store.Note) []NoteView {
	out := make([]NoteView, len(notes))
	for i, n := range notes {
		out[i] = NewNoteView(u, n)
	}
	return out
}

// ProfilePage is the /@user page.
type ProfilePage struct {
	Page
	Profile ProfileView
	Failing *FailingNow // the targets failing now; nil on a profile that runs no feed
	// DirectoryURL is the directory of the feed's accounts, which the
	// firehose's profile links; "" on other profiles.
	DirectoryURL string
	// Account is what the account of a board, target or architecture
	// follows; nil on other profiles.
	Account  *FeedAccountView
	Notes    []NoteView
	NewerURL string
	OlderURL string
	Mentions []MentionView // the latest public notes mentioning the actor (first page only)
}

// NotePage shows one note, its parent and a page of the replies in its
// thread, ours and those from the Fediverse together in the order
// published.
type NotePage struct {
	Page
	Profile ProfileView
	Parent  *NoteView
	Note    NoteView
	Replies []ReplyView
	// MoreRepliesURL is the next page of replies, "" on the last;
	// FirstRepliesURL leads back to the first, "" on the first.
	MoreRepliesURL  string
	FirstRepliesURL string
	// Targets are the build targets the note announced (OwnTargets: one,
	// or a digest's many), else those whose thread it is in, failing ones
	// first; MoreFailing and MoreBuilding count those left out.
	Targets                   []TargetStatus
	OwnTargets                bool
	MoreFailing, MoreBuilding int
}

// ReplyView is a reply on a thread page: ours (Note) or one from the
// Fediverse (Remote), the other nil.
type ReplyView struct {
	Note   *NoteView
	Remote *RemoteReplyView
}

// ReplyViews describes a page of a thread's replies.
func ReplyViews(u urls.Site, items []store.ThreadItem) []ReplyView {
	out := make([]ReplyView, len(items))
	for i, it := range items {
		if it.Note != nil {
			v := NewNoteView(u, it.Note)
			out[i].Note = &v
		} else {
			v := NewRemoteReplyView(it.Remote)
			out[i].Remote = &v
		}
	}
	return out
}

// RemoteReplyView is a reply from the Fediverse as a thread page shows it.
type RemoteReplyView struct {
	Anchor       string // its element id
	AuthorName   string
	AuthorHandle string // @user@host
	AuthorURL    string // the author's profile page
	AvatarURL    string // https only (the page's CSP allows no other remote image); "" shows none
	Content      template.HTML
	URL          string // the reply's own page
	Published    time.Time
}

// NewRemoteReplyView describes a stored remote reply.
func NewRemoteReplyView(r *store.RemoteReply) RemoteReplyView {
	v := RemoteReplyView{
		Anchor:       fmt.Sprintf("r-%d", r.Seq),
		AuthorName:   r.AuthorName,
		AuthorHandle: r.AuthorHandle,
		AuthorURL:    r.AuthorURL,
		Content:      template.HTML(r.Content), // sanitized on the way in (activitypub/replies.go)
		URL:          r.URL,
		Published:    r.Published,
	}
	if strings.HasPrefix(r.AuthorAvatar, "https://") {
		v.AvatarURL = r.AuthorAvatar
	}
	return v
}

// MentionView is a note from the Fediverse that mentions the actor, as
// its profile lists it: its author and the start of its text.
type MentionView struct {
	RemoteReplyView
	Excerpt string // plain text, at most MentionExcerptMax characters
}

// MentionExcerptMax bounds the text a profile shows of a mention
// (characters): a mention may hold 16 KiB of HTML, and the page stays
// under 100 KB.
const MentionExcerptMax = 280

// MentionViews describes stored mentions, each cut to an excerpt.
func MentionViews(mentions []*store.RemoteReply) []MentionView {
	out := make([]MentionView, len(mentions))
	for i, r := range mentions {
		out[i] = MentionView{RemoteReplyView: NewRemoteReplyView(r), Excerpt: TextExcerpt(r.Content, MentionExcerptMax)}
	}
	return out
}

// TextExcerpt returns the text of sanitized HTML, its runs of white space
// (line breaks and paragraphs included) made single spaces, cut to max
// characters with "…".
func TextExcerpt(content string, max int) string {
	var b strings.Builder
	z := xhtml.NewTokenizer(strings.NewReader(content))
	for tt := z.Next(); tt != xhtml.ErrorToken; tt = z.Next() {
		switch tt {
		case xhtml.TextToken:
			b.Write(z.Text())
		case xhtml.StartTagToken, xhtml.EndTagToken, xhtml.SelfClosingTagToken:
			b.WriteByte(' ') // <br>, </p>: words on either side stay apart
		}
	}
	text := []rune(strings.Join(strings.Fields(b.String()), " "))
	if len(text) > max {
		return strings.TrimRight(string(text[:max]), " ") + "…"
	}
	return string(text)
}

// AltText is the avatar's alternative text: the author's name, else
// their handle.
func (v RemoteReplyView) AltText() string {
	name := v.AuthorName
	if name == "" {
		name = v.AuthorHandle
	}
	return "Avatar of " + name
}

// TagPage lists the notes with one hashtag, under the header of the
// profile the site's home shows, with a way back to it.
type TagPage struct {
	Page
	Profile  ProfileView
	Tag      string
	Notes    []NoteView
	NewerURL string
	OlderURL string
}

// SearchPage is the /search page: the form, and what the query found.
type SearchPage struct {
	Page
	Profile ProfileView
	Results []SearchResultView
	Words   []string // the words searched; none for a query without any
	Cut     bool     // words beyond store.MaxSearchTerms were dropped
	Newest  bool     // too many matched to rank: the newest are shown
	// Number is the page of results (from 1); NextURL and PrevURL lead
	// to the next and previous, "" for none.
	Number           int
	NextURL, PrevURL string
	Max              int // how many it shows at most
	// MaxWords and MaxTokens are what a search holds (store.SearchQuery).
	MaxWords, MaxTokens int
}

// SearchResultView is one note a search found: its time, its page and the
// excerpt around the matches (Match parts are shown marked; html/template
// escapes every part), of its text or of the stored build error of Target.
type SearchResultView struct {
	URL       string
	Title     string // the post's first line
	Published time.Time
	Snippet   []store.TextPart
	Target    string // the failure whose build error matched; "" when the note's text did
	TargetURL string // that target's page
}

// SearchResultViews describes what a search found.
func SearchResultViews(u urls.Site, found []store.SearchResult) []SearchResultView {
	out := make([]SearchResultView, len(found))
	for i, r := range found {
		out[i] = SearchResultView{URL: u.NoteURL(r.Note.Username, r.Note.PublicID), Title: titleOf(r.Note.Source), Published: r.Note.Published, Snippet: BoundSnippet(r.Snippet)}
		if r.Target != "" {
			out[i].Target, out[i].TargetURL = r.Target, u.Target(r.Target)
		}
	}
	return out
}

// maxTitle bounds a search result's title (characters).
const maxTitle = 120

// titleOf is the first line of a post's text, cut to maxTitle characters:
// "rv-virt:citest - Build Failed", "15 NuttX targets failed to build".
func titleOf(source string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(source), "\n")
	if r := []rune(line); len(r) > maxTitle {
		return string(r[:maxTitle]) + "…"
	}
	return line
}

// Bounds of a search result's excerpt: SQLite's snippet() counts words,
// and the text between two words (a line of "~~~^" under a compiler error)
// can be long, so that 50 results could make a page of megabytes.
const (
	snippetGap      = 40  // characters kept at each end of the text between matches
	maxSnippetBytes = 500 // bytes of an excerpt as the page writes it (escaped, each match in <mark>)
	markBytes       = len("<mark></mark>")
)

// BoundSnippet bounds an excerpt: the text before the first match keeps
// its end, the text after the last (or an excerpt without a match) its
// start, and the text between two matches both ends, snippetGap
// characters each; the excerpt stops, with "…", at maxSnippetBytes bytes
// as the page writes them (escapedLen, and the markup of each match).
func BoundSnippet(parts []store.TextPart) []store.TextPart {
	var out []store.TextPart
	total := 0
	for i, p := range parts {
		text := []rune(p.Text)
		if !p.Match {
			text = squeeze(text, i > 0 || len(parts) == 1, i < len(parts)-1)
		} else {
			total += markBytes
		}
		for n, r := range text {
			if total += escapedLen(r); total > maxSnippetBytes {
				return append(out, store.TextPart{Text: string(text[:n]), Match: p.Match}, store.TextPart{Text: "…"})
			}
		}
		out = append(out, store.TextPart{Text: string(text), Match: p.Match})
	}
	return out
}

// squeeze keeps snippetGap characters of text at its start (when a match
// comes before it) and at its end (when one comes after), with "…"
// between.
func squeeze(text []rune, keepStart, keepEnd bool) []rune {
	if len(text) <= 2*snippetGap {
		return text
	}
	var out []rune
	if keepStart {
		out = append(out, text[:snippetGap]...)
	}
	out = append(out, '…')
	if keepEnd {
		out = append(out, text[len(text)-snippetGap:]...)
	}
	return out
}

// ErrorPage explains an error to a browser.
type ErrorPage struct {
	Page
	Heading string
	Message string
	// BackURL leads back to the page the error came from (the
	// directory), named BackText; "" for none.
	BackURL, BackText string
}
