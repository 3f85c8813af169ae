// Package richtext builds the body of a note: HTML that every Fediverse
// server keeps, and its plain-text twin, with Mastodon's way of counting
// characters. Mentions of remote accounts (@user@host) are recognised in
// text; they render as links once their profile page is known
// (ResolveMention) and as plain text until then.
package richtext

import (
	"html"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Content is the body of a note under construction. It only produces HTML
// that Mastodon keeps (docs/FEDERATION.md, "Notes"): paragraphs, <br>, http(s)
// anchors, hashtag anchors and <pre><code> blocks, with every piece of text
// escaped. It renders
// to HTML once the base URL is known (hashtag links point at our tag pages),
// and to a plain-text twin for logs, previews and the web page's summary.
//
// The zero value is an empty body ready to use. Methods return c so calls
// can be chained.
type Content struct {
	segs []segment
}

type segKind uint8

const (
	segText segKind = iota
	segLink
	segTag
	segBreak
	segPara
	segCode    // preformatted text, a paragraph of its own
	segMention // text is user@host; href its profile page, "" until resolved
)

type segment struct {
	kind       segKind
	text, href string
}

// Mention is a handle @User@Host written in a note. Both parts compare
// without regard to case.
type Mention struct {
	User, Host string // as written; Host may end in :port
}

// String returns the handle, @User@Host.
func (m Mention) String() string { return "@" + m.User + "@" + m.Host }

// Is reports whether m and o name the same account.
func (m Mention) Is(o Mention) bool {
	return strings.EqualFold(m.User, o.User) && strings.EqualFold(m.Host, o.Host)
}

// mentionOf reads the handle a mention segment holds.
func mentionOf(s segment) Mention {
	user, host, _ := strings.Cut(s.text, "@")
	return Mention{User: user, Host: host}
}

// linkLength is what Mastodon counts for any URL, whatever its length.
const linkLength = 23

// Text appends s, escaped. A newline becomes a line break, a blank line a
// new paragraph; "\r" is dropped.
func (c *Content) Text(s string) *Content {
	s = strings.ReplaceAll(s, "\r", "")
	for i, para := range strings.Split(s, "\n\n") {
		if i > 0 {
			c.Paragraph()
		}
		for j, line := range strings.Split(para, "\n") {
			if j > 0 {
				c.LineBreak()
			}
			if line != "" {
				c.segs = append(c.segs, segment{kind: segText, text: line})
			}
		}
	}
	return c
}

// Link appends an anchor to href showing text (href itself when text is
// empty). Anything but an absolute http or https URL is appended as text.
func (c *Content) Link(href, text string) *Content {
	if text == "" {
		text = href
	}
	u, err := url.Parse(href)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c.Text(text)
	}
	c.segs = append(c.segs, segment{kind: segLink, text: text, href: u.String()})
	return c
}

// Hashtag appends #name as a hashtag link and records it for the note's tag
// list. A name Mastodon would not accept as a tag (letters, digits and _
// only, not all digits) is appended as plain text "#name".
func (c *Content) Hashtag(name string) *Content {
	name = strings.TrimPrefix(name, "#")
	if !ValidHashtag(name) {
		return c.Text("#" + name)
	}
	c.segs = append(c.segs, segment{kind: segTag, text: name})
	return c
}

// Mention appends a mention of @user@host, unresolved: it shows as plain
// text until ResolveMention gives its profile page. A handle Parse would
// not recognise is appended as plain text.
func (c *Content) Mention(user, host string) *Content {
	handle := "@" + user + "@" + host
	if m, n := mentionAt(handle); n != len(handle) || m.User != user {
		return c.Text(handle)
	}
	c.segs = append(c.segs, segment{kind: segMention, text: user + "@" + host})
	return c
}

// Mentions returns the distinct handles mentioned, in order of first use,
// as first written.
func (c *Content) Mentions() []Mention {
	var out []Mention
	for _, s := range c.segs {
		if s.kind != segMention {
			continue
		}
		m := mentionOf(s)
		if !slices.ContainsFunc(out, m.Is) {
			out = append(out, m)
		}
	}
	return out
}

// ResolveMention makes every mention of m a link to profileURL, the
// account's page, in Mastodon's h-card form. A profileURL that is not an
// absolute http(s) URL leaves the mentions as plain text.
func (c *Content) ResolveMention(m Mention, profileURL string) *Content {
	u, err := url.Parse(profileURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c
	}
	for i, s := range c.segs {
		if s.kind == segMention && mentionOf(s).Is(m) {
			c.segs[i].href = u.String()
		}
	}
	return c
}

// Code appends s as a block of preformatted text, such as compiler
// output: in <pre><code>, escaped, with its lines and indentation kept
// (Mastodon and GoToSocial keep both). It stands as a paragraph of its
// own; blank lines around s and "\r" are dropped, and blank s adds nothing.
func (c *Content) Code(s string) *Content {
	s = strings.Trim(strings.ReplaceAll(s, "\r", ""), "\n")
	if strings.TrimSpace(s) == "" {
		return c
	}
	c.Paragraph()
	c.segs = append(c.segs, segment{kind: segCode, text: s})
	return c.Paragraph()
}

// LineBreak appends a <br>.
func (c *Content) LineBreak() *Content {
	c.segs = append(c.segs, segment{kind: segBreak})
	return c
}

// Paragraph ends the current paragraph; what follows starts a new one.
func (c *Content) Paragraph() *Content {
	c.segs = append(c.segs, segment{kind: segPara})
	return c
}

// IsEmpty reports whether c holds no visible text.
func (c *Content) IsEmpty() bool {
	for _, s := range c.segs {
		if s.kind != segBreak && s.kind != segPara && strings.TrimSpace(s.text) != "" {
			return false
		}
	}
	return true
}

// Tags returns the distinct hashtags in order of first use, as written.
func (c *Content) Tags() []string {
	var tags []string
	seen := map[string]bool{}
	for _, s := range c.segs {
		if s.kind == segTag && !seen[strings.ToLower(s.text)] {
			seen[strings.ToLower(s.text)] = true
			tags = append(tags, s.text)
		}
	}
	return tags
}

// paragraphs groups segments into paragraphs, dropping empty ones and line
// breaks at a paragraph's start or end.
func (c *Content) paragraphs() [][]segment {
	var out [][]segment
	var cur []segment
	flush := func() {
		for len(cur) > 0 && cur[len(cur)-1].kind == segBreak {
			cur = cur[:len(cur)-1]
		}
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur = nil
	}
	for _, s := range c.segs {
		switch {
		case s.kind == segPara:
			flush()
		case s.kind == segCode:
			flush()
			cur = []segment{s}
			flush()
		case s.kind == segBreak && len(cur) == 0:
		default:
			cur = append(cur, s)
		}
	}
	flush()
	return out
}

// HTML renders the body; tagURL maps a hashtag name to its page.
func (c *Content) HTML(tagURL func(name string) string) string {
	var b strings.Builder
	for _, para := range c.paragraphs() {
		if para[0].kind == segCode {
			b.WriteString("<pre><code>" + html.EscapeString(para[0].text) + "</code></pre>")
			continue
		}
		b.WriteString("<p>")
		for _, s := range para {
			switch s.kind {
			case segText:
				b.WriteString(html.EscapeString(s.text))
			case segBreak:
				b.WriteString("<br>")
			case segLink:
				b.WriteString(`<a href="` + html.EscapeString(s.href) + `" rel="nofollow noopener noreferrer" target="_blank">` +
					html.EscapeString(s.text) + `</a>`)
			case segTag:
				b.WriteString(`<a href="` + html.EscapeString(tagURL(strings.ToLower(s.text))) +
					`" class="mention hashtag" rel="tag">#<span>` + html.EscapeString(s.text) + `</span></a>`)
			case segMention:
				writeMention(&b, s)
			}
		}
		b.WriteString("</p>")
	}
	return b.String()
}

// writeMention renders a mention: Mastodon's h-card link showing @user
// once resolved, the handle as text before.
func writeMention(b *strings.Builder, s segment) {
	if s.href == "" {
		b.WriteString(html.EscapeString("@" + s.text))
		return
	}
	b.WriteString(`<span class="h-card" translate="no"><a href="` + html.EscapeString(s.href) +
		`" class="u-url mention">@<span>` + html.EscapeString(mentionOf(s).User) + `</span></a></span>`)
}

// PlainText renders the body as text: paragraphs separated by a blank line,
// links as their visible text, hashtags as #name, mentions as @user@host.
func (c *Content) PlainText() string {
	var b strings.Builder
	for i, para := range c.paragraphs() {
		if i > 0 {
			b.WriteString("\n\n")
		}
		for _, s := range para {
			switch s.kind {
			case segText, segLink, segCode:
				b.WriteString(s.text)
			case segBreak:
				b.WriteString("\n")
			case segTag:
				b.WriteString("#" + s.text)
			case segMention:
				b.WriteString("@" + s.text)
			}
		}
	}
	return b.String()
}

// Length counts the body as Mastodon counts a status: characters of the
// plain text, except that every link counts linkLength whatever it shows
// and a mention counts as @user, without its host.
func (c *Content) Length() int {
	n := 0
	for i, para := range c.paragraphs() {
		if i > 0 {
			n += 2
		}
		for _, s := range para {
			switch s.kind {
			case segText, segCode:
				n += utf8.RuneCountInString(s.text)
			case segLink:
				n += linkLength
			case segBreak:
				n++
			case segTag:
				n += 1 + utf8.RuneCountInString(s.text)
			case segMention:
				n += 1 + utf8.RuneCountInString(mentionOf(s).User)
			}
		}
	}
	return n
}

// ValidHashtag reports whether name (without '#') is a tag Mastodon accepts:
// letters, digits and underscores, with at least one non-digit.
func ValidHashtag(name string) bool {
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return false
	}
	nonDigit := false
	for _, r := range name {
		switch {
		case unicode.IsLetter(r) || r == '_':
			nonDigit = true
		case unicode.IsDigit(r):
		default:
			return false
		}
	}
	return nonDigit
}

// Parse turns plain text into Content: blank lines separate paragraphs,
// newlines become line breaks, http(s) URLs become links, #words become
// hashtags and @user@host handles become (unresolved) mentions. This is
// what `nuttx-feed post` publishes.
func Parse(s string) *Content {
	c := &Content{}
	s = strings.ReplaceAll(s, "\r", "")
	var text strings.Builder
	flushText := func() {
		if text.Len() > 0 {
			c.Text(text.String())
			text.Reset()
		}
	}
	for i := 0; i < len(s); {
		rest := s[i:]
		prev := rune(' ')
		if i > 0 {
			prev, _ = utf8.DecodeLastRuneInString(s[:i])
		}
		boundary := !isWordRune(prev) && prev != '/' && prev != '#'
		if boundary && (strings.HasPrefix(rest, "http://") || strings.HasPrefix(rest, "https://")) {
			if n := urlLength(rest); n > 0 {
				flushText()
				c.Link(rest[:n], rest[:n])
				i += n
				continue
			}
		}
		if boundary && prev != '=' && prev != '@' && rest[0] == '@' {
			if m, n := mentionAt(rest); n > 0 {
				flushText()
				c.Mention(m.User, m.Host)
				i += n
				continue
			}
		}
		if boundary && rest[0] == '#' {
			if n := tagLength(rest[1:]); n > 0 && ValidHashtag(rest[1:1+n]) {
				flushText()
				c.Hashtag(rest[1 : 1+n])
				i += 1 + n
				continue
			}
		}
		_, size := utf8.DecodeRuneInString(rest)
		text.WriteString(rest[:size])
		i += size
	}
	flushText()
	return c
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }

// urlLength returns the length of the URL at the start of s: up to the first
// space, without trailing punctuation (and without a closing parenthesis
// that has no opening one inside the URL).
func urlLength(s string) int {
	end := strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '<' || r == '>' || r == '"' })
	if end < 0 {
		end = len(s)
	}
	u := s[:end]
	for len(u) > 0 {
		last := u[len(u)-1]
		if strings.IndexByte(".,;:!?'", last) >= 0 || (last == ')' && strings.Count(u, "(") < strings.Count(u, ")")) {
			u = u[:len(u)-1]
			continue
		}
		break
	}
	if p, err := url.Parse(u); err != nil || p.Host == "" {
		return 0
	}
	return len(u)
}

// tagLength returns the byte length of the run of tag characters at s.
func tagLength(s string) int {
	n := 0
	for _, r := range s {
		if !isWordRune(r) {
			break
		}
		n += utf8.RuneLen(r)
	}
	return n
}

// Limits of a handle: longer parts are not taken for a mention.
const (
	maxMentionUser = 64
	maxMentionHost = 253
)

// mentionAt reads the handle @user@host at the start of s (which begins
// with '@') and returns it with its length in bytes, or n 0 when s does
// not start with one. The grammar is Mastodon's: the user is ASCII
// letters, digits and _, with . and - inside; the host is letters and
// digits in labels joined by . or -, and may end in :port (test servers
// and intranets). A handle followed by another '@' is no mention.
func mentionAt(s string) (m Mention, n int) {
	user := wordRun(s[1:], func(r rune) bool { return r < utf8.RuneSelf && isWordRune(r) })
	if user == "" || len(user) > maxMentionUser || len(s) <= 1+len(user) || s[1+len(user)] != '@' {
		return Mention{}, 0
	}
	rest := s[2+len(user):]
	host := wordRun(rest, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) })
	if host == "" || len(host) > maxMentionHost {
		return Mention{}, 0
	}
	if p := portLength(rest[len(host):]); p > 0 {
		host = rest[:len(host)+p]
	}
	n = 2 + len(user) + len(host)
	if next, _ := utf8.DecodeRuneInString(s[n:]); next == '@' || isWordRune(next) {
		return Mention{}, 0
	}
	return Mention{User: user, Host: host}, n
}

// wordRun returns the longest prefix of s made of runs of word runes (as
// word tells) joined by single or repeated '.' and '-', starting and
// ending with a word rune.
func wordRun(s string, word func(rune) bool) string {
	end := 0 // just past the last word rune
	for i, r := range s {
		switch {
		case word(r):
			end = i + utf8.RuneLen(r)
		case (r == '.' || r == '-') && end > 0:
		default:
			return s[:end]
		}
	}
	return s[:end]
}

// portLength returns the length of ":port" at the start of s (1 to 5
// digits, at most 65535), or 0.
func portLength(s string) int {
	if len(s) < 2 || s[0] != ':' {
		return 0
	}
	n := 1
	for n < len(s) && n <= 6 && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	if n == 1 || n > 6 {
		return 0
	}
	port, err := strconv.Atoi(s[1:n])
	if err != nil || port < 1 || port > 65535 {
		return 0
	}
	return n
}
