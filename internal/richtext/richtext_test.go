package richtext

import (
	"strings"
	"testing"
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
