package feed

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"unicode"

	"github.com/nuttx-feed/nuttx-feed/internal/natsort"
	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
)

// Formatter writes the posts. The zero MaxChars means no limit.
type Formatter struct {
	DashboardURL    string // https://nuttx-dashboard.org
	HistoryTemplate string // with {board} and {config}
	MaxChars        int    // counted as Mastodon counts (a link is 23)
}

const (
	nuttxCommitURL = "https://github.com/apache/nuttx/commit/"
	appsCommitURL  = "https://github.com/apache/nuttx-apps/commit/"
	digestListed   = 20 // targets named in a digest
)

// History returns the build history page of b's target.
func (f Formatter) History(b Build) string {
	if f.HistoryTemplate == "" {
		return ""
	}
	return strings.NewReplacer("{board}", url.QueryEscape(b.Board), "{config}", url.QueryEscape(b.Config)).Replace(f.HistoryTemplate)
}

// title is "rv-virt : CITEST - Build Failed (nuttxpr)", as the seed wrote it.
func title(b Build, what string) string {
	name := b.Target
	if b.Board != "" && b.Config != "" {
		name = b.Board + " : " + strings.ToUpper(b.Config)
	}
	s := name + " - " + what
	if b.User != "" && !b.Rewind {
		s += " (" + b.User + ")"
	}
	return s
}

// archTag turns an arch label into a hashtag name: risc-v becomes risc_v.
func archTag(arch string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '.' || r == ' ' {
			return '_'
		}
		return r
	}, arch)
}

func tags(c *richtext.Content, arches ...string) {
	c.Hashtag("NuttX")
	seen := map[string]bool{}
	for _, a := range arches {
		t := archTag(a)
		if t != "" && !seen[strings.ToLower(t)] && richtext.ValidHashtag(t) {
			seen[strings.ToLower(t)] = true
			c.Text(" ").Hashtag(t)
		}
	}
}

// messageLines splits a build message into its lines: real newlines (the
// farm joins log lines with " \n ") and, in older series, a literal "\n".
// Indentation stays (gcc's caret lines up with the code it points at),
// less the one space the join put before each line; blank lines and
// trailing spaces go.
func messageLines(msg string) []string {
	msg = strings.ReplaceAll(strings.ReplaceAll(msg, `\n`, "\n"), "\r", "")
	var lines []string
	for i, l := range strings.Split(msg, "\n") {
		if i > 0 {
			l = strings.TrimPrefix(l, " ")
		}
		if l = strings.TrimRight(l, " \t"); strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// Failure is the post for a failed build: title, dashboard, history and log
// links, the build message (a <pre><code> block), hashtags; the message is cut to fit MaxChars.
// regressed adds the news that a recovered target fails again.
func (f Formatter) Failure(b Build, regressed bool) *richtext.Content {
	dashboard, history := f.DashboardURL, f.History(b)
	compose := func(msg string) *richtext.Content {
		c := &richtext.Content{}
		if regressed {
			c.Text("Regressed: " + b.Target + " fails again after recovering.").LineBreak()
		}
		c.Text(title(b, outcome(b.Score))).LineBreak()
		if dashboard != "" {
			c.Text("NuttX Dashboard: ").Link(dashboard, "").LineBreak()
		}
		if history != "" {
			c.Text("Build History: ").Link(history, "").LineBreak()
		}
		if b.URL != "" {
			c.Text("Build Log: ").Link(b.URL, b.URLDisplay).LineBreak()
		}
		c.Code(msg) // compiler output keeps its lines and indentation
		tags(c, b.Arch)
		return c
	}
	// With a very small limit, give up the history link, then the
	// dashboard link, before the title, the build log and the hashtags.
	if f.MaxChars > 0 && compose("").Length() > f.MaxChars {
		history = ""
	}
	if f.MaxChars > 0 && compose("").Length() > f.MaxChars {
		dashboard = ""
	}
	return f.fit(compose, strings.Join(messageLines(b.Msg), "\n"))
}

// fit returns compose(msg), or compose with msg cut at a character
// boundary and ending in "…", so that the whole post counts at most
// MaxChars. The links and hashtags, outside msg, always stay.
func (f Formatter) fit(compose func(msg string) *richtext.Content, msg string) *richtext.Content {
	c := compose(msg)
	if f.MaxChars <= 0 || c.Length() <= f.MaxChars {
		return c
	}
	runes := []rune(msg)
	cut := func(n int) string {
		for n > 0 && n < len(runes) && isExtending(runes[n]) {
			n-- // never split a character from its combining marks
		}
		return strings.TrimRight(string(runes[:n]), " \n") + "…"
	}
	lo, hi := 0, len(runes)-1 // the longest prefix that fits
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if compose(cut(mid)).Length() <= f.MaxChars {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	if lo == 0 && compose("…").Length() > f.MaxChars {
		return compose("")
	}
	return compose(cut(lo))
}

func isExtending(r rune) bool {
	return unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) || r == '\u200d' || (r >= '\ufe00' && r <= '\ufe0f')
}

func short(hash string) string {
	if len(hash) > 7 {
		return hash[:7]
	}
	return hash
}

// commitLinks writes "nuttx 0481533, apps b08c296" with links to GitHub.
func commitLinks(c *richtext.Content, cm commits) {
	switch {
	case cm.Nuttx != "" && cm.Apps != "":
		c.Text("nuttx ").Link(nuttxCommitURL+cm.Nuttx, short(cm.Nuttx)).Text(", apps ").Link(appsCommitURL+cm.Apps, short(cm.Apps))
	case cm.Nuttx != "":
		c.Text("nuttx ").Link(nuttxCommitURL+cm.Nuttx, short(cm.Nuttx))
	case cm.Apps != "":
		c.Text("apps ").Link(appsCommitURL+cm.Apps, short(cm.Apps))
	default:
		c.Text("an unknown commit")
	}
}

// Recovery is the post for a target that builds again.
func (f Formatter) Recovery(b Build) *richtext.Content {
	c := &richtext.Content{}
	c.Text(title(b, "Build Recovered")).LineBreak()
	c.Text("Builds again at ")
	commitLinks(c, commits{b.NuttxHash, b.AppsHash})
	c.Text(".").LineBreak()
	if b.URL != "" {
		c.Text("Build Log: ").Link(b.URL, b.URLDisplay).LineBreak()
	}
	tags(c, b.Arch)
	return c
}

// Break is the post for a breaking commit found by a build rewind.
func (f Formatter) Break(b Build, good, bad commits) *richtext.Content {
	c := &richtext.Content{}
	c.Text(title(b, "Breaking Commit Found")).LineBreak()
	if good.Nuttx == bad.Nuttx { // only nuttx-apps moved
		c.Text("The build broke between nuttx-apps ").Link(appsCommitURL+good.Apps, short(good.Apps)).Text(" (ok) and ").
			Link(appsCommitURL+bad.Apps, short(bad.Apps)).Text(" (failed), with nuttx at ").Link(nuttxCommitURL+bad.Nuttx, short(bad.Nuttx)).Text(".")
	} else {
		c.Text("The build broke between nuttx ").Link(nuttxCommitURL+good.Nuttx, short(good.Nuttx)).Text(" (ok) and ").
			Link(nuttxCommitURL+bad.Nuttx, short(bad.Nuttx)).Text(" (failed).")
		switch {
		case good.Apps != "" && bad.Apps != "" && good.Apps != bad.Apps:
			c.LineBreak().Text("nuttx-apps moved too: ").Link(appsCommitURL+good.Apps, short(good.Apps)).Text(" (ok), ").
				Link(appsCommitURL+bad.Apps, short(bad.Apps)).Text(" (failed).")
		case bad.Apps != "":
			c.LineBreak().Text("nuttx-apps unchanged at ").Link(appsCommitURL+bad.Apps, short(bad.Apps)).Text(".")
		}
	}
	c.LineBreak()
	if b.URL != "" {
		c.Text("Build Log: ").Link(b.URL, b.URLDisplay).LineBreak()
	}
	tags(c, b.Arch)
	return c
}

// Digest is the one post for a burst of failures: grouped by commit, then
// by arch, naming the first 20 targets (linked to their logs) and counting
// the rest.
func (f Formatter) Digest(builds []Build) *richtext.Content {
	type group struct {
		commits commits
		arches  map[string][]Build
		n       int
	}
	groups := map[commits]*group{}
	targets, users, archList := map[string]bool{}, map[string]bool{}, []string{}
	for _, b := range builds {
		cm := commits{b.NuttxHash, b.AppsHash}
		g := groups[cm]
		if g == nil {
			g = &group{commits: cm, arches: map[string][]Build{}}
			groups[cm] = g
		}
		if !targets[b.Target] {
			g.arches[b.Arch] = append(g.arches[b.Arch], b)
			g.n++
		}
		targets[b.Target] = true
		if b.User != "" {
			users[b.User] = true
		}
	}
	ordered := make([]*group, 0, len(groups))
	for _, g := range groups {
		ordered = append(ordered, g)
	}
	sort.Slice(ordered, func(i, j int) bool {
		if ordered[i].n != ordered[j].n {
			return ordered[i].n > ordered[j].n
		}
		return ordered[i].commits.Nuttx < ordered[j].commits.Nuttx
	})

	c := digestHeader(fmt.Sprintf("%d NuttX targets failed to build", len(targets)), users)
	listed := 0
	for _, g := range ordered {
		if listed == digestListed {
			break
		}
		c.Text("At ")
		commitLinks(c, g.commits)
		c.Text(":").LineBreak()
		archList = append(archList, f.archLines(c, g.arches, &listed)...)
	}
	f.digestFooter(c, len(targets)-listed, archList)
	return c
}

// targetLinks writes the targets of bs in order, comma-separated, each
// linked to its build log (else its history), in natural order (board2
// before board10), while fewer than
// digestListed targets are listed; listed counts them.
func (f Formatter) targetLinks(c *richtext.Content, bs []Build, listed *int) {
	sort.Slice(bs, func(i, j int) bool { return natsort.Less(bs[i].Target, bs[j].Target) })
	for i, b := range bs {
		if *listed == digestListed {
			return
		}
		if i > 0 {
			c.Text(", ")
		}
		if u := f.digestLink(b); u != "" {
			c.Link(u, b.Target)
		} else {
			c.Text(b.Target)
		}
		*listed++
	}
}

// maxDigestLink bounds the bytes of a URL a digest links a target to. A
// link counts as 23 characters whatever its length, so the character
// budget does not bound a digest's bytes: 20 build logs of 2 KiB (twice,
// in content and contentMap) would make a note over the 60 KiB an
// activity may have, and the feed would be stuck on it.
const maxDigestLink = 512

// digestLink is where a digest links target b: its build log, else its
// history, whichever is short enough; "" for none.
func (f Formatter) digestLink(b Build) string {
	for _, u := range []string{b.URL, f.History(b)} {
		if u != "" && len(u) <= maxDigestLink {
			return u
		}
	}
	return ""
}

// digestUsers bounds the build hosts a digest's first line names.
const digestUsers = 5

// sortedKeys returns the keys of m in natural order.
func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return natsort.Less(keys[i], keys[j]) })
	return keys
}

// RecoveryDigest is the one post for a burst of recoveries: by arch, naming
// the first 20 targets (linked to the build that recovered them) and
// counting the rest.
func (f Formatter) RecoveryDigest(recovered []Build) *richtext.Content {
	byArch := map[string][]Build{}
	users := map[string]bool{}
	for _, b := range recovered {
		byArch[b.Arch] = append(byArch[b.Arch], b)
		if b.User != "" {
			users[b.User] = true
		}
	}
	c := digestHeader(fmt.Sprintf("%d NuttX targets build again", len(recovered)), users)
	listed := 0
	arches := f.archLines(c, byArch, &listed)
	f.digestFooter(c, len(recovered)-listed, arches)
	return c
}

// archLines writes a line per arch of byArch, in name order ("other" for
// none), naming its targets, while fewer than digestListed targets are
// listed; listed counts them. It returns the arches it wrote.
func (f Formatter) archLines(c *richtext.Content, byArch map[string][]Build, listed *int) []string {
	var written []string
	for _, a := range sortedKeys(keysOf(byArch)) {
		if *listed == digestListed {
			break
		}
		name := a
		if name == "" {
			name = "other"
		}
		c.Text(name + ": ")
		f.targetLinks(c, byArch[a], listed)
		c.LineBreak()
		written = append(written, a)
	}
	return written
}

// digestHeader starts a digest: its first line, naming the build hosts.
func digestHeader(first string, users map[string]bool) *richtext.Content {
	c := &richtext.Content{}
	c.Text(first)
	if names := sortedKeys(users); len(names) > digestUsers {
		c.Text(fmt.Sprintf(" (%s and %d more)", strings.Join(names[:digestUsers], ", "), len(names)-digestUsers))
	} else if len(names) > 0 {
		c.Text(" (" + strings.Join(names, ", ") + ")")
	}
	return c.LineBreak()
}

// digestFooter ends a digest: how many targets were not named, the
// dashboard, and the hashtags of the first five arches.
func (f Formatter) digestFooter(c *richtext.Content, unnamed int, arches []string) {
	if unnamed > 0 {
		c.Text(fmt.Sprintf("and %d more", unnamed)).LineBreak()
	}
	if f.DashboardURL != "" {
		c.Text("NuttX Dashboard: ").Link(f.DashboardURL, "").LineBreak()
	}
	tags(c, arches[:min(5, len(arches))]...)
}
