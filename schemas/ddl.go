package schemas

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
)

// column is one ClickHouse column: its name and type.
type column struct{ name, typ string }

// The tables' columns, in DDL order, which is also Block.Names order.
var (
	paymentColumns = []column{
		{"event_id", "String"},
		{"event_type", "LowCardinality(String)"},
		{"occurred_at", "DateTime64(3, 'UTC')"},
		{"merchant_id", "String"},
		{"customer_id", "String"},
		{"amount_minor", "Int64"},
		{"currency", "LowCardinality(String)"},
		{"method", "LowCardinality(String)"},
		{"status", "LowCardinality(String)"},
		{"country", "LowCardinality(String)"},
		{"city", "LowCardinality(String)"},
		{"risk_score", "Float64"},
		{"metadata", "Map(String, String)"},
		{"_topic", "LowCardinality(String)"},
		{"_topic_id", "LowCardinality(String)"},
		{"_partition", "Int32"},
		{"_offset", "Int64"},
		{"_ingested_at", "DateTime64(3, 'UTC')"},
		{"_timestamp", "DateTime64(3, 'UTC')"},
	}
	shipmentColumns = []column{
		{"event_id", "String"},
		{"event_type", "LowCardinality(String)"},
		{"occurred_at", "DateTime64(3, 'UTC')"},
		{"shipment_id", "String"},
		{"hub_id", "LowCardinality(String)"},
		{"carrier", "LowCardinality(String)"},
		{"route", "LowCardinality(String)"},
		{"weight_grams", "Int64"},
		{"lat", "Float64"},
		{"lon", "Float64"},
		{"eta_minutes", "Int64"},
		{"_topic", "LowCardinality(String)"},
		{"_topic_id", "LowCardinality(String)"},
		{"_partition", "Int32"},
		{"_offset", "Int64"},
		{"_ingested_at", "DateTime64(3, 'UTC')"},
		{"_timestamp", "DateTime64(3, 'UTC')"},
	}
	paymentRollupColumns = []column{
		{"window_start", "DateTime('UTC')"},
		{"merchant_id", "String"},
		{"currency", "LowCardinality(String)"},
		{"method", "LowCardinality(String)"},
		{"event_type", "LowCardinality(String)"},
		{"events", "SimpleAggregateFunction(sum, UInt64)"},
		{"amount_minor_sum", "SimpleAggregateFunction(sum, UInt64)"},
		{"amount_minor_min", "SimpleAggregateFunction(min, Int64)"},
		{"amount_minor_max", "SimpleAggregateFunction(max, Int64)"},
	}
	shipmentRollupColumns = []column{
		{"window_start", "DateTime('UTC')"},
		{"hub_id", "LowCardinality(String)"},
		{"carrier", "LowCardinality(String)"},
		{"event_type", "LowCardinality(String)"},
		{"events", "SimpleAggregateFunction(sum, UInt64)"},
		{"weight_grams_sum", "SimpleAggregateFunction(sum, UInt64)"},
	}
)

// Rollup keys: the leading columns of each rollup table, its ORDER BY.
const (
	paymentRollupKeys  = 5
	shipmentRollupKeys = 4
)

// Column names of each table, in the order of the DDL and of Block.Names. Callers must
// not modify them.
var (
	PaymentColumns        = names(paymentColumns)
	ShipmentColumns       = names(shipmentColumns)
	PaymentRollupColumns  = names(paymentRollupColumns)
	ShipmentRollupColumns = names(shipmentRollupColumns)
)

func names(cols []column) []string {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = c.name
	}
	return s
}

// DefaultDedupWindow is the insert blocks each table remembers for deduplication
// when DDLOptions.DedupWindow is zero (SLUICE_CLICKHOUSE_DEDUP_WINDOW's default).
const DefaultDedupWindow = 10000

// DDLOptions configures DDL.
type DDLOptions struct {
	// Database holds every table; empty means "sluice".
	Database string
	// Window is the rollup window (see RollupTable); zero means one minute.
	Window time.Duration
	// DedupWindow is each table's non_replicated_deduplication_window: how many recent
	// insert blocks (or insert_deduplication_tokens) are remembered; zero means
	// DefaultDedupWindow.
	DedupWindow int
	// RawPayments and RawShipments create the raw tables.
	RawPayments, RawShipments bool
	// Cluster, when set, names the cluster (a remote_servers entry, ValidIdentifier)
	// the tables are sharded and replicated over; see DDL. Empty means one server.
	Cluster string
}

// LocalSuffix ends the name of each shard's local table behind a Distributed table
// when DDLOptions.Cluster is set: payments_local behind payments.
const LocalSuffix = "_local"

// ReplicatedDedupWindowSeconds is the replicated_deduplication_window_seconds of the
// replicated tables: a token is forgotten after a week even if fewer than the dedup
// window's inserts followed it. A replay comes within the Kafka session and
// rebalance timeouts of the failed flush, or when a stopped deployment restarts; a
// week covers an outage over a long weekend (the server default is one hour).
const ReplicatedDedupWindowSeconds = 7 * 24 * 60 * 60

// ReplicationPath is the Keeper path of each replicated table: one per shard, so
// every replica of a shard shares the shard's deduplication log.
const ReplicationPath = "/clickhouse/tables/{shard}/{database}/{table}"

// DefaultDatabase is the database DDL uses when DDLOptions.Database is empty.
const DefaultDatabase = "sluice"

// ValidIdentifier reports whether s may name a database or table: [A-Za-z_][A-Za-z0-9_]*,
// at most 64 bytes.
func ValidIdentifier(s string) error {
	if s == "" || len(s) > 64 {
		return errors.New("schemas: identifier " + strconv.Quote(s) + ": must be 1 to 64 bytes")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return errors.New("schemas: identifier " + strconv.Quote(s) + ": must match [A-Za-z_][A-Za-z0-9_]*")
	}
	return nil
}

// DDL returns the statements that create Sluice's database, tables and views, in
// order. Every statement is idempotent (IF NOT EXISTS, OR REPLACE for views), so they
// can run at every start. It panics if o.Database (or a non-empty o.Cluster) is not a
// ValidIdentifier or o.Window is not a positive whole number of seconds; check with
// ValidIdentifier and Options.Validate first when those come from configuration.
//
// Tables (MergeTree family, each with SETTINGS non_replicated_deduplication_window so
// that inserts carrying insert_deduplication_token are deduplicated, and
// MergeSettings, fewer and wider merges):
//
//   - payments, shipments (when enabled): raw events, columns PaymentColumns /
//     ShipmentColumns, partitioned by month of occurred_at. A raw or rollup insert
//     spanning many months of late events needs max_partitions_per_insert_block raised.
//   - payments_<w>, shipments_<w> (RollupTable): AggregatingMergeTree of partial
//     aggregates whose measures are SimpleAggregateFunction(sum|min|max). Every insert
//     adds rows; merges combine rows of equal key. sum(events), sum(amount_minor_sum),
//     min(amount_minor_min), max(amount_minor_max) over any key set are exact at any
//     time, before or after merges.
//     The last key column, FlushColumn, is 0 on data rows and non-zero on flush
//     markers.
//   - payments_<w>_merged, shipments_<w>_merged: views that GROUP BY the key, one row
//     per key, for analysts, without the markers.
//
// With o.Cluster set, every statement runs ON CLUSTER and each table T above becomes
// two: T_local (LocalSuffix) on every server, a Replicated… engine at ReplicationPath
// with replicated_deduplication_window = DedupWindow and
// replicated_deduplication_window_seconds = ReplicatedDedupWindowSeconds; and T, a
// Distributed table over T_local that Sluice inserts into and analysts (and the
// merged views) read. Rows are sharded by a hash of their content, cityHash64 of
// merchant_id (payments) or hub_id (shipments), so a replayed flush sends each shard
// exactly the rows, and the token, it sent the first time, and the shard drops them
// (docs/exactly-once.md, "Clusters"). Inserts must use distributed_foreground_insert=1.
func DDL(o DDLOptions) []string {
	o, t := o.tables()
	stmts := []string{t.createDatabase()}
	if o.RawPayments {
		stmts = append(stmts, t.create("payments", paymentColumns, tableSpec{engine: "MergeTree",
			partition: "toYYYYMM(occurred_at)", order: "(merchant_id, occurred_at, event_id)", shardBy: "merchant_id",
			projection: offsetsProjection("event_id")})...)
	}
	if o.RawShipments {
		stmts = append(stmts, t.create("shipments", shipmentColumns, tableSpec{engine: "MergeTree",
			partition: "toYYYYMM(occurred_at)", order: "(hub_id, occurred_at, shipment_id)", shardBy: "hub_id",
			projection: offsetsProjection("event_id")})...)
	}
	for _, r := range []struct {
		base  string
		cols  []column
		keys  int
		shard string
	}{
		{"payments", paymentRollupColumns, paymentRollupKeys, "merchant_id"},
		{"shipments", shipmentRollupColumns, shipmentRollupKeys, "hub_id"},
	} {
		table := RollupTable(r.base, o.Window)
		keys := make([]string, r.keys)
		for i, c := range r.cols[:r.keys] {
			keys[i] = quoteIdent(c.name)
		}
		stmts = append(stmts, t.createRollup(table, r.cols, r.keys, tableSpec{engine: "AggregatingMergeTree",
			partition: rollupPartition, order: "(" + strings.Join(keys, ", ") + ")", shardBy: r.shard})...)
	}
	return stmts
}

// tables writes the statements of one database, on one server or on a cluster.
type tables struct {
	db, cluster string
	dedupWindow int
}

// tables returns o with its defaults and the writer of its statements. It panics
// on an invalid o (see DDL).
func (o DDLOptions) tables() (DDLOptions, tables) {
	if o.Database == "" {
		o.Database = DefaultDatabase
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.DedupWindow <= 0 {
		o.DedupWindow = DefaultDedupWindow
	}
	if err := ValidIdentifier(o.Database); err != nil {
		panic(err)
	}
	if err := validWindow(o.Window); err != nil {
		panic(err)
	}
	if o.Cluster != "" {
		if err := ValidIdentifier(o.Cluster); err != nil {
			panic(err)
		}
	}
	return o, tables{db: o.Database, cluster: o.Cluster, dedupWindow: o.DedupWindow}
}

func (t tables) createDatabase() string {
	return "CREATE DATABASE IF NOT EXISTS " + quoteIdent(t.db) + t.onCluster(" ")
}

// tableSpec is how a table is stored: its engine, PARTITION BY (empty: none),
// ORDER BY, TTL (empty: none), on a cluster the column rows are sharded by, and
// the projection its (local) table keeps (empty: none).
type tableSpec struct {
	engine, partition, order, ttl, shardBy, projection string
}

// clauses are the table's clauses after ENGINE = engine, up to SETTINGS.
func (s tableSpec) clauses() string {
	c := ""
	if s.partition != "" {
		c += "\nPARTITION BY " + s.partition
	}
	c += "\nORDER BY " + s.order
	if s.ttl != "" {
		c += "\nTTL " + s.ttl
	}
	return c
}

// onCluster is sep + "ON CLUSTER `c`", or "" without a cluster.
func (t tables) onCluster(sep string) string {
	if t.cluster == "" {
		return ""
	}
	return sep + "ON CLUSTER " + quoteIdent(t.cluster)
}

// create returns the statements that create table: one MergeTree-family table
// (s.engine) on one server; on a cluster, its replicated table_local and a
// Distributed table sharded by cityHash64(s.shardBy). The projection, if any, is
// the MergeTree table's (a Distributed table has none).
func (t tables) create(table string, cols []column, s tableSpec) []string {
	if t.cluster == "" {
		return []string{t.createTable(table, cols, s.projection, "ENGINE = "+s.engine+s.clauses()+
			"\nSETTINGS non_replicated_deduplication_window = "+strconv.Itoa(t.dedupWindow)+", "+MergeSettings())}
	}
	local := table + LocalSuffix
	return []string{
		t.createTable(local, cols, s.projection, "ENGINE = Replicated"+s.engine+"('"+ReplicationPath+"', '{replica}')"+s.clauses()+
			"\nSETTINGS replicated_deduplication_window = "+strconv.Itoa(t.dedupWindow)+
			", replicated_deduplication_window_seconds = "+strconv.Itoa(ReplicatedDedupWindowSeconds)+", "+MergeSettings()),
		t.createTable(table, cols, "", "ENGINE = Distributed('"+t.cluster+"', '"+t.db+"', '"+local+"', "+
			"cityHash64("+quoteIdent(s.shardBy)+"))"),
	}
}

// createRollup returns the statements that create rollup table (its columns cols,
// the first keys of them its key, s its storage) with FlushColumn last in its
// columns and its sorting key, and its *_merged view.
func (t tables) createRollup(table string, cols []column, keys int, s tableSpec) []string {
	s.order = s.flushOrder()
	stmts := t.create(table, append(slices.Clip(cols), flushColumn), s)
	return append(stmts, t.mergedView(table, cols, keys))
}

// flushOrder is a rollup table's ORDER BY s.order with FlushColumn appended.
func (s tableSpec) flushOrder() string {
	return strings.TrimSuffix(s.order, ")") + ", " + quoteIdent(FlushColumn) + ")"
}

// createTable is CREATE TABLE IF NOT EXISTS db.table [ON CLUSTER c] (cols[, projection]) engine.
func (t tables) createTable(table string, cols []column, projection, engine string) string {
	var sb strings.Builder
	sb.WriteString("CREATE TABLE IF NOT EXISTS " + quoteIdent(t.db) + "." + quoteIdent(table) +
		t.onCluster("\n") + "\n(\n")
	for i, c := range cols {
		sb.WriteString("    " + quoteIdent(c.name) + " " + c.typ)
		if i < len(cols)-1 || projection != "" {
			sb.WriteByte(',')
		}
		sb.WriteByte('\n')
	}
	if projection != "" {
		sb.WriteString("    " + projection + "\n")
	}
	sb.WriteString(")\n" + engine)
	return sb.String()
}

// mergedView selects one row per key, aggregating each SimpleAggregateFunction column
// with its own function, over the data rows (flush markers left out, FlushColumn). Columns are qualified (r.col) so that an alias equal to a
// column name never captures the aggregate's argument. On a cluster it reads the
// Distributed table, so it sees every shard.
func (t tables) mergedView(table string, cols []column, keys int) string {
	var sel, group []string
	for i, c := range cols {
		q := quoteIdent(c.name)
		if i < keys {
			sel = append(sel, "r."+q+" AS "+q)
			group = append(group, "r."+q)
			continue
		}
		fn := strings.TrimPrefix(c.typ, "SimpleAggregateFunction(")
		fn = fn[:strings.IndexByte(fn, ',')]
		sel = append(sel, fn+"(r."+q+") AS "+q)
	}
	db := quoteIdent(t.db)
	return "CREATE OR REPLACE VIEW " + db + "." + quoteIdent(table+"_merged") + t.onCluster(" ") +
		" AS\nSELECT\n    " + strings.Join(sel, ",\n    ") + "\nFROM " + db + "." + quoteIdent(table) +
		" AS r\nWHERE r." + quoteIdent(FlushColumn) + " = 0\nGROUP BY " +
		strings.Join(group, ", ")
}

// quoteIdent backquotes an identifier already checked by ValidIdentifier (or a
// constant column name).
func quoteIdent(s string) string { return "`" + s + "`" }
