package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The directory of the feed's accounts (the /targets page and the
// profiles of boards and architectures): every architecture, board and
// target of the catalog (migrations/0020_feed_accounts.sql) with its
// followers and its state, read in one statement.

// DirectoryFilter selects entries of the directory; its zero value selects
// them all.
type DirectoryFilter struct {
	// Query keeps the entries whose handle or label holds it (any case of
	// ASCII letters; % and _ are plain characters); "" keeps all.
	Query string
	// Kind keeps one kind (KindArch, KindBoard or KindTarget); "" keeps
	// every kind.
	Kind string
	// Failing keeps the entries failing now: a target failing, a board or
	// architecture with at least one target failing.
	Failing bool
	// Of keeps only the targets of the board or architecture whose handle
	// it is (a board has no dot, an architecture starts with "arch.": one
	// handle names one of them); "" for no such restriction.
	Of string
}

// DirectoryEntry is an account of the directory, whether or not its actor
// exists yet.
type DirectoryEntry struct {
	Kind string // KindArch, KindBoard or KindTarget
	// Handle is its username; "" for a target the feed recorded (it
	// failed) that the catalog has not seen: it has no account.
	Handle string
	// Label is what it stands for as Prometheus names it: a target's
	// "board:config", a board, an architecture (the first in order when
	// several labels map to one handle).
	Label     string
	Arch      string // a target's architecture, "" when unknown
	Followers int    // of the actor whose username is Handle; 0 when it has no row
	Targets   int    // a board's or architecture's targets; 1 for a target
	Failing   int    // of those, the ones failing now
	// Since is when the failing target started failing (a board's or
	// architecture's: its longest-failing target's); zero when none fails.
	Since time.Time
	// A target's thread (the IRI of its root note); "" when the feed
	// recorded no failure of it (it has no target page).
	Thread string
	Hosts  []string // the build hosts failing a target now, sorted
}

// likePattern makes s a pattern of LIKE ... ESCAPE '\' that matches s
// anywhere: its %, _ and \ are matched as they are.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// directorySQL reads the directory. Its CTE t is every target: those of
// the catalog with their state (feed_targets), and those the feed
// recorded that the catalog lacks (no handles: no account); entries groups
// them into one row per target, board and architecture handle, and the
// followers of the feed's actors join by username; a failing target's
// build hosts come as a JSON list. The kind and "of" filters apply before
// the grouping (a branch of another kind is skipped whole), the search
// and the state after it. Parameters: ?1 kind,
// ?2 LIKE pattern, ?3 failing only, ?4 the handle of a board or arch whose
// targets alone are wanted.
const directorySQL = `WITH t AS MATERIALIZED (
		SELECT c.target, c.board, c.arch, c.target_handle, c.board_handle, c.arch_handle,
			COALESCE(f.thread, '') AS thread, COALESCE(f.failing, 0) AS failing,
			CASE WHEN f.failing = 1 THEN COALESCE(f.failing_since, f.changed_at) END AS since
		FROM feed_catalog c LEFT JOIN feed_targets f ON f.target = c.target
		UNION ALL
		SELECT f.target, f.board, f.arch, '', '', '', f.thread, f.failing,
			CASE WHEN f.failing = 1 THEN COALESCE(f.failing_since, f.changed_at) END
		FROM feed_targets f WHERE f.target NOT IN (SELECT target FROM feed_catalog)
	), entries AS (
		SELECT 'target' AS kind, target_handle AS handle, MIN(target) AS label, MAX(arch) AS arch, COUNT(*) AS targets,
			SUM(failing) AS failing, MIN(since) AS since, MAX(thread) AS thread
		FROM t WHERE ?1 IN ('', 'target') AND (?4 = '' OR board_handle = ?4 OR arch_handle = ?4)
		GROUP BY target_handle, CASE WHEN target_handle = '' THEN target END
		UNION ALL
		SELECT 'board', board_handle, MIN(board), '', COUNT(*), SUM(failing), MIN(since), ''
		FROM t WHERE ?1 IN ('', 'board') AND ?4 = '' AND board_handle <> '' GROUP BY board_handle
		UNION ALL
		SELECT 'arch', arch_handle, MIN(arch), '', COUNT(*), SUM(failing), MIN(since), ''
		FROM t WHERE ?1 IN ('', 'arch') AND ?4 = '' AND arch_handle <> '' GROUP BY arch_handle
	)
	SELECT e.kind, e.handle, e.label, e.arch, e.targets, e.failing, COALESCE(e.since, 0), COALESCE(n.followers, 0), e.thread,
		CASE WHEN e.kind = 'target' AND e.failing > 0 THEN (SELECT json_group_array(user) FROM
			(SELECT user FROM feed_failing WHERE target = e.label ORDER BY user)) ELSE '[]' END
	FROM entries e LEFT JOIN (
		SELECT a.username, COUNT(*) AS followers FROM actors a JOIN followers f ON f.actor_id = a.id
		WHERE a.kind IN ('board', 'target', 'arch') GROUP BY a.id
	) n ON n.username = e.handle AND e.handle <> ''
	WHERE (?2 = '%%' OR e.handle LIKE ?2 ESCAPE '\' OR e.label LIKE ?2 ESCAPE '\') AND (?3 = 0 OR e.failing > 0)`

// Directory returns the entries f selects, in no particular order (the
// pages sort them naturally), in one statement.
func (tx *Tx) Directory(f DirectoryFilter) ([]DirectoryEntry, error) {
	switch f.Kind {
	case "", KindArch, KindBoard, KindTarget:
	default:
		return nil, fmt.Errorf("directory: no kind %q", f.Kind)
	}
	out, err := queryList(tx, func(rows *sql.Rows) (DirectoryEntry, error) {
		var e DirectoryEntry
		var since int64
		var hosts string
		if err := rows.Scan(&e.Kind, &e.Handle, &e.Label, &e.Arch, &e.Targets, &e.Failing, &since, &e.Followers, &e.Thread, &hosts); err != nil {
			return e, err
		}
		if since != 0 {
			e.Since = fromMS(since)
		}
		return e, json.Unmarshal([]byte(hosts), &e.Hosts)
	}, directorySQL, f.Kind, likePattern(f.Query), f.Failing, strings.ToLower(f.Of))
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	return out, nil
}

// EchoSource returns the firehose note that echo, a feed account's note,
// repeats (notes.echo_of), deleted or not: a feed account's note page
// shows the targets of that note. ErrNotFound for a note that repeats
// none.
func (tx *Tx) EchoSource(echo *Note) (*Note, error) {
	if echo.EchoOf == 0 {
		return nil, fmt.Errorf("%w: note %s repeats no note", ErrNotFound, echo.PublicID)
	}
	n, err := scanNote(tx.queryRow(`SELECT `+noteColumns+` FROM notes n JOIN actors a ON a.id = n.actor_id WHERE n.id = ?`, echo.EchoOf))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no note %d repeated by %s", ErrNotFound, echo.EchoOf, echo.PublicID)
	}
	if err != nil {
		return nil, fmt.Errorf("load repeated note: %w", err)
	}
	return n, nil
}
