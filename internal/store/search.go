package store

import (
	"database/sql"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Search limits: what a query may hold and how many notes a search
// returns. A longer query is cut, not refused: a pasted compiler line
// still finds what its first words find.
const (
	MaxSearchTerms   = 16  // words searched; the rest are dropped
	maxSearchTermLen = 100 // runes of one word
	// MaxSearchTokens bounds the tokens of all the words together (the
	// tokenizer splits a word at punctuation: riscv_exit.c is 3). Each
	// word is a phrase, and a phrase of many common tokens is costly to
	// match: 16 words of 50 tokens each took seconds on 2,000 long errors.
	MaxSearchTokens  = 32
	MaxSearchResults = 50
)

// The markers snippet() puts around each match: control characters that
// notes never hold (a note that does holds them is shown without marks).
const markOpen, markClose = "\x02", "\x03"

// SearchQuery turns what a user typed into an FTS5 query that can never be
// FTS5 syntax: each word (split at white space and control characters)
// becomes a quoted string, with its quotes doubled, and the strings are
// ANDed. Words without a letter or digit (nothing the tokenizer keeps) are
// left out, and so is a word given twice (in any case); the words after
// MaxSearchTerms, or past MaxSearchTokens tokens in all, are dropped (a
// word that crosses the token limit is cut there). It returns the words
// searched, and whether any were dropped or cut; "" when no word remains.
func SearchQuery(input string) (query string, words []string, cut bool) {
	var quoted []string
	seen := map[string]bool{}
	tokens := 0
	// Control characters split words too: a NUL inside a quoted string
	// would end the query early for FTS5's parser (it reads C strings).
	for _, w := range strings.FieldsFunc(input, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		if !strings.ContainsFunc(w, isTokenRune) || seen[strings.ToLower(w)] {
			continue
		}
		if len(words) == MaxSearchTerms || tokens == MaxSearchTokens {
			cut = true
			break
		}
		seen[strings.ToLower(w)] = true
		if r := []rune(w); len(r) > maxSearchTermLen {
			w, cut = string(r[:maxSearchTermLen]), true
		}
		var n int
		if w, n = firstTokens(w, MaxSearchTokens-tokens); n < countTokens(w) || w == "" {
			cut = true
		}
		tokens += n
		words = append(words, w)
		quoted = append(quoted, `"`+strings.ReplaceAll(w, `"`, `""`)+`"`)
	}
	return strings.Join(quoted, " AND "), words, cut
}

// isTokenRune reports whether the tokenizer keeps r (unicode61: letters
// and digits; everything else separates tokens).
func isTokenRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// countTokens counts the tokens of w as tokenStarts sees them.
func countTokens(w string) int { return len(tokenStarts(w)) }

// firstTokens returns w cut after its first max tokens (tokenStarts), and
// how many tokens that keeps.
func firstTokens(w string, max int) (string, int) {
	starts := tokenStarts(w)
	if len(starts) <= max {
		return w, len(starts)
	}
	return strings.TrimRightFunc(w[:starts[max]], func(r rune) bool { return !isTokenRune(r) }), max
}

// tokenStarts returns where the tokens of w start, counted so as never to
// count fewer than the tokenizer (unicode61) makes: a run of ASCII
// letters and digits is one token, and every other letter or digit is a
// token of its own. (Unicode's tables differ between Go and SQLite: a few
// code points are letters to one and separators to the other, so a
// non-ASCII run is not trusted to be one token.)
func tokenStarts(w string) []int {
	var starts []int
	inASCII := false
	for i, r := range w {
		switch {
		case r < utf8.RuneSelf && isTokenRune(r):
			if !inASCII {
				starts = append(starts, i)
			}
			inASCII = true
		case r >= utf8.RuneSelf && isTokenRune(r):
			starts, inASCII = append(starts, i), false
		default:
			inASCII = false
		}
	}
	return starts
}

// SearchResult is one note a search found, with an excerpt around the
// matches: of the note's text, or of the stored build error of one of the
// failures it announced (Target names that failure's target).
type SearchResult struct {
	Note    *Note
	Snippet []TextPart
	Target  string // "board:config" when Snippet is a stored build error; else ""
}

// TextPart is a run of plain text; Match marks the words that matched.
type TextPart struct {
	Text  string
	Match bool
}

// SearchResults is what a search found, best first.
type SearchResults struct {
	Results []SearchResult
	Words   []string // the words searched (SearchQuery)
	Cut     bool     // words beyond MaxSearchTerms were dropped
	More    bool     // more notes matched than this page holds (MaxSearchResults)
	Newest  bool     // too many matched to rank (maxRankedMatches): the newest are shown
}

// maxRankedMatches is how many matches a search ranks by relevance. bm25
// costs a lookup per match, and a word in every post (say "error", in
// 10,000) takes about 0.2 s to rank, to find the shortest posts holding it,
// which is no use to anyone. Past this many, the newest posts are shown.
const maxRankedMatches = 1000

// searchSQL ranks the public notes still standing that match a query (?1),
// echoes of feed accounts left out (their firehose note stands for them),
// best first, at most ?2: a note matches by its own text (notes_fts) or by
// the whole build error of a failure it announced (failures_fts, 0009),
// and ranks by its best match (bm25: more matches in a shorter text first;
// then the newest). It returns each note with the failure whose error
// matched best, 0 when its own text did.
const searchSQL = `WITH hits (note, rank, failure) AS (
		SELECT rowid, rank, 0 FROM notes_fts WHERE notes_fts MATCH ?1
		UNION ALL
		SELECT n.id, failures_fts.rank, f.id FROM failures_fts
			JOIN feed_failures f ON f.id = failures_fts.rowid
			JOIN notes n ON n.id = f.note_id
			WHERE failures_fts MATCH ?1),
	best AS (SELECT note, MIN(rank) AS rank, failure FROM hits GROUP BY note)
	SELECT n.id, best.failure FROM best JOIN notes n ON n.id = best.note
	WHERE n.deleted_at IS NULL AND n.visibility = 'public' AND n.echo_of IS NULL
	ORDER BY best.rank, n.id DESC LIMIT ?2 OFFSET ?4`

// newestSQL is searchSQL for a query with too many matches to rank: the
// newest matching notes, each with its newest matching failure. Each index
// is read newest first (FTS5 walks its rowids backwards) and only its
// newest ?3 matches are taken: rowids grow with time in both tables, so
// these hold the newest notes, unless hundreds of them are deleted,
// unlisted or one digest's failures.
const newestSQL = `WITH hits (note, failure) AS (
		SELECT * FROM (SELECT rowid, 0 FROM notes_fts WHERE notes_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?3)
		UNION ALL
		SELECT * FROM (SELECT f.note_id, f.id FROM failures_fts JOIN feed_failures f ON f.id = failures_fts.rowid
			WHERE failures_fts MATCH ?1 AND f.note_id IS NOT NULL ORDER BY failures_fts.rowid DESC LIMIT ?3)),
	best AS (SELECT note, MAX(failure) AS failure FROM hits GROUP BY note)
	SELECT n.id, best.failure FROM best JOIN notes n ON n.id = best.note
	WHERE n.deleted_at IS NULL AND n.visibility = 'public' AND n.echo_of IS NULL
	ORDER BY n.id DESC LIMIT ?2 OFFSET ?4`

// newestScan is how many of the newest matches of each index newestSQL
// reads for each page of results asked for: ten pages' worth.
const newestScan = 10 * MaxSearchResults

// MaxSearchPages bounds how deep results are paged (?page=): 1,000
// results, as many as a search ranks.
const MaxSearchPages = maxRankedMatches / MaxSearchResults

// SearchNotes finds the public notes still standing whose text, or the
// stored build error of a failure they announced, holds every word of
// input: best first (searchSQL), or the newest first when more than
// maxRankedMatches texts match (newestSQL). Input is never FTS5 syntax
// (SearchQuery); input with no word finds nothing. It returns the page-th
// page of MaxSearchResults (from 1 to MaxSearchPages). The ranking reads
// row ids alone; the notes and their excerpts are read for the results
// only.
func (tx *Tx) SearchNotes(input string, page int) (SearchResults, error) {
	if page < 1 || page > MaxSearchPages {
		return SearchResults{}, fmt.Errorf("search notes: no page %d of results (from 1 to %d)", page, MaxSearchPages)
	}
	query, words, cut := SearchQuery(input)
	res := SearchResults{Words: words, Cut: cut}
	if query == "" {
		return res, nil
	}
	var matches int
	// Counted only as far as the threshold: past it, how many is no matter.
	if err := tx.queryRow(`SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM notes_fts WHERE notes_fts MATCH ?1 LIMIT ?2))
		+ (SELECT COUNT(*) FROM (SELECT 1 FROM failures_fts WHERE failures_fts MATCH ?1 LIMIT ?2))`, query, maxRankedMatches+1).Scan(&matches); err != nil {
		return SearchResults{}, fmt.Errorf("search notes: %w", err)
	}
	q := searchSQL
	if matches > maxRankedMatches {
		q, res.Newest = newestSQL, true
	}
	type hit struct{ note, failure int64 }
	found, err := queryList(tx, func(rows *sql.Rows) (h hit, err error) {
		return h, rows.Scan(&h.note, &h.failure)
	}, q, query, MaxSearchResults+1, page*newestScan, (page-1)*MaxSearchResults)
	if err != nil {
		return SearchResults{}, fmt.Errorf("search notes: %w", err)
	}
	if len(found) > MaxSearchResults {
		found, res.More = found[:MaxSearchResults], true
	}
	for _, h := range found {
		n, err := scanNote(tx.queryRow(`SELECT `+noteColumns+` FROM notes n JOIN actors a ON a.id = n.actor_id WHERE n.id = ?`, h.note))
		if err != nil {
			return SearchResults{}, fmt.Errorf("search notes: %w", err)
		}
		r, err := tx.searchSnippet(query, n, h.failure)
		if err != nil {
			return SearchResults{}, fmt.Errorf("search notes: %w", err)
		}
		res.Results = append(res.Results, r)
	}
	return res, nil
}

// searchSnippet makes the excerpt of a result: of the build error of the
// failure with row id failure, or of the note's text when failure is 0.
func (tx *Tx) searchSnippet(query string, n *Note, failure int64) (SearchResult, error) {
	r := SearchResult{Note: n}
	var snippet, text string
	var err error
	if failure == 0 {
		text = n.Source
		err = tx.queryRow(`SELECT snippet(notes_fts, 0, char(2), char(3), '…', 40) FROM notes_fts
			WHERE notes_fts MATCH ? AND rowid = ?`, query, n.Seq).Scan(&snippet)
	} else {
		err = tx.queryRow(`SELECT snippet(failures_fts, 0, char(2), char(3), '…', 40), f.target, f.msg
			FROM failures_fts JOIN feed_failures f ON f.id = failures_fts.rowid
			WHERE failures_fts MATCH ? AND failures_fts.rowid = ?`, query, failure).Scan(&snippet, &r.Target, &text)
	}
	if err != nil {
		return SearchResult{}, err
	}
	r.Snippet = splitMarks(snippet, text)
	return r, nil
}

// splitMarks cuts a snippet at its markers into text and matches. When the
// note's own text holds a marker, the markers cannot be told apart: the
// snippet is then one unmarked run, without them.
func splitMarks(snippet, source string) []TextPart {
	if strings.ContainsAny(source, markOpen+markClose) {
		clean := strings.NewReplacer(markOpen, "", markClose, "").Replace(snippet)
		return []TextPart{{Text: clean}}
	}
	var parts []TextPart
	for rest := snippet; rest != ""; {
		before, after, found := strings.Cut(rest, markOpen)
		if before != "" {
			parts = append(parts, TextPart{Text: before})
		}
		if !found {
			break
		}
		match, tail, _ := strings.Cut(after, markClose)
		parts = append(parts, TextPart{Text: match, Match: true})
		rest = tail
	}
	return parts
}
