// Package store is nuttx-feed's only door to its SQLite database: it owns
// the *sql.DB and every SQL statement outside migrations/. Callers work in
// transactions:
//
//	err := st.Update(ctx, func(tx *store.Tx) error {
//		n, err := tx.InsertNote(...)
//		...
//	})
//
// Update runs a write transaction, View a read transaction. Each carries the
// clock read once at its start (Tx.Now) and hooks that run after a
// successful commit (Tx.AfterCommit), which is how work that must only
// happen once data is durable (waking the delivery queue) is tied to it.
//
// One file per entity holds that entity's plain struct and its statements,
// as methods of *Tx: actors.go, followers.go, notes.go, activities.go,
// deliveries.go, remote_actors.go and feed.go (the build feed's state).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/nuttx-feed/nuttx-feed/migrations"
)

// ErrNotFound is returned (wrapped, with what was looked for) when a row
// does not exist. Callers test it with errors.Is.
var ErrNotFound = errors.New("not found")

// FileName is the database file inside the data folder.
const FileName = "nuttx-feed.db"

// Store is the database. It is safe for concurrent use.
type Store struct {
	db  *sql.DB // writes: one connection, so writers queue here
	rdb *sql.DB // reads: a pool of their own
	// writeTurn is held by the one write transaction under way.
	writeTurn chan struct{}
	path      string
	now       func() time.Time
	keptMu    sync.Mutex
	kept      map[string]*sql.Stmt // statements prepared on the write connection, for every write transaction
	isBlocked *sql.Stmt            // prepared on the read connections (blocks.go)
}

// Options configure Open.
type Options struct {
	// Now is the clock that stamps every transaction; nil means time.Now.
	Now func() time.Time
	// MaxOpenConns caps the pool of read connections (8). Writes go
	// through one connection of their own: SQLite takes one writer at a
	// time anyway, and writers that queue for that connection in Go wait
	// their turn in order, without holding a read connection or sleeping
	// in SQLite's busy handler. Under 500 concurrent inbox POSTs a shared
	// pool of 8 was taken by writers waiting for the lock, and reads
	// waited behind them.
	MaxOpenConns int
	// ReadOnly opens an existing, migrated file read-only (SQLite's
	// mode=ro): reads work and every write fails, as on a read-only file
	// system. Tests use it to see what a server on such a database does.
	ReadOnly bool
}

// Open opens the database file at path, creating it and its folder when
// missing, and applies the migrations the file has not seen.
// It wraps migrations.ErrDatabaseNewer when the file is ahead of the binary.
func Open(ctx context.Context, path string, o Options) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	// The database holds the actors' private keys: a new file is created
	// readable by its owner only, and SQLite gives its WAL and shared
	// memory files the same mode.
	if !o.ReadOnly {
		if f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
			f.Close()
		} else if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create %s: %w", path, err)
		}
	}
	dsn := migrations.DSN(path)
	if o.ReadOnly {
		dsn += "&mode=ro"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if o.MaxOpenConns <= 0 {
		o.MaxOpenConns = 8
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	if err := migrations.Apply(ctx, db); err != nil {
		db.Close()
		if errors.Is(err, migrations.ErrDatabaseNewer) {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	rdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	rdb.SetMaxOpenConns(o.MaxOpenConns)
	rdb.SetMaxIdleConns(min(4, o.MaxOpenConns))
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Store{db: db, rdb: rdb, writeTurn: make(chan struct{}, 1), path: path, now: o.Now, kept: map[string]*sql.Stmt{}}
	if err := s.keep(ctx, hotQueries); err != nil {
		s.Close()
		return nil, err
	}
	if s.isBlocked, err = rdb.PrepareContext(ctx, isBlockedSQL); err != nil {
		s.Close()
		return nil, fmt.Errorf("prepare: %w", err)
	}
	return s, nil
}

// hotQueries run on every claim of the delivery queue, many times a second
// while it is busy: they are prepared at once (queryHot).
var hotQueries = []string{claimCandidatesSQL, claimByIDSQL, dueProbesSQL}

// maxKept bounds the statements kept prepared. The store's SQL is written
// in the code, so there are fewer than this; a query built with a varying
// number of placeholders past it is parsed each time.
const maxKept = 256

// keep prepares queries on the write connection for every later write
// transaction. Parsing SQL costs more than running most of it (a quarter
// of a Follow's time in the inbox), and with one write connection a
// statement prepared once serves every transaction. It runs when no write
// transaction holds the connection: at Open, and after a commit while the
// committing writer still has its turn.
func (s *Store) keep(ctx context.Context, queries []string) error {
	s.keptMu.Lock()
	defer s.keptMu.Unlock()
	for _, q := range queries {
		if _, ok := s.kept[q]; ok || len(s.kept) >= maxKept {
			continue
		}
		st, err := s.db.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		s.kept[q] = st
	}
	return nil
}

// Close closes the database. A writer may still be keeping statements
// (a server's workers stop after the store in some tests): the lock keeps
// the two apart.
func (s *Store) Close() error {
	s.keptMu.Lock()
	for _, st := range s.kept {
		st.Close()
	}
	clear(s.kept)
	s.keptMu.Unlock()
	if s.isBlocked != nil {
		s.isBlocked.Close()
	}
	return errors.Join(s.rdb.Close(), s.db.Close())
}

// Tx is one transaction. Its methods (one file per entity) run the
// statements; it must not be used after the function given to Update or
// View returns.
type Tx struct {
	ctx   context.Context
	tx    *sql.Tx
	store *Store
	// Now is the clock read once when the transaction began: every row it
	// writes carries the same time.
	Now         time.Time
	afterCommit []func()
	readOnly    bool
	stmts       map[string]*sql.Stmt // statements bound to this transaction, by query
	runs        map[string]int       // how often each query not kept yet ran here
	unprepared  []string             // those queries, to keep after the commit
	done        bool                 // fn returned: the Tx must not be used
}

// Context returns the context the transaction runs under.
func (tx *Tx) Context() context.Context { return tx.ctx }

// AfterCommit runs f once the transaction has committed; never when it
// rolls back. Hooks run in the order they were added.
func (tx *Tx) AfterCommit(f func()) {
	if tx.done {
		panic("store: AfterCommit on a finished transaction")
	}
	tx.afterCommit = append(tx.afterCommit, f)
}

// Update runs fn in a write transaction and commits it when fn returns nil;
// any error (fn's, or the commit's) rolls everything back and is returned.
// The after-commit hooks run after a successful commit.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	return s.run(ctx, false, fn)
}

// View runs fn in a read transaction: every statement of fn sees the same
// snapshot of the database.
func (s *Store) View(ctx context.Context, fn func(*Tx) error) error {
	return s.run(ctx, true, fn)
}

func (s *Store) run(ctx context.Context, readOnly bool, fn func(*Tx) error) error {
	db, endTurn := s.db, func() {}
	if readOnly {
		db = s.rdb
	} else {
		// Writers take turns in the order they came (a channel queues its
		// waiters first come, first served; database/sql's pool does not):
		// under load no writer waits much longer than the others.
		select {
		case s.writeTurn <- struct{}{}:
			endTurn = sync.OnceFunc(func() { <-s.writeTurn })
			defer endTurn()
		case <-ctx.Done():
			return fmt.Errorf("begin: %w", ctx.Err())
		}
	}
	sqlTx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: readOnly})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &Tx{ctx: ctx, tx: sqlTx, store: s, readOnly: readOnly, Now: s.now().UTC().Truncate(time.Millisecond)}
	committed := false
	defer func() {
		tx.done = true
		if !committed {
			sqlTx.Rollback() // fn failed or panicked: never leave the write lock held
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	committed = true
	if len(tx.unprepared) > 0 {
		// The write connection is free and still ours: keep what ran for
		// the next transactions. A failure only means parsing again.
		s.keep(context.WithoutCancel(ctx), tx.unprepared)
	}
	endTurn() // the hooks may write in turn
	for _, f := range tx.afterCommit {
		f()
	}
	return nil
}

// Stats counts what the database holds.
type Stats struct {
	Actors, Followers, RemoteActors, Notes, Activities int
	// Deliveries by state.
	Pending, Delivered, Failed int
}

// Stats returns the current counts, read in one snapshot.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	err := s.View(ctx, func(tx *Tx) error {
		err := tx.queryRow(`SELECT
			(SELECT COUNT(*) FROM actors), (SELECT COUNT(*) FROM followers),
			(SELECT COUNT(*) FROM remote_actors), (SELECT COUNT(*) FROM notes),
			(SELECT COUNT(*) FROM activities),
			(SELECT COUNT(*) FROM deliveries WHERE state = 'pending'),
			(SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'),
			(SELECT COUNT(*) FROM deliveries WHERE state = 'failed')`).
			Scan(&st.Actors, &st.Followers, &st.RemoteActors, &st.Notes, &st.Activities,
				&st.Pending, &st.Delivered, &st.Failed)
		return err
	})
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	return st, nil
}

// exec runs a statement that returns no rows, through its kept statement
// in a write transaction (see keep).
func (tx *Tx) exec(query string, args ...any) (sql.Result, error) {
	if tx.done {
		panic("store: statement on a finished transaction")
	}
	if st := tx.prepared(query); st != nil {
		return st.ExecContext(tx.ctx, args...)
	}
	return tx.tx.ExecContext(tx.ctx, query, args...)
}

// prepared returns a statement of query bound to this write transaction:
// its kept statement, or, when it is not kept yet (it will be after the
// commit), one prepared here from its second run on (a loop, such as a
// digest's 2,000 targets, parses it once). It returns nil in a read
// transaction (reads run on other connections) and for a first run.
func (tx *Tx) prepared(query string) *sql.Stmt {
	if tx.readOnly {
		return nil
	}
	if st, ok := tx.stmts[query]; ok {
		return st
	}
	if tx.stmts == nil {
		tx.stmts, tx.runs = map[string]*sql.Stmt{}, map[string]int{}
	}
	tx.store.keptMu.Lock()
	kept, ok := tx.store.kept[query]
	tx.store.keptMu.Unlock()
	var st *sql.Stmt
	switch {
	case ok:
		st = tx.tx.StmtContext(tx.ctx, kept)
	case tx.runs[query] == 0:
		tx.runs[query] = 1
		tx.unprepared = append(tx.unprepared, query)
		return nil
	default:
		var err error
		if st, err = tx.tx.PrepareContext(tx.ctx, query); err != nil {
			return nil // the plain run shows the error
		}
	}
	tx.stmts[query] = st
	return st
}

// rowScanner is what Scan reads a row from: a *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(...any) error }

// queryRow runs a query for one row, through its kept statement in a write
// transaction (its row is read before the statement can run again).
func (tx *Tx) queryRow(query string, args ...any) *sql.Row {
	if tx.done {
		panic("store: statement on a finished transaction")
	}
	if st := tx.prepared(query); st != nil {
		return st.QueryRowContext(tx.ctx, args...)
	}
	return tx.tx.QueryRowContext(tx.ctx, query, args...)
}

func (tx *Tx) query(query string, args ...any) (*sql.Rows, error) {
	if tx.done {
		panic("store: statement on a finished transaction")
	}
	return tx.tx.QueryContext(tx.ctx, query, args...)
}

// queryHot runs one of hotQueries, in a write transaction, through its
// kept statement. Other multi-row queries are not kept: one could run
// again while its rows are still being read.
func (tx *Tx) queryHot(query string, args ...any) (*sql.Rows, error) {
	if tx.done {
		panic("store: statement on a finished transaction")
	}
	if st := tx.prepared(query); st != nil {
		return st.QueryContext(tx.ctx, args...)
	}
	return tx.tx.QueryContext(tx.ctx, query, args...)
}

// queryList runs query and scans every row with scan.
func queryList[T any](tx *Tx, scan func(*sql.Rows) (T, error), query string, args ...any) ([]T, error) {
	rows, err := tx.query(query, args...)
	if err != nil {
		return nil, err
	}
	return scanAll(rows, scan)
}

// scanAll scans every row with scan and closes rows.
func scanAll[T any](rows *sql.Rows, scan func(*sql.Rows) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }
