package richtext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func tagURL(name string) string { return "https://nuttx-feed.org/tags/" + name }

func TestParse(t *testing.T) {
	t.Parallel()
	tag := func(name string) string {
		return `<a href="https://nuttx-feed.org/tags/` + strings.ToLower(name) + `" class="mention hashtag" rel="tag">#<span>` + name + `</span></a>`
	}
	link := func(u string) string {
		return `<a href="` + u + `" rel="nofollow noopener noreferrer" target="_blank">` + u + `</a>`
	}
	for _, tt := range []struct {
		in, html string
		tags     []string
	}{
		{"hello", "<p>hello</p>", nil},
		{"a\nb", "<p>a<br>b</p>", nil},
		{"a\r\nb", "<p>a<br>b</p>", nil},
		{"a\n\nb\n\n\nc", "<p>a</p><p>b</p><p>c</p>", nil},
		{"\n\nlead and trail\n\n", "<p>lead and trail</p>", nil},
		{"<script>alert(1)</script> & \"q\"", "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;q&#34;</p>", nil},
		{"see https://example.org/a?b=1&c=2.", "<p>see " + strings.Replace(link("https://example.org/a?b=1&amp;c=2"), "", "", 1) + ".</p>", nil},
		{"(https://example.org/x)", "<p>(" + link("https://example.org/x") + ")</p>", nil},
		{"https://en.wikipedia.org/wiki/Foo_(bar)", "<p>" + link("https://en.wikipedia.org/wiki/Foo_(bar)") + "</p>", nil},
		{"javascript:alert(1) ftp://x.org", "<p>javascript:alert(1) ftp://x.org</p>", nil},
		{"#NuttX and #risc_v!", "<p>" + tag("NuttX") + " and " + tag("risc_v") + "!</p>", []string{"NuttX", "risc_v"}},
		{"#nuttx #NuttX", "<p>" + tag("nuttx") + " " + tag("NuttX") + "</p>", []string{"nuttx"}},
		{"#123 C# a#b #-x", "<p>#123 C# a#b #-x</p>", nil},
		{"https://x.org/#frag", "<p>" + link("https://x.org/#frag") + "</p>", nil},
		{"ünïcödé #Zürich", "<p>ünïcödé " + tag("Zürich") + "</p>", []string{"Zürich"}},
	} {
		c := Parse(tt.in)
		if got := c.HTML(tagURL); got != tt.html {
			t.Errorf("Parse(%q).HTML()\n got %s\nwant %s", tt.in, got, tt.html)
		}
		if got := c.Tags(); strings.Join(got, ",") != strings.Join(tt.tags, ",") {
			t.Errorf("Parse(%q).Tags() = %v, want %v", tt.in, got, tt.tags)
		}
	}
}

func TestContentBuilder(t *testing.T) {
	t.Parallel()
	c := (&Content{}).
		Text("rv-virt : CITEST - Build Failed (nuttxpr)").LineBreak().
		Text("Build Log: ").Link("https://gist.github.com/nuttxpr/abc#file-ci-log-L12", "gist.github.com/nuttxpr/abc").LineBreak().
		Link("javascript:alert(1)", "evil").LineBreak().
		Hashtag("NuttX").Text(" ").Hashtag("risc-v")
	want := `<p>rv-virt : CITEST - Build Failed (nuttxpr)<br>Build Log: <a href="https://gist.github.com/nuttxpr/abc#file-ci-log-L12" rel="nofollow noopener noreferrer" target="_blank">gist.github.com/nuttxpr/abc</a><br>evil<br>` +
		`<a href="https://nuttx-feed.org/tags/nuttx" class="mention hashtag" rel="tag">#<span>NuttX</span></a> #risc-v</p>`
	if got := c.HTML(tagURL); got != want {
		t.Errorf("HTML\n got %s\nwant %s", got, want)
	}
	text := "rv-virt : CITEST - Build Failed (nuttxpr)\nBuild Log: gist.github.com/nuttxpr/abc\nevil\n#NuttX #risc-v"
	if got := c.PlainText(); got != text {
		t.Errorf("PlainText = %q, want %q", got, text)
	}
	// Mastodon counts any link as 23 characters.
	wantLen := len([]rune(text)) - len("gist.github.com/nuttxpr/abc") + linkLength
	if got := c.Length(); got != wantLen {
		t.Errorf("Length = %d, want %d", got, wantLen)
	}
	if (&Content{}).IsEmpty() != true || (&Content{}).LineBreak().Paragraph().IsEmpty() != true || c.IsEmpty() {
		t.Error("IsEmpty is wrong")
	}
}

func TestValidHashtag(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{"NuttX": true, "risc_v": true, "_x": true, "x86_64": true, "Zürich": true,
		"": false, "123": false, "risc-v": false, "a b": false, "c++": false, strings.Repeat("a", 101): false} {
		if got := ValidHashtag(name); got != want {
			t.Errorf("ValidHashtag(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestCode: compiler output keeps its lines and indentation, escaped, in a
// <pre><code> block of its own, in the HTML and the plain text alike; it
// counts as its characters.
func TestCode(t *testing.T) {
	t.Parallel()
	out := "a.c:3:5: error: 'x' undeclared\n    3 |   x = <y> & 1;\n      |   ^"
	c := (&Content{}).Text("Build Failed").LineBreak().Code("\n" + out + "\r\n\n").Hashtag("NuttX")
	want := `<p>Build Failed</p><pre><code>a.c:3:5: error: &#39;x&#39; undeclared` + "\n" +
		`    3 |   x = &lt;y&gt; &amp; 1;` + "\n" + `      |   ^</code></pre>` +
		`<p><a href="https://nuttx-feed.org/tags/nuttx" class="mention hashtag" rel="tag">#<span>NuttX</span></a></p>`
	if got := c.HTML(tagURL); got != want {
		t.Errorf("HTML\n got %s\nwant %s", got, want)
	}
	text := "Build Failed\n\n" + out + "\n\n#NuttX"
	if got := c.PlainText(); got != text {
		t.Errorf("PlainText = %q, want %q", got, text)
	}
	if got := c.Length(); got != len([]rune(text)) {
		t.Errorf("Length = %d, want %d", got, len([]rune(text)))
	}
	if !(&Content{}).Code(" \n\t\n").IsEmpty() || (&Content{}).Code("x").IsEmpty() {
		t.Error("IsEmpty is wrong for code")
	}
	if got := (&Content{}).Text("a").Code("  \n").Text("b").HTML(tagURL); got != "<p>ab</p>" { // adds nothing
		t.Errorf("blank code: %s", got)
	}
}

// hcard is Mastodon's rendering of a resolved mention of user.
func hcard(profile, user string) string {
	return `<span class="h-card" translate="no"><a href="` + profile + `" class="u-url mention">@<span>` + user + `</span></a></span>`
}

// TestParseMentions: handles in Mastodon's grammar become mentions,
// wherever a word starts; e-mail addresses, URLs and near misses stay
// text. Every mention here is resolved to https://HOST/@USER.
func TestParseMentions(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, html string
		mentions []string
	}{
		{"@bob@example.org hi", "<p>" + hcard("https://example.org/@bob", "bob") + " hi</p>", []string{"@bob@example.org"}},
		{"cc @Bob_1@Mastodon.Social.", "<p>cc " + hcard("https://Mastodon.Social/@Bob_1", "Bob_1") + ".</p>", []string{"@Bob_1@Mastodon.Social"}},
		{"(@a.b-c@x-y.example.org)", "<p>(" + hcard("https://x-y.example.org/@a.b-c", "a.b-c") + ")</p>", []string{"@a.b-c@x-y.example.org"}},
		{"@a@127.0.0.1:8080, thanks", "<p>" + hcard("https://127.0.0.1:8080/@a", "a") + ", thanks</p>", []string{"@a@127.0.0.1:8080"}},
		{"@a@zürich.ch", "<p>" + hcard("https://z%C3%BCrich.ch/@a", "a") + "</p>", []string{"@a@zürich.ch"}},
		{"@a@x.org @A@X.ORG", "<p>" + hcard("https://x.org/@a", "a") + " " + hcard("https://x.org/@a", "A") + "</p>", []string{"@a@x.org"}},
		{"line\n@a@x.org", "<p>line<br>" + hcard("https://x.org/@a", "a") + "</p>", []string{"@a@x.org"}},
		// Not mentions.
		{"mail bob@example.org", "<p>mail bob@example.org</p>", nil},
		{"https://example.org/@bob@example.org", `<p><a href="https://example.org/@bob@example.org" rel="nofollow noopener noreferrer" target="_blank">https://example.org/@bob@example.org</a></p>`, nil},
		{"x=@a@b.c /@a@b.c #@a@b.c", "<p>x=@a@b.c /@a@b.c #@a@b.c</p>", nil},
		{"@bob alone, @@a@b.c, @a@@b.c, @a@b@c.d", "<p>@bob alone, @@a@b.c, @a@@b.c, @a@b@c.d</p>", nil},
		{"@.a@b.c @a.@b.c @a@.b @a@-b @é@b.c", "<p>@.a@b.c @a.@b.c @a@.b @a@-b @é@b.c</p>", nil},
		{"@" + strings.Repeat("a", 65) + "@b.c", "<p>@" + strings.Repeat("a", 65) + "@b.c</p>", nil},
		{"@a@b.c:8080x @a@b.c_d", "<p>@a@b.c:8080x @a@b.c_d</p>", nil},
	} {
		c := Parse(tt.in)
		var got []string
		for _, m := range c.Mentions() {
			got = append(got, m.String())
			c.ResolveMention(m, "https://"+m.Host+"/@"+m.User)
		}
		if strings.Join(got, ",") != strings.Join(tt.mentions, ",") {
			t.Errorf("Parse(%q).Mentions() = %v, want %v", tt.in, got, tt.mentions)
		}
		if html := c.HTML(tagURL); html != tt.html {
			t.Errorf("Parse(%q).HTML()\n got %s\nwant %s", tt.in, html, tt.html)
		}
		if text := c.PlainText(); text != strings.TrimSpace(tt.in) {
			t.Errorf("Parse(%q).PlainText() = %q", tt.in, text)
		}
	}
}

// TestMentionRendering: an unresolved mention stays plain text, escaped;
// a resolution with a URL that is not http(s) is ignored; resolving one
// handle leaves the others alone; a mention counts as @user; a mention
// inside a code block is none.
func TestMentionRendering(t *testing.T) {
	t.Parallel()
	c := Parse("@bob@x.org and @eve@y.org")
	if got, want := c.HTML(tagURL), "<p>@bob@x.org and @eve@y.org</p>"; got != want {
		t.Errorf("unresolved: %s, want %s", got, want)
	}
	c.ResolveMention(Mention{User: "BOB", Host: "X.org"}, "javascript:alert(1)")
	if got := c.HTML(tagURL); strings.Contains(got, "<a") {
		t.Errorf("a javascript: profile made a link: %s", got)
	}
	c.ResolveMention(Mention{User: "BOB", Host: "X.org"}, `https://x.org/@bob?a="<b>`)
	want := `<p>` + hcard("https://x.org/@bob?a=&#34;&lt;b&gt;", "bob") + ` and @eve@y.org</p>`
	if got := c.HTML(tagURL); got != want {
		t.Errorf("resolved:\n got %s\nwant %s", got, want)
	}
	if got, want := c.Length(), len("@bob and @eve"); got != want {
		t.Errorf("Length = %d, want %d (mentions count as @user)", got, want)
	}
	code := (&Content{}).Code("@bob@x.org")
	if len(code.Mentions()) != 0 || code.HTML(tagURL) != "<pre><code>@bob@x.org</code></pre>" {
		t.Errorf("a code block holds a mention: %v %s", code.Mentions(), code.HTML(tagURL))
	}
	built := (&Content{}).Mention("a", "b.c").Text(" ").Mention("not valid", "b.c").Mention("x", "y@z")
	if got := built.Mentions(); len(got) != 1 || got[0].String() != "@a@b.c" {
		t.Errorf("builder mentions = %v, want [@a@b.c]", got)
	}
	if got := built.PlainText(); got != "@a@b.c @not valid@b.c@x@y@z" {
		t.Errorf("builder text = %q", got)
	}
}

// FuzzParseMentions: whatever the text, Parse keeps it whole in the plain
// text, every mention it finds is a handle Mention accepts on its own, and
// it is in the text, and each mention in the HTML takes two @ of the text.
func FuzzParseMentions(f *testing.F) {
	for _, s := range []string{"@a@b.c", "x@a@b.c", "@a@b.c:80", "https://x.org/@a@b.c", "@a.b@c-d.e.", "@é@ü.de", "@a@b@c", "=@a@b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		c := Parse(s)
		if got, want := c.PlainText(), (&Content{}).Text(s).PlainText(); got != want {
			t.Fatalf("Parse(%q).PlainText() = %q, want %q", s, got, want)
		}
		for _, m := range c.Mentions() {
			if !strings.Contains(s, m.String()) {
				t.Fatalf("Parse(%q) found %v, not in the text", s, m)
			}
			if again := (&Content{}).Mention(m.User, m.Host).Mentions(); len(again) != 1 || again[0] != m {
				t.Fatalf("Parse(%q) found %v, which Mention refuses", s, m)
			}
			c.ResolveMention(m, "https://example.org/@u")
		}
		if html := c.HTML(tagURL); strings.Count(html, `class="h-card"`) > strings.Count(s, "@")/2 {
			t.Fatalf("Parse(%q).HTML() has more mentions than handles: %s", s, html)
		}
	})
}
