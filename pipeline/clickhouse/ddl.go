package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Names of the internal tables Sluice keeps in its database.
const (
	// LedgerTable records the offset ranges flushes were about to store.
	LedgerTable = "sluice_ledger"
	// EventIDsTable holds the event ids each partition stored, with their offsets.
	EventIDsTable = "sluice_event_ids"
)

// LedgerRetention is how long a LedgerTable row is kept.
const LedgerRetention = 30 * 24 * time.Hour

// DDLOptions configures DDL.
type DDLOptions struct {
	// Database holds the tables; it must match [A-Za-z_][A-Za-z0-9_]*.
	Database string
	// DedupWindow is the tables' non_replicated_deduplication_window: how many recent
	// insert tokens the server remembers per table (default DefaultDedupWindow). It
	// must exceed the number of inserts into EventIDsTable between a flush and its
	// last possible replay.
	DedupWindow int
	// Horizon is how far back duplicate event ids are looked for; EventIDsTable rows
	// live Horizon plus one day (default 24h).
	Horizon time.Duration
}

// DDL returns the statements that create Database, LedgerTable and EventIDsTable if
// they do not exist. They are idempotent; run them with Migrate. It panics if
// o.Database is not a valid database name: the name is configuration, checked by
// Options.Validate before DDL is reached.
func DDL(o DDLOptions) []string {
	if err := validDatabase(o.Database); err != nil {
		panic(err)
	}
	if o.DedupWindow <= 0 {
		o.DedupWindow = DefaultDedupWindow
	}
	if o.Horizon <= 0 {
		o.Horizon = 24 * time.Hour
	}
	ttl := int64((o.Horizon + 24*time.Hour + time.Second - 1) / time.Second)
	return []string{
		"CREATE DATABASE IF NOT EXISTS " + quote(o.Database),
		// MergeTree, not ReplacingMergeTree: a retried Intend may add a second copy of
		// a row, and Ranges reads with DISTINCT.
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n"+
			"\t`group` LowCardinality(String),\n"+
			"\t`topic` LowCardinality(String),\n"+
			"\t`partition` Int32,\n"+
			"\t`first` Int64,\n"+
			"\t`last` Int64,\n"+
			"\t`written_at` DateTime64(3, 'UTC') DEFAULT now64(3)\n"+
			") ENGINE = MergeTree\n"+
			"ORDER BY (`group`, `topic`, `partition`, `last`)\n"+
			"TTL toDateTime(`written_at`) + INTERVAL %d SECOND",
			qualified(o.Database, LedgerTable), int64(LedgerRetention/time.Second)),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n"+
			"\t`group` LowCardinality(String),\n"+
			"\t`topic` LowCardinality(String),\n"+
			"\t`partition` Int32,\n"+
			"\t`offset` Int64,\n"+
			"\t`event_id` String,\n"+
			"\t`ts` DateTime64(3, 'UTC')\n"+
			") ENGINE = MergeTree\n"+
			"ORDER BY (`group`, `topic`, `partition`, `offset`)\n"+
			"TTL toDateTime(`ts`) + INTERVAL %d SECOND\n"+
			"SETTINGS non_replicated_deduplication_window = %d",
			qualified(o.Database, EventIDsTable), ttl, o.DedupWindow),
	}
}

// InternalDDL is DDL for the Client's database and dedup window.
func (c *Client) InternalDDL(horizon time.Duration) []string {
	return DDL(DDLOptions{Database: c.db, DedupWindow: c.dedupWindow, Horizon: horizon})
}

// Migrate runs stmts in order, each once; a statement that fails with an error a
// concurrent creator of the same object causes (already exists, deadlock avoided) is
// retried once, so several instances may migrate at the same time provided the
// statements are idempotent (IF NOT EXISTS). Statements must name their database:
// the Client has no default database. The error names the failing statement.
func (c *Client) Migrate(ctx context.Context, stmts []string) error {
	for i, s := range stmts {
		err := c.conn.Exec(ctx, s)
		if err != nil && ctx.Err() == nil {
			if code, ok := serverCode(err); ok && concurrentDDLCodes[code] {
				err = c.conn.Exec(ctx, s)
			}
		}
		if err != nil {
			return fmt.Errorf("clickhouse: migrate statement %d of %d (%s): %w", i+1, len(stmts), summary(s), c.redact(err))
		}
	}
	return nil
}

// summary is the statement's first line, shortened for an error message.
func summary(stmt string) string {
	s := strings.TrimSpace(stmt)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i]) + " …"
	}
	if len(s) > 120 {
		s = s[:117] + "…"
	}
	return s
}
