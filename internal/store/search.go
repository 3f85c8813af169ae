package store

import (
	"database/sql"
	"fmt"
	"strings"
	"unicode"
)

// Search limits: what a query may hold and how many notes a search
// returns. A longer query is cut, not refused: a pasted compiler line
// still finds what its first words find.
const (
	MaxSearchTerms   = 16  // words searched; the rest are dropped
	maxSearchTermLen = 100 // runes of one word
	MaxSearchResults = 50
)

// The markers snippet() puts around each match: control characters that
// notes never hold (a note that does holds them is shown without marks).
const markOpen, markClose = "\x02", "\x03"

// SearchQuery turns what a user typed into an FTS5 query that can never be
// FTS5 syntax: each word (split at white space) becomes a quoted string, with
// its quotes doubled, and the strings are ANDed. Words without a letter or
// digit (nothing the tokenizer keeps) are left out, and so are the words
// after MaxSearchTerms. It returns the words searched, and whether any were
// dropped for the limit; "" when no word remains.
func SearchQuery(input string) (query string, words []string, cut bool) {
	var quoted []string
	for _, w := range strings.Fields(input) {
		if !strings.ContainsFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) {
			continue
		}
		if len(words) == MaxSearchTerms {
			return strings.Join(quoted, " AND "), words, true
		}
		if r := []rune(w); len(r) > maxSearchTermLen {
			w = string(r[:maxSearchTermLen])
		}
		words = append(words, w)
		quoted = append(quoted, `"`+strings.ReplaceAll(w, `"`, `""`)+`"`)
	}
	return strings.Join(quoted, " AND "), words, false
}

// SearchResult is one note a search found, with an excerpt of its text
// around the matches.
type SearchResult struct {
	Note    *Note
	Snippet []TextPart
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
	More    bool     // more than MaxSearchResults notes matched
}

// SearchNotes finds the public notes still standing whose text holds every
// word of input, ranked by bm25 (more matches in a shorter text first, then
// the newest). Input is never FTS5 syntax (SearchQuery); input with no
// word finds nothing.
func (tx *Tx) SearchNotes(input string) (SearchResults, error) {
	query, words, cut := SearchQuery(input)
	res := SearchResults{Words: words, Cut: cut}
	if query == "" {
		return res, nil
	}
	q := `SELECT ` + noteColumns + `, snippet(notes_fts, 0, char(2), char(3), '…', 40)
		FROM notes_fts JOIN notes n ON n.id = notes_fts.rowid JOIN actors a ON a.id = n.actor_id
		WHERE notes_fts MATCH ? AND n.deleted_at IS NULL AND n.visibility = 'public'
		ORDER BY notes_fts.rank, n.id DESC LIMIT ?`
	found, err := queryList(tx, scanSearchResult, q, query, MaxSearchResults+1)
	if err != nil {
		return SearchResults{}, fmt.Errorf("search notes: %w", err)
	}
	if len(found) > MaxSearchResults {
		found, res.More = found[:MaxSearchResults], true
	}
	res.Results = found
	return res, nil
}

// scanSearchResult reads a note and its snippet.
func scanSearchResult(rows *sql.Rows) (SearchResult, error) {
	var snippet string
	n, err := scanNote(scanWith{rows, &snippet})
	if err != nil {
		return SearchResult{}, err
	}
	return SearchResult{Note: n, Snippet: splitMarks(snippet, n.Source)}, nil
}

// scanWith scans a row into a note's columns followed by extra.
type scanWith struct {
	row   rowScanner
	extra any
}

func (s scanWith) Scan(dest ...any) error { return s.row.Scan(append(dest, s.extra)...) }

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
