package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// runBackup is `nuttx-feed backup FILE`.
func runBackup(args []string, stdout, stderr io.Writer) int {
	var cfg Config
	cmd := newCommand("backup", &cfg)
	if err := cmd.parseAndCheck(args, stdout, &cfg, "FILE"); err != nil {
		return usageError(stderr, "backup", err)
	}
	if !databaseExists(cfg.DataDir) {
		fmt.Fprintf(stderr, "nuttx-feed backup: %v\n", errNoDatabase(cfg.DataDir))
		return 1
	}
	log := newLogger(cfg.LogFormat, stderr, slog.LevelWarn)
	ctx := context.Background()
	st, err := openStore(ctx, cfg.DataDir, store.Options{})
	if err != nil {
		log.Error("cannot open the database", "err", err)
		return 1
	}
	defer st.Close()
	file := cmd.fs.Arg(0)
	size, err := st.Backup(ctx, file)
	if err != nil {
		log.Error("backup failed", "err", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %d bytes, a consistent copy of %s\n", file, size, dbFile(cfg.DataDir))
	return 0
}
