package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/store/storetest"
)

// postNotes stores a note of a for each text, and returns their row ids.
func postNotes(t testing.TB, db *storetest.DB, a *store.Actor, texts ...string) []int64 {
	t.Helper()
	seqs := make([]int64, len(texts))
	update(t, db, func(tx *store.Tx) error {
		for i, text := range texts {
			n := store.Note{PublicID: "n" + string(rune('a'+i)), ActorID: a.ID, Content: "<p>x</p>", Source: text, Published: tx.Now}
			if err := tx.InsertNote(&n); err != nil {
				return err
			}
			seqs[i] = n.Seq
		}
		return nil
	})
	return seqs
}

// search runs SearchNotes on db, failing the test on error.
func search(t testing.TB, db *storetest.DB, input string) store.SearchResults {
	t.Helper()
	var res store.SearchResults
	err := db.View(context.Background(), func(tx *store.Tx) (err error) {
		res, err = tx.SearchNotes(input, 1)
		return err
	})
	if err != nil {
		t.Fatalf("search %.40q: %v", input, err)
	}
	return res
}

// found lists the public ids of what a search found, in order.
func found(res store.SearchResults) []string {
	var ids []string
	for _, r := range res.Results {
		ids = append(ids, r.Note.PublicID)
	}
	return ids
}

// marked lists the matched runs of a result's snippet.
func marked(r store.SearchResult) []string {
	var out []string
	for _, p := range r.Snippet {
		if p.Match {
			out = append(out, p.Text)
		}
	}
	return out
}

const compilerError = "esp32c3-devkit:nsh failed (risc-v)\narch/risc-v/src/common/riscv_exit.c:42: error: implicit declaration of function 'up_exit'"

// TestSearchFindsBuildWords: file names, compiler messages and board names
// are found whole and by their parts, with the matching words marked.
func TestSearchFindsBuildWords(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	a := actor(t, db, "bot")
	postNotes(t, db, a, compilerError, "sim:nsh recovered, nothing implicit here")
	for query, want := range map[string][]string{
		"riscv_exit.c":                    {"riscv_exit.c"},
		"implicit declaration":            {"implicit", "declaration"},
		"esp32c3":                         {"esp32c3"},
		"esp32c3-devkit:nsh":              {"esp32c3-devkit:nsh"},
		"RISCV_EXIT":                      {"riscv_exit"},
		`up_exit riscv_exit.c:42: error:`: {"riscv_exit.c:42", "error", "up_exit"},
	} {
		res := search(t, db, query)
		if got := found(res); len(got) != 1 || got[0] != "na" {
			t.Errorf("%q found %v, want the compiler error only", query, got)
			continue
		}
		if got := marked(res.Results[0]); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%q marked %q, want %q", query, got, want)
		}
	}
	if got := found(search(t, db, "implicit")); len(got) != 2 {
		t.Errorf("implicit found %v, want both notes", got)
	}
	// The snippet, put back together without its marks, is the note's text.
	var text strings.Builder
	for _, p := range search(t, db, "esp32c3").Results[0].Snippet {
		text.WriteString(p.Text)
	}
	if text.String() != compilerError {
		t.Errorf("snippet text %q, want the note's text", text.String())
	}
}

// TestSearchRanksByRelevance: a note with the word twice in a short text
// ranks above one with it once in a long text, whichever is newer.
func TestSearchRanksByRelevance(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	a := actor(t, db, "bot")
	long := "rv-virt:nsh failed: undefined reference to up_putc" + strings.Repeat(" while linking the kernel image", 40)
	postNotes(t, db, a, "up_putc undefined in up_putc.c", long)
	res := search(t, db, "up_putc")
	if got := found(res); len(got) != 2 || got[0] != "na" || got[1] != "nb" {
		t.Errorf("found %v, want the short note with two matches first", got)
	}
	if len(res.Results) == 2 {
		if s := res.Results[1].Snippet; len(s) == 0 || len([]rune(s[len(s)-1].Text)) > 400 || !strings.HasSuffix(s[len(s)-1].Text, "…") {
			t.Errorf("long note's snippet %+v, want an excerpt ending in …", s)
		}
	}
	for i := 0; i < store.MaxSearchResults+1; i++ {
		update(t, db, func(tx *store.Tx) error {
			n := store.Note{PublicID: "bulk" + strings.Repeat("x", i+1), ActorID: a.ID, Content: "x", Source: "flood " + strings.Repeat("filler ", i), Published: tx.Now}
			return tx.InsertNote(&n)
		})
	}
	first := search(t, db, "flood")
	if len(first.Results) != store.MaxSearchResults || !first.More || first.Results[0].Note.PublicID != "bulkx" {
		t.Errorf("flood: %d results, more %v, first %s; want %d, more, the shortest first", len(first.Results), first.More, first.Results[0].Note.PublicID, store.MaxSearchResults)
	}
	var second store.SearchResults
	if err := db.View(context.Background(), func(tx *store.Tx) (err error) { second, err = tx.SearchNotes("flood", 2); return err }); err != nil {
		t.Fatal(err)
	}
	if got := found(second); len(got) != 1 || second.More || got[0] != "bulk"+strings.Repeat("x", store.MaxSearchResults+1) {
		t.Errorf("flood, page 2: %v (more %v), want the longest note alone", got, second.More)
	}
}

// TestSearchTooManyToRank: past a thousand matching texts, a search shows
// the newest posts, says so, and still finds each post once.
func TestSearchTooManyToRank(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	a := actor(t, db, "bot")
	update(t, db, func(tx *store.Tx) error {
		for i := range 700 {
			n := store.Note{PublicID: fmt.Sprintf("p%04d", i), ActorID: a.ID, Content: "x", Source: fmt.Sprintf("sim:nsh%d error%s", i, strings.Repeat(" filler", i%7)), Published: tx.Now}
			if err := tx.InsertNote(&n); err != nil {
				return err
			}
			r := store.FailureRecord{Msg: "error: again", Note: "https://feed.example/users/bot/statuses/" + n.PublicID}
			if _, err := tx.ClaimFailure(store.FailureID{Target: fmt.Sprintf("sim:nsh%d", i), User: "host"}, r); err != nil {
				return err
			}
		}
		return nil
	})
	res := search(t, db, "error")
	got := found(res)
	if !res.Newest || !res.More || len(got) != store.MaxSearchResults || got[0] != "p0699" || got[1] != "p0698" || got[49] != "p0650" {
		t.Errorf("1,400 matches: newest %v, more %v, found %d from %v; want the newest 50, p0699 first", res.Newest, res.More, len(got), got[:min(3, len(got))])
	}
	if r := res.Results[0]; r.Target != "sim:nsh699" || strings.Join(marked(r), " ") != "error" {
		t.Errorf("newest result: target %q, marks %q; want its failure's error excerpt", r.Target, marked(r))
	}
	if res := search(t, db, "nsh650"); res.Newest || len(res.Results) != 1 {
		t.Errorf("one match: newest %v, %d results; want it ranked, once", res.Newest, len(res.Results))
	}
}

// TestSearchLeavesOutDeletedAndUnlisted: a deleted note (text blanked by
// DeleteNote) and an unlisted one are never found, and the index stays
// consistent with the notes table through the delete.
func TestSearchLeavesOutDeletedAndUnlisted(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	a := actor(t, db, "bot")
	seqs := postNotes(t, db, a, "qemu-armv7a:nsh broke", "qemu-armv7a:knsh broke")
	update(t, db, func(tx *store.Tx) error {
		n := store.Note{PublicID: "quiet", ActorID: a.ID, Content: "x", Source: "qemu-armv7a:smp broke", Visibility: store.Unlisted, Published: tx.Now}
		if err := tx.InsertNote(&n); err != nil {
			return err
		}
		_, _, err := tx.DeleteNote(seqs[0], []byte(`{}`))
		return err
	})
	if got := found(search(t, db, "qemu-armv7a broke")); len(got) != 1 || got[0] != "nb" {
		t.Errorf("found %v, want only the standing public note", got)
	}
	// FTS5's own check of an external-content index against its table.
	if _, err := db.SQL.Exec(`INSERT INTO notes_fts (notes_fts, rank) VALUES ('integrity-check', 1)`); err != nil {
		t.Errorf("index integrity: %v", err)
	}
	if got := found(search(t, db, "knsh")); len(got) != 1 {
		t.Errorf("knsh found %v", got)
	}
}

// TestSearchHostileInput: FTS5 syntax, quotes, punctuation alone and 10 KB
// of text are searched as words, never as syntax, and never fail.
func TestSearchHostileInput(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	a := actor(t, db, "bot")
	postNotes(t, db, a, `sim:nsh said "NEAR" (twice) -x ^y col:umn *`)
	for _, q := range []string{`"`, `""`, `"sim`, `*`, `(`, `)`, `NEAR`, `NEAR(sim nsh)`, `sim:nsh`, `source:sim`, `^sim`, `-x`, `sim OR zz`, `sim NOT nsh`,
		`sim AND`, `{source}: sim`, `NEAR/2`, "\x00", "\x000", "sim\x00nsh", "\x02sim\x03", `' OR 1=1 --`, strings.Repeat(`"(*^:-NEAR `, 1000), strings.Repeat("a", 10240)} {
		search(t, db, q)
	}
	// Operators are words: "sim OR zz" needs zz, which no note holds.
	if got := found(search(t, db, "sim OR zz")); len(got) != 0 {
		t.Errorf("sim OR zz found %v: OR was taken as an operator", got)
	}
	if got := found(search(t, db, `NEAR "twice"`)); len(got) != 1 {
		t.Errorf(`NEAR "twice" found %v, want the note that says both`, got)
	}
	for _, q := range []string{"", "   ", `* ( ) ^ - :`} {
		if res := search(t, db, q); len(res.Results) != 0 || len(res.Words) != 0 {
			t.Errorf("%q: %+v, want no words and no results", q, res)
		}
	}
	var many []string
	for i := range 100 {
		many = append(many, fmt.Sprint("word", i))
	}
	_, words, cut := store.SearchQuery(strings.Join(many, " ") + strings.Repeat("y", 500))
	if len(words) != store.MaxSearchTerms || !cut {
		t.Errorf("100 words: %d searched, cut %v; want %d, cut", len(words), cut, store.MaxSearchTerms)
	}
	// A word given twice is searched once; tokens count across words, and
	// the word that crosses MaxSearchTokens is cut there.
	if _, words, cut := store.SearchQuery("sim:nsh SIM:NSH up_exit sim:nsh"); strings.Join(words, " ") != "sim:nsh up_exit" || cut {
		t.Errorf("repeated words: %q (cut %v), want each once", words, cut)
	}
	// U+19B0 is a letter to Go and a separator to SQLite's tokenizer: a
	// word joined by it is many tokens to FTS5, and counts as many here.
	var joined []string
	for range 16 {
		joined = append(joined, strings.Repeat("error\u19b0", 50))
	}
	_, words, _ = store.SearchQuery(strings.Join(joined, " x"))
	ascii := 0
	for _, w := range words {
		ascii += len(strings.FieldsFunc(w, func(r rune) bool { return r >= utf8.RuneSelf || !unicode.IsLetter(r) && !unicode.IsDigit(r) }))
	}
	if ascii > store.MaxSearchTokens {
		t.Errorf("words joined by U+19B0 search %d ASCII tokens, past the %d of a search", ascii, store.MaxSearchTokens)
	}
	long := strings.Repeat("a-", 19) + "a" // 20 tokens
	q, words, cut := store.SearchQuery(long + " b." + long + " never")
	if len(words) != 2 || words[1] != "b."+strings.Repeat("a-", 10)+"a" || !cut || !strings.HasSuffix(q, `AND "b.`+strings.Repeat("a-", 10)+`a"`) {
		t.Errorf("past %d tokens: %q (cut %v), query %s", store.MaxSearchTokens, words, cut, q)
	}
	if q, _, _ := store.SearchQuery(`a"b c`); q != `"a""b" AND "c"` {
		t.Errorf(`SearchQuery(a"b c) = %s`, q)
	}
}

// TestSearchMarkersInText: a note holding the marker characters is shown
// whole, unmarked, rather than with marks in the wrong places.
func TestSearchMarkersInText(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	a := actor(t, db, "bot")
	postNotes(t, db, a, "weird \x02log\x03 output from arm")
	res := search(t, db, "arm")
	if len(res.Results) != 1 || len(res.Results[0].Snippet) != 1 || res.Results[0].Snippet[0].Match ||
		res.Results[0].Snippet[0].Text != "weird log output from arm" {
		t.Errorf("snippet %+v, want one unmarked run without markers", res.Results)
	}
}

// claimFailures records a failure of target announced by the note with the
// given public id, for each msg.
func claimFailures(t testing.TB, db *storetest.DB, target, noteID string, msgs ...string) {
	t.Helper()
	update(t, db, func(tx *store.Tx) error {
		for i, msg := range msgs {
			id := store.FailureID{Target: target, User: "host", NuttxHash: noteID + string(rune('a'+i))}
			r := store.FailureRecord{Score: 0, URL: "https://log/" + id.NuttxHash, Msg: msg, Note: "https://feed.example/users/bot/statuses/" + noteID}
			if _, err := tx.ClaimFailure(id, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// TestSearchFindsStoredBuildErrors: a failure is found by any word of its
// whole build error, also when its post cut the error or was a digest
// showing none of it. The result is the note that announced it, once, with
// an excerpt of the error and its target; a deleted note's failures are
// not found, and the index stays consistent with its table.
func TestSearchFindsStoredBuildErrors(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	a := actor(t, db, "bot")
	seqs := postNotes(t, db, a, "Build failures: rv-virt:citest, sim:nsh", "rv-virt:nsh failed: up_exit…")
	claimFailures(t, db, "rv-virt:citest", "na", compilerError)
	claimFailures(t, db, "sim:nsh", "na", "undefined reference to `foo'")
	claimFailures(t, db, "rv-virt:nsh", "nb", "error: up_exit\n"+strings.Repeat("  noise line\n", 200)+"ld: zzlinker gave up")
	claimFailures(t, db, "qemu:nsh", "", "implicit declaration of an unannounced failure")

	res := search(t, db, "implicit declaration")
	if got := found(res); len(got) != 1 || got[0] != "na" {
		t.Fatalf("implicit declaration: found %v, want the digest na once", got)
	}
	if r := res.Results[0]; r.Target != "rv-virt:citest" || strings.Join(marked(r), " ") != "implicit declaration" {
		t.Errorf("digest result: target %q, marked %q; want rv-virt:citest and the two words", r.Target, marked(r))
	}
	res = search(t, db, "zzlinker")
	if got := found(res); len(got) != 1 || got[0] != "nb" || res.Results[0].Target != "rv-virt:nsh" {
		t.Errorf("zzlinker (only deep in the stored log): found %v %+v, want nb by rv-virt:nsh", got, res.Results)
	}
	if got := found(search(t, db, "up_exit")); len(got) != 2 {
		t.Errorf("up_exit: found %v, want each note once (nb matches by its text and by its failure)", got)
	}
	if got := found(search(t, db, "sim:nsh")); len(got) != 1 || got[0] != "na" {
		t.Errorf("sim:nsh: found %v, want na once", got)
	}
	update(t, db, func(tx *store.Tx) error {
		_, _, err := tx.DeleteNote(seqs[1], []byte(`{}`))
		return err
	})
	if got := found(search(t, db, "zzlinker")); len(got) != 0 {
		t.Errorf("zzlinker after its note was deleted: found %v", got)
	}
	if _, err := db.SQL.Exec(`INSERT INTO failures_fts (failures_fts, rank) VALUES ('integrity-check', 1)`); err != nil {
		t.Errorf("index integrity: %v", err)
	}
}

// FuzzSearchQuery: whatever a visitor types, the query made of it is never
// FTS5 syntax: it runs without error over both indexes, and searches at
// most MaxSearchTerms words, each with a letter or a digit.
func FuzzSearchQuery(f *testing.F) {
	for _, seed := range []string{"riscv_exit.c", `"NEAR(a b)" OR c*`, "^x -y z:w", "\x00\x02\x03", "é€ 字", strings.Repeat("a ", 20)} {
		f.Add(seed)
	}
	db := storetest.Open(f)
	a := actor(f, db, "bot")
	postNotes(f, db, a, compilerError)
	claimFailures(f, db, "rv-virt:nsh", "na", compilerError)
	f.Fuzz(func(t *testing.T, input string) {
		_, words, _ := store.SearchQuery(input)
		tokens := 0
		for _, w := range words {
			tokens += len(strings.FieldsFunc(w, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }))
		}
		if len(words) > store.MaxSearchTerms || tokens > store.MaxSearchTokens {
			t.Fatalf("%d words, %d tokens searched", len(words), tokens)
		}
		search(t, db, input)
	})
}

// BenchmarkSearchNotes: a search over 10,000 failure posts and their
// 10,000 stored errors, for a word in every one of them ("error"), a word
// in one in a hundred, and a word in one.
func BenchmarkSearchNotes(b *testing.B) {
	db := storetest.Open(b)
	a := actor(b, db, "bot")
	const n = 10000
	update(b, db, func(tx *store.Tx) error {
		for i := range n {
			target := fmt.Sprintf("board%d:nsh", i)
			msg := fmt.Sprintf("arch/risc-v/src/file%d.c:%d:5: error: implicit declaration of function 'fn%d'\n   12 |   fn%d();\n      |   ^~~~\nrare%d", i, i%90, i%100, i, i)
			note := store.Note{PublicID: fmt.Sprintf("%032x", i), ActorID: a.ID, Content: "<p>x</p>", Source: target + " - Build Failed\n" + msg[:80], Published: tx.Now}
			if err := tx.InsertNote(&note); err != nil {
				return err
			}
			r := store.FailureRecord{URL: "https://log", Msg: msg, Note: "https://feed.example/users/bot/statuses/" + note.PublicID}
			if _, err := tx.ClaimFailure(store.FailureID{Target: target, User: "host"}, r); err != nil {
				return err
			}
		}
		return nil
	})
	var phrases []string // 16 long phrases of common tokens, as a visitor may type them (the cap keeps 32 tokens)
	for i := range 16 {
		phrases = append(phrases, strings.TrimSuffix(strings.Repeat([]string{"error", "implicit", "c", "arch", "v"}[i%5]+"-", 17+i), "-"))
	}
	hostile := strings.Join(phrases, " ")
	for _, q := range []string{"error", "fn42", "rare4242", hostile} {
		b.Run(strings.Fields(q)[0][:min(len(q), 12)], func(b *testing.B) {
			for b.Loop() {
				if res := search(b, db, q); len(res.Results) == 0 && q != hostile {
					b.Fatalf("%s found nothing", q)
				}
			}
		})
	}
}
