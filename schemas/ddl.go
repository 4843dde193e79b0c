package schemas

import (
	"errors"
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
		{"_partition", "Int32"},
		{"_offset", "Int64"},
		{"_ingested_at", "DateTime64(3, 'UTC')"},
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
		{"_partition", "Int32"},
		{"_offset", "Int64"},
		{"_ingested_at", "DateTime64(3, 'UTC')"},
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

// DDLOptions configures DDL.
type DDLOptions struct {
	// Database holds every table; empty means "sluice".
	Database string
	// Window is the rollup window (see RollupTable); zero means one minute.
	Window time.Duration
	// DedupWindow is each table's non_replicated_deduplication_window: how many recent
	// insert blocks (or insert_deduplication_tokens) are remembered; zero means 10000.
	DedupWindow int
	// RawPayments and RawShipments create the raw tables.
	RawPayments, RawShipments bool
}

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
// can run at every start. It panics if o.Database is not a ValidIdentifier or o.Window
// is not a positive whole number of seconds; check with ValidIdentifier and
// Options.Validate first when those come from configuration.
//
// Tables (MergeTree family, each with SETTINGS non_replicated_deduplication_window so
// that inserts carrying insert_deduplication_token are deduplicated):
//
//   - payments, shipments (when enabled): raw events, columns PaymentColumns /
//     ShipmentColumns, partitioned by month of occurred_at. A raw or rollup insert
//     spanning many months of late events needs max_partitions_per_insert_block raised.
//   - payments_<w>, shipments_<w> (RollupTable): AggregatingMergeTree of partial
//     aggregates whose measures are SimpleAggregateFunction(sum|min|max). Every insert
//     adds rows; merges combine rows of equal key. sum(events), sum(amount_minor_sum),
//     min(amount_minor_min), max(amount_minor_max) over any key set are exact at any
//     time, before or after merges.
//   - payments_<w>_merged, shipments_<w>_merged: views that GROUP BY the key, one row
//     per key, for analysts.
func DDL(o DDLOptions) []string {
	if o.Database == "" {
		o.Database = DefaultDatabase
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.DedupWindow <= 0 {
		o.DedupWindow = 10000
	}
	if err := ValidIdentifier(o.Database); err != nil {
		panic(err)
	}
	if err := validWindow(o.Window); err != nil {
		panic(err)
	}
	db := quoteIdent(o.Database)
	settings := "SETTINGS non_replicated_deduplication_window = " + strconv.Itoa(o.DedupWindow)
	stmts := []string{"CREATE DATABASE IF NOT EXISTS " + db}
	if o.RawPayments {
		stmts = append(stmts, createTable(db, "payments", paymentColumns,
			"MergeTree",
			"toYYYYMM(occurred_at)",
			"(merchant_id, occurred_at, event_id)", settings))
	}
	if o.RawShipments {
		stmts = append(stmts, createTable(db, "shipments", shipmentColumns,
			"MergeTree",
			"toYYYYMM(occurred_at)",
			"(hub_id, occurred_at, shipment_id)", settings))
	}
	for _, r := range []struct {
		base string
		cols []column
		keys int
	}{
		{"payments", paymentRollupColumns, paymentRollupKeys},
		{"shipments", shipmentRollupColumns, shipmentRollupKeys},
	} {
		table := RollupTable(r.base, o.Window)
		keys := make([]string, r.keys)
		for i, c := range r.cols[:r.keys] {
			keys[i] = quoteIdent(c.name)
		}
		stmts = append(stmts,
			createTable(db, table, r.cols, "AggregatingMergeTree",
				"toYYYYMM(window_start)", "("+strings.Join(keys, ", ")+")", settings),
			mergedView(db, table, r.cols, r.keys))
	}
	return stmts
}

func createTable(db, table string, cols []column, engine, partition, order, settings string) string {
	var sb strings.Builder
	sb.WriteString("CREATE TABLE IF NOT EXISTS " + db + "." + quoteIdent(table) + "\n(\n")
	for i, c := range cols {
		sb.WriteString("    " + quoteIdent(c.name) + " " + c.typ)
		if i < len(cols)-1 {
			sb.WriteByte(',')
		}
		sb.WriteByte('\n')
	}
	sb.WriteString(")\nENGINE = " + engine + "\nPARTITION BY " + partition +
		"\nORDER BY " + order + "\n" + settings)
	return sb.String()
}

// mergedView selects one row per key, aggregating each SimpleAggregateFunction column
// with its own function. Columns are qualified (r.col) so that an alias equal to a
// column name never captures the aggregate's argument.
func mergedView(db, table string, cols []column, keys int) string {
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
	return "CREATE OR REPLACE VIEW " + db + "." + quoteIdent(table+"_merged") + " AS\nSELECT\n    " +
		strings.Join(sel, ",\n    ") + "\nFROM " + db + "." + quoteIdent(table) + " AS r\nGROUP BY " +
		strings.Join(group, ", ")
}

// quoteIdent backquotes an identifier already checked by ValidIdentifier (or a
// constant column name).
func quoteIdent(s string) string { return "`" + s + "`" }
