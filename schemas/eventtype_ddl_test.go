package schemas

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestTypeDDLMatchesDDL: the built-in types' generated DDL is DDL's, statement for
// statement, on one server and on a cluster, with and without raw tables.
func TestTypeDDLMatchesDDL(t *testing.T) {
	pay, ship := BuiltinType(t, "payment"), BuiltinType(t, "shipment")
	for _, o := range []DDLOptions{
		{RawPayments: true, RawShipments: true},
		{Database: "analytics", Window: 5 * time.Minute, DedupWindow: 500, RawPayments: true},
		{Window: time.Hour, RawShipments: true, Cluster: "prod"},
		{Cluster: "c1", RawPayments: true, RawShipments: true},
		{},
	} {
		want := DDL(o)
		got := TypeDDL(o, pay.WithRaw(o.RawPayments), ship.WithRaw(o.RawShipments))
		if !slices.Equal(got, want) {
			t.Fatalf("%+v:\n%s\n\nwant\n%s", o, strings.Join(got, ";\n"), strings.Join(want, ";\n"))
		}
	}
}

// existingTables is what system.columns says of the tables TypeDDL creates for et.
func existingTables(et *EventType, window time.Duration) map[string]map[string]string {
	out := map[string]map[string]string{}
	add := func(table string, cols []Column) {
		out[table] = map[string]string{}
		for _, c := range cols {
			out[table][c.Name] = c.Type
		}
	}
	add(et.Table(), et.Columns())
	for _, r := range et.Rollups() {
		add(r.TableFor(et.Table(), window), append(r.Columns(), Column{FlushColumn, "UInt64"}))
	}
	return out
}

func TestEvolve(t *testing.T) {
	base := mustType(t, "fees.schema.json", feesSchema)
	have := existingTables(base, 0)
	if stmts, err := Evolve(DDLOptions{}, base, have); err != nil || len(stmts) != 0 {
		t.Fatalf("unchanged schema: %v %v", stmts, err)
	}
	if stmts, err := Evolve(DDLOptions{}, base, nil); err != nil || len(stmts) != 0 {
		t.Fatalf("no tables yet (TypeDDL creates them): %v %v", stmts, err)
	}
	// A new optional property and a new measure: ADD COLUMN (TypeDDL then replaces
	// the view).
	grown := mustType(t, "fees.schema.json", strings.NewReplacer(
		`"channel": {"type": "string"}`, `"channel": {"type": "string"}, "region": {"type": ["string", "null"]}`,
		`"fees": "sum(fee)"`, `"fees": "sum(fee)", "fee_max": "max(fee)"`).Replace(feesSchema))
	stmts, err := Evolve(DDLOptions{}, grown, have)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ALTER TABLE `sluice`.`fees` ADD COLUMN IF NOT EXISTS `region` String AFTER `channel`",
		"ALTER TABLE `sluice`.`fees_1h` ADD COLUMN IF NOT EXISTS `fee_max` SimpleAggregateFunction(max, Int64) DEFAULT CAST('-9223372036854775808' AS Int64) AFTER `fees`",
	}
	if !slices.Equal(stmts, want) {
		t.Fatalf("statements:\n%s", strings.Join(stmts, "\n"))
	}
	// A raw table from before _topic_id and _timestamp gets both.
	old := existingTables(base, 0)
	delete(old["fees"], "_topic_id")
	delete(old["fees"], "_timestamp")
	stmts, err = Evolve(DDLOptions{}, base, old)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{
		"ALTER TABLE `sluice`.`fees` ADD COLUMN IF NOT EXISTS `_topic_id` LowCardinality(String) AFTER `_topic`",
		"ALTER TABLE `sluice`.`fees` ADD COLUMN IF NOT EXISTS `_timestamp` DateTime64(3, 'UTC') AFTER `_ingested_at`",
	}; !slices.Equal(stmts, want) {
		t.Fatalf("provenance columns:\n%s", strings.Join(stmts, "\n"))
	}
	// A rollup table from before flush markers gets FlushColumn, last in its key.
	delete(have["fees_1h"], FlushColumn)
	stmts, err = Evolve(DDLOptions{}, base, have)
	if want := []string{"ALTER TABLE `sluice`.`fees_1h` ADD COLUMN IF NOT EXISTS `_sluice_flush` UInt64, " +
		"MODIFY ORDER BY (`window_start`, `channel`, `_sluice_flush`)"}; err != nil || !slices.Equal(stmts, want) {
		t.Fatalf("rollup without %s: %q %v", FlushColumn, stmts, err)
	}
	cl, err := Evolve(DDLOptions{Cluster: "c"}, base, have)
	if want := []string{
		"ALTER TABLE `sluice`.`fees_1h_local` ON CLUSTER `c` ADD COLUMN IF NOT EXISTS `_sluice_flush` UInt64, " +
			"MODIFY ORDER BY (`window_start`, `channel`, `_sluice_flush`)",
		"ALTER TABLE `sluice`.`fees_1h` ON CLUSTER `c` ADD COLUMN IF NOT EXISTS `_sluice_flush` UInt64",
	}; err != nil || !slices.Equal(cl, want) {
		t.Fatalf("cluster, rollup without %s: %q %v", FlushColumn, cl, err)
	}
	have["fees_1h"][FlushColumn] = "UInt64"
	cl, err = Evolve(DDLOptions{Cluster: "c"}, grown, have)
	if err != nil || !strings.Contains(cl[0], "`fees_local` ON CLUSTER `c` ADD COLUMN") || !strings.Contains(cl[1], "`fees` ON CLUSTER `c` ADD COLUMN") {
		t.Fatalf("cluster: %v %v", cl, err)
	}
	// Incompatible: a type change, a new dimension, a removed column.
	bad := mustType(t, "fees.schema.json", strings.NewReplacer(
		`"fee": {"type": "integer", "minimum": 0}`, `"fee": {"type": "number"}`,
		`"dimensions": ["channel"]`, `"dimensions": ["channel", "merchant"]`,
		`"fees": "sum(fee)"`, `"fees": "min(fee)"`).Replace(feesSchema))
	have["fees"]["legacy"] = "String"
	_, err = Evolve(DDLOptions{}, bad, have)
	var inc *IncompatibleColumn
	if !errors.As(err, &inc) {
		t.Fatalf("got %v, want IncompatibleColumn errors", err)
	}
	containsAll(t, "the error", err.Error(),
		"table fees, column fee: type Int64 in the table, Float64 in the schema",
		"table fees_1h, column merchant: new key column String cannot be added; a new dimension changes the rollup's key",
		"table fees, column legacy: the schema no longer has this String column",
		"table fees_1h, column fees: type SimpleAggregateFunction(sum, UInt64) in the table",
	)
}

const feesSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "fees",
  "type": "object",
  "required": ["id", "at", "merchant"],
  "properties": {
    "id": {"type": "string"},
    "at": {"type": "string", "format": "date-time"},
    "merchant": {"type": "string"},
    "channel": {"type": "string"},
    "fee": {"type": "integer", "minimum": 0}
  },
  "x-sluice": {
    "event_id": "id",
    "event_time": "at",
    "ttl": "30d",
    "rollups": [{"window": "1h", "dimensions": ["channel"], "measures": {"events": "count()", "fees": "sum(fee)"}}]
  }
}`

func mustType(t testing.TB, file, doc string) *EventType {
	t.Helper()
	et, err := ParseEventType(file, []byte(doc))
	if err != nil {
		t.Fatalf("%s:\n%v", file, err)
	}
	return et
}

func TestTypeDDLGeneric(t *testing.T) {
	et := mustType(t, "fees.schema.json", feesSchema)
	stmts := TypeDDL(DDLOptions{}, et)
	containsAll(t, "DDL", strings.Join(stmts, ";\n"),
		"CREATE TABLE IF NOT EXISTS `sluice`.`fees`\n(\n    `id` String,\n    `at` DateTime64(3, 'UTC'),",
		"ENGINE = MergeTree\nPARTITION BY toYYYYMM(at)\nORDER BY (at, id)\nTTL toDateTime(`at`) + INTERVAL 2592000 SECOND\nSETTINGS non_replicated_deduplication_window = 10000, merge_selector_base = 20",
		"CREATE TABLE IF NOT EXISTS `sluice`.`fees_1h`\n(\n    `window_start` DateTime('UTC'),\n    `channel` String,\n    `events` SimpleAggregateFunction(sum, UInt64),\n    `fees` SimpleAggregateFunction(sum, UInt64),\n    `_sluice_flush` UInt64\n)",
		"ORDER BY (`window_start`, `channel`, `_sluice_flush`)",
		"FROM `sluice`.`fees_1h` AS r\nWHERE r.`_sluice_flush` = 0\nGROUP BY r.`window_start`, r.`channel`",
		"CREATE OR REPLACE VIEW `sluice`.`fees_1h_merged`",
	)
	// The columns of every CREATE TABLE are the Blocks' names.
	b := et.NewBatch(Options{Raw: true})
	if err := b.Add([]byte(`{"id":"a","at":"2026-01-01T00:00:00Z","merchant":"m","fee":3}`), &Meta{}); err != nil {
		t.Fatal(err)
	}
	b.(FlushMarker).SetFlush("g:fees:0:0-0")
	for _, blk := range b.Blocks() {
		if got := ddlColumns(t, stmts, blk.Table); !slices.Equal(got, blk.Names) {
			t.Errorf("%s: DDL %v, block %v", blk.Table, got, blk.Names)
		}
	}
}
