// Package mastodontest runs a real PostgreSQL (Debian's package) on loopback
// for tests, and fills it with the part of a Mastodon 4.5 database that
// `nuttx-feed import mastodon` reads (schema.sql, written for the tests from
// Mastodon's db/schema.rb).
//
// Each Start makes a new cluster in a temporary folder (initdb, trust
// authentication, no fsync: about a second), listening on 127.0.0.1 on a
// free port, and removes it when the test ends. PostgreSQL refuses to run as
// root: as root, initdb and pg_ctl run as the postgres user that Debian's
// package creates (runuser), in a folder that user owns. A machine without
// PostgreSQL fails the test: `make deps` installs it.
package mastodontest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	_ "embed" // the SQL fixtures
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// schemaSQL creates Mastodon's tables (see schema.sql).
//
//go:embed schema.sql
var schemaSQL string

// keypairsSQL moves local keys to the encrypted keypairs table as Mastodon
// after 4.5 does (see keypairs.sql).
//
//go:embed keypairs.sql
var keypairsSQL string

// Postgres is one running PostgreSQL cluster. Its superuser is "postgres",
// with trust authentication on 127.0.0.1 (any password is accepted).
type Postgres struct {
	Port int

	bin    string // folder of initdb and pg_ctl
	dir    string // the cluster's folder: data/, the socket and the log
	asUser string // "postgres" when running as root, else ""
}

// Start runs a new cluster until the test ends. It fails the test when
// PostgreSQL is not installed or does not start.
func Start(tb testing.TB) *Postgres {
	tb.Helper()
	p, err := launch()
	if err != nil {
		tb.Fatalf("mastodontest: %v", err)
	}
	tb.Cleanup(p.stop)
	return p
}

// URL returns the connection URL of database dbname, as the superuser.
func (p *Postgres) URL(dbname string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, dbname)
}

// CreateDatabase creates an empty database and returns its URL.
func (p *Postgres) CreateDatabase(tb testing.TB, name string) string {
	tb.Helper()
	p.Exec(tb, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return p.URL(name)
}

// Exec runs sql in database db and fails the test on error. Without args,
// sql may hold several statements; with args, one statement using $1, $2...
func (p *Postgres) Exec(tb testing.TB, db, sql string, args ...any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.URL(db))
	if err != nil {
		tb.Fatalf("mastodontest: connect to %s: %v", db, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		tb.Fatalf("mastodontest: in %s: %v\n%s", db, err, sql)
	}
}

// LoadSchema creates Mastodon 4.5's accounts, users, follows, statuses and
// schema_migrations tables in db, with the instance actor (id -99, named
// mastodon.example) as Mastodon seeds it.
func (p *Postgres) LoadSchema(tb testing.TB, db string) {
	tb.Helper()
	p.Exec(tb, db, schemaSQL)
}

// MoveKeysToKeypairs does to db what Mastodon after 4.5 does: it creates
// the keypairs table, copies every local key there (the private key
// "encrypted") and blanks accounts.private_key and public_key.
func (p *Postgres) MoveKeysToKeypairs(tb testing.TB, db string) {
	tb.Helper()
	p.Exec(tb, db, keypairsSQL)
}

// launch makes and starts a cluster, retrying with another port when the
// one picked was taken meanwhile.
func launch() (_ *Postgres, err error) {
	bin, err := binDir(debianInitdb)
	if err != nil {
		return nil, err
	}
	p := &Postgres{bin: bin}
	if os.Geteuid() == 0 {
		p.asUser = "postgres"
	}
	if p.dir, err = p.makeDir(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(p.dir)
		}
	}()
	if err := p.initdb(); err != nil {
		return nil, err
	}
	for try := 1; ; try++ {
		err = p.start()
		if err == nil || try == 3 {
			return p, err
		}
	}
}

// debianInitdb is where Debian's postgresql package puts initdb.
const debianInitdb = "/usr/lib/postgresql/*/bin/initdb"

// binDir finds PostgreSQL's programs beside the initdb that pattern
// matches, the newest version when several are installed.
func binDir(pattern string) (string, error) {
	matches, _ := filepath.Glob(pattern)
	if len(matches) == 0 {
		return "", fmt.Errorf("PostgreSQL is not installed (no %s): run make deps, which installs Debian's postgresql", pattern)
	}
	version := func(path string) int {
		v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
		return v
	}
	sort.Slice(matches, func(i, j int) bool { return version(matches[i]) > version(matches[j]) })
	return filepath.Dir(matches[0]), nil
}

// makeDir creates the cluster's folder, owned by the postgres user when
// running as root.
func (p *Postgres) makeDir() (string, error) {
	dir, err := os.MkdirTemp("", "mastodontest-")
	if err != nil {
		return "", err
	}
	if p.asUser == "" {
		return dir, nil
	}
	u, err := user.Lookup(p.asUser)
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("running as root, PostgreSQL needs the %s user (Debian's postgresql package creates it; run make deps): %w", p.asUser, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// initdb creates the cluster: trust authentication, no fsync, C locale.
func (p *Postgres) initdb() error {
	if _, err := p.run("initdb", "-D", p.data(), "-U", "postgres", "--auth=trust", "--no-sync",
		"--encoding=UTF8", "--locale=C"); err != nil {
		return err
	}
	return nil
}

// start picks a free port, writes it to the configuration and starts the
// server, waiting until it accepts connections.
func (p *Postgres) start() error {
	port, err := freePort()
	if err != nil {
		return err
	}
	conf := fmt.Sprintf("\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\n"+
		"fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nshared_buffers = 16MB\nmax_connections = 40\n",
		port, p.dir)
	f, err := os.OpenFile(filepath.Join(p.data(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(conf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	logFile := filepath.Join(p.dir, "server.log")
	if _, err := p.run("pg_ctl", "-D", p.data(), "-l", logFile, "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(logFile)
		return fmt.Errorf("%w\n%s", err, log)
	}
	p.Port = port
	return nil
}

// stop stops the server at once and removes its folder.
func (p *Postgres) stop() {
	p.run("pg_ctl", "-D", p.data(), "-m", "immediate", "-w", "stop") //nolint:errcheck // the folder goes anyway
	os.RemoveAll(p.dir)
}

func (p *Postgres) data() string { return filepath.Join(p.dir, "data") }

// run runs one of PostgreSQL's programs, as the postgres user when root.
func (p *Postgres) run(program string, args ...string) ([]byte, error) {
	path := filepath.Join(p.bin, program)
	cmd := exec.Command(path, args...)
	if p.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", p.asUser, "--", path}, args...)...)
	}
	cmd.Dir = p.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w\n%s", program, strings.Join(args, " "), err, out)
	}
	return out, nil
}

// freePort returns a TCP port free on 127.0.0.1 a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// KeyPair is an RSA key as Mastodon stores a local account's: the private
// key PKCS#1 PEM (Ruby's RSA#to_pem), the public key SPKI PEM.
type KeyPair struct {
	Key        *rsa.PrivateKey
	PrivatePEM string // -----BEGIN RSA PRIVATE KEY-----
	PublicPEM  string // -----BEGIN PUBLIC KEY-----
}

// NewKeyPair makes a 2048-bit key pair in Mastodon's formats.
func NewKeyPair(tb testing.TB) KeyPair {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	return KeyPair{
		Key:        key,
		PrivatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		PublicPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
	}
}
