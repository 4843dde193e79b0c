package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/schemas"
)

// LedgerTable is the internal table that records the offset ranges flushes were
// about to store (EventIDsTable is the other one).
const LedgerTable = "sluice_ledger"

// LedgerRetention is how long a LedgerTable row is kept.
const LedgerRetention = 30 * 24 * time.Hour

// DDLOptions configures DDL.
type DDLOptions struct {
	// Database holds the tables; it must match [A-Za-z_][A-Za-z0-9_]*.
	Database string
	// DedupWindow is the tables' non_replicated_deduplication_window: how many recent
	// insert tokens the server remembers per table (default schemas.DefaultDedupWindow). It
	// must exceed the number of inserts into EventIDsTable between a flush and its
	// last possible replay.
	DedupWindow int
	// Horizon is how far back duplicate event ids are looked for; EventIDsTable rows
	// live Horizon plus one day (default 24h).
	Horizon time.Duration
	// Cluster, when set, names the cluster the tables are sharded and replicated over
	// (see DDL); it must match [A-Za-z_][A-Za-z0-9_]*. Empty means one server.
	Cluster string
}

// DDL returns the statements that create Database, LedgerTable and EventIDsTable
// (both with schemas.MergeSettings: the ledger takes one small insert per group
// commit of flushes) if they do not exist, and add the topic_id column to tables created before it
// existed (their rows get an empty topic_id: see ClaimTopics) and the repairable
// column to a LedgerTable created before it (their ranges are not repaired: see
// Repair). They are idempotent; run
// them with Migrate. It panics if
// o.Database or o.Cluster is not a valid name: both are configuration, checked by
// Options.Validate before DDL is reached.
//
// With o.Cluster set, every statement runs ON CLUSTER, and each table T is
// T + schemas.LocalSuffix on every server (ReplicatedMergeTree at
// schemas.ReplicationPath, EventIDsTable with replicated_deduplication_window =
// DedupWindow) behind T, a Distributed table sharded by cityHash64(topic, partition):
// each partition's rows live on one shard, a replayed insert reaches the shard that
// stored it first, and the reads (Ranges, Seen) go through T and see every shard.
func DDL(o DDLOptions) []string {
	if err := validDatabase(o.Database); err != nil {
		panic(err)
	}
	if o.Cluster != "" {
		if err := validDatabase(o.Cluster); err != nil {
			panic(fmt.Errorf("clickhouse: cluster: %w", err))
		}
	}
	if o.DedupWindow <= 0 {
		o.DedupWindow = schemas.DefaultDedupWindow
	}
	if o.Horizon <= 0 {
		o.Horizon = 24 * time.Hour
	}
	onCluster, engine := "", "MergeTree"
	eventIDsSettings := fmt.Sprintf("non_replicated_deduplication_window = %d, %s", o.DedupWindow, schemas.MergeSettings())
	ledger, eventIDs := LedgerTable, EventIDsTable
	if o.Cluster != "" {
		onCluster = " ON CLUSTER " + quote(o.Cluster)
		engine = "ReplicatedMergeTree('" + schemas.ReplicationPath + "', '{replica}')"
		eventIDsSettings = fmt.Sprintf("replicated_deduplication_window = %d, replicated_deduplication_window_seconds = %d, %s",
			o.DedupWindow, schemas.ReplicatedDedupWindowSeconds, schemas.MergeSettings())
		ledger += schemas.LocalSuffix
		eventIDs += schemas.LocalSuffix
	}
	stmts := []string{
		"CREATE DATABASE IF NOT EXISTS " + quote(o.Database) + onCluster,
		// MergeTree, not ReplacingMergeTree: a retried Intend may add a second copy of
		// a row, and Ranges reads with DISTINCT.
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s%s (\n"+
			"\t`group` LowCardinality(String),\n"+
			"\t`topic` LowCardinality(String),\n"+
			"\t"+topicIDColumn+",\n"+
			"\t`partition` Int32,\n"+
			"\t`first` Int64,\n"+
			"\t`last` Int64,\n"+
			"\t`written_at` DateTime64(3, 'UTC') DEFAULT now64(3),\n"+
			"\t"+repairableColumn+"\n"+
			") ENGINE = %s\n"+
			"ORDER BY (`group`, `topic`, `partition`, `last`)\n"+
			"TTL toDateTime(`written_at`) + INTERVAL %d SECOND\n"+
			"SETTINGS %s",
			qualified(o.Database, ledger), onCluster, engine, int64(LedgerRetention/time.Second), schemas.MergeSettings()),
		addTopicID(qualified(o.Database, ledger) + onCluster),
		addRepairable(qualified(o.Database, ledger) + onCluster),
		eventIDsDDL(qualified(o.Database, eventIDs)+onCluster, engine, o.Horizon, eventIDsSettings),
		addTopicID(qualified(o.Database, eventIDs) + onCluster),
	}
	if o.Cluster == "" {
		return stmts
	}
	// The Distributed tables take their columns from the local ones (AS), which
	// exist on every server once the statements above ran; one created before the
	// local tables had topic_id gets it by ALTER.
	for _, t := range []string{LedgerTable, EventIDsTable} {
		stmts = append(stmts, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s%s AS %s\n"+
			"ENGINE = Distributed('%s', '%s', '%s', cityHash64(`topic`, `partition`))",
			qualified(o.Database, t), onCluster, qualified(o.Database, t+schemas.LocalSuffix),
			o.Cluster, o.Database, t+schemas.LocalSuffix),
			addTopicID(qualified(o.Database, t)+onCluster))
		if t == LedgerTable {
			stmts = append(stmts, addRepairable(qualified(o.Database, t)+onCluster))
		}
	}
	return stmts
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

// topicIDColumn is the column that tells the incarnation of a row's topic (the Kafka
// topic id, pipeline.TopicID) in LedgerTable and EventIDsTable; rows written before
// it existed hold an empty one.
const topicIDColumn = "`topic_id` LowCardinality(String) DEFAULT ''"

// addTopicID is the ALTER that adds topicIDColumn, after `topic`, to table (qualified,
// with ON CLUSTER when sharded) if it lacks it.
func addTopicID(table string) string {
	return "ALTER TABLE " + table + " ADD COLUMN IF NOT EXISTS " + topicIDColumn + " AFTER `topic`"
}

// repairableColumn is 1 on the LedgerTable rows of ranges whose inserts carry what
// Repair checks them by (the rollups' flush markers, the raw rows' _topic_id), 0
// on rows recorded before (by an earlier version): Repair leaves those alone,
// since it would take their rows for lost.
const repairableColumn = "`repairable` UInt8 DEFAULT 0"

// addRepairable is the ALTER that adds repairableColumn to the ledger (qualified,
// with ON CLUSTER when sharded) if it lacks it.
func addRepairable(table string) string {
	return "ALTER TABLE " + table + " ADD COLUMN IF NOT EXISTS " + repairableColumn + " AFTER `written_at`"
}

// TableEngines returns the engine_full of every table in the Client's database,
// table name → engine with its clauses and SETTINGS as system.tables reports it,
// so that a migration gives the tables created before a setting existed that
// setting (schemas.ModifyMergeSettings). A database that does not exist yet has
// none.
func (c *Client) TableEngines(ctx context.Context) (map[string]string, error) {
	rows, err := c.conn.Query(ctx, "SELECT `name`, `engine_full` FROM system.tables WHERE `database` = ?", c.db)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: engines of the tables of %s: %w", c.db, c.redact(err))
	}
	defer rows.Close()
	out := map[string]string{}
	var table, engine string
	for rows.Next() {
		if err := rows.Scan(&table, &engine); err != nil {
			return nil, fmt.Errorf("clickhouse: engines of the tables of %s: scan: %w", c.db, err)
		}
		out[table] = engine
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: engines of the tables of %s: %w", c.db, c.redact(err))
	}
	return out, nil
}
