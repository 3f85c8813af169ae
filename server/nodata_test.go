package server

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandsWithoutDatabaseSayWhereToPoint: every command that opens
// the database (startCommand, and backup) run on a folder without one
// prints one plain line, not a log record, that says to pass --data DIR or
// NUTTX_FEED_DATA, and makes no database.
func TestCommandsWithoutDatabaseSayWhereToPoint(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "data")
	for _, args := range [][]string{
		{"token create", "ci"}, {"token list"}, {"token revoke", "ci"}, {"followers list"},
		{"followers remove", "@a@example.org"}, {"block add", "example.org"}, {"block list"},
		{"block remove", "example.org"}, {"delete", "0123456789abcdef0123456789abcdef"},
		{"deliveries list"}, {"deliveries retry", "example.org"}, {"feed status"},
		{"profile show"}, {"post", "hi"}, {"backup", filepath.Join(t.TempDir(), "b.db")},
	} {
		args := append(append(strings.Fields(args[0]), "--data", missing), args[1:]...)
		code, _, stderr := run(args...)
		line := strings.TrimSpace(stderr)
		if code != 1 || strings.Contains(line, "\n") || strings.Contains(line, "level=") || strings.Contains(line, "msg=") ||
			!strings.Contains(line, "no nuttx-feed database in "+missing) || !strings.Contains(line, "--data DIR") ||
			!strings.Contains(line, "NUTTX_FEED_DATA") {
			t.Errorf("%s: exit %d, %q; want exit 1 and one plain line naming --data DIR and NUTTX_FEED_DATA", strings.Join(args, " "), code, stderr)
		}
	}
	if databaseExists(missing) {
		t.Error("a command created a database")
	}
}
