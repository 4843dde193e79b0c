package schemas

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// ddlColumns extracts the column names of CREATE TABLE db.table from stmts.
func ddlColumns(t *testing.T, stmts []string, table string) []string {
	t.Helper()
	for _, s := range stmts {
		if !strings.HasPrefix(s, "CREATE TABLE IF NOT EXISTS ") || !strings.Contains(s, ".`"+table+"`\n") {
			continue
		}
		body := s[strings.Index(s, "(\n")+2 : strings.Index(s, "\n)\n")]
		var names []string
		for _, line := range strings.Split(body, "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "PROJECTION ") {
				continue
			}
			names = append(names, strings.Trim(line[:strings.IndexByte(line, ' ')], "`"))
		}
		return names
	}
	t.Fatalf("no CREATE TABLE for %s", table)
	return nil
}

func TestDDLMatchesBlocks(t *testing.T) {
	stmts := DDL(DDLOptions{Window: 5 * time.Minute, RawPayments: true, RawShipments: true})
	pb := NewPaymentBatch(Options{Window: 5 * time.Minute, Raw: true})
	if err := pb.Add([]byte(validPayment), &Meta{}); err != nil {
		t.Fatal(err)
	}
	sb := NewShipmentBatch(Options{Window: 5 * time.Minute, Raw: true})
	if err := sb.Add([]byte(validShipment), &Meta{}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range append(pb.Blocks(), sb.Blocks()...) {
		got := ddlColumns(t, stmts, b.Table)
		if strings.HasPrefix(b.Names[0], "window_start") {
			// The hand-written batches mark no flushes: FlushColumn takes its default.
			got = slices.DeleteFunc(got, func(n string) bool { return n == FlushColumn })
		}
		if strings.Join(got, ",") != strings.Join(b.Names, ",") {
			t.Errorf("%s: DDL columns %v, block names %v", b.Table, got, b.Names)
		}
		n++
	}
	if n != 4 {
		t.Fatalf("%d blocks, want 4", n)
	}
}

func TestDDLStatements(t *testing.T) {
	stmts := DDL(DDLOptions{Database: "analytics", DedupWindow: 500, RawPayments: true})
	all := strings.Join(stmts, ";\n")
	if stmts[0] != "CREATE DATABASE IF NOT EXISTS `analytics`" {
		t.Fatalf("first statement %q", stmts[0])
	}
	for _, want := range []string{
		"CREATE TABLE IF NOT EXISTS `analytics`.`payments`\n",
		"CREATE TABLE IF NOT EXISTS `analytics`.`payments_1m`\n",
		"CREATE TABLE IF NOT EXISTS `analytics`.`shipments_1m`\n",
		"CREATE OR REPLACE VIEW `analytics`.`payments_1m_merged` AS",
		"CREATE OR REPLACE VIEW `analytics`.`shipments_1m_merged` AS",
		"ENGINE = AggregatingMergeTree",
		"`amount_minor_sum` SimpleAggregateFunction(sum, UInt64)",
		"`amount_minor_min` SimpleAggregateFunction(min, Int64)",
		"sum(r.`amount_minor_sum`) AS `amount_minor_sum`",
		"min(r.`amount_minor_min`) AS `amount_minor_min`",
		"max(r.`amount_minor_max`) AS `amount_minor_max`",
		"GROUP BY r.`window_start`, r.`merchant_id`, r.`currency`, r.`method`, r.`event_type`",
		"`occurred_at` DateTime64(3, 'UTC')",
		"`metadata` Map(String, String)",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("DDL lacks %q", want)
		}
	}
	if strings.Contains(all, "`shipments`\n") {
		t.Error("raw shipments table created though RawShipments is false")
	}
	tables := regexp.MustCompile("CREATE TABLE IF NOT EXISTS").FindAllStringIndex(all, -1)
	settings := regexp.MustCompile(`SETTINGS non_replicated_deduplication_window = 500, merge_selector_base = 20`).FindAllStringIndex(all, -1)
	if len(tables) != 3 || len(settings) != 3 {
		t.Fatalf("%d tables, %d with dedup window and merge settings", len(tables), len(settings))
	}
	for _, s := range stmts {
		if !strings.Contains(s, "IF NOT EXISTS") && !strings.Contains(s, "OR REPLACE") {
			t.Errorf("not idempotent: %s", s)
		}
	}
}

func TestValidIdentifier(t *testing.T) {
	for _, ok := range []string{"sluice", "_x", "A1_b", strings.Repeat("a", 64)} {
		if err := ValidIdentifier(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1a", "a-b", "a b", "a`b", "é", strings.Repeat("a", 65), "x;DROP"} {
		if ValidIdentifier(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("DDL accepted a bad database name")
		}
	}()
	DDL(DDLOptions{Database: "a`b"})
}

func TestDDLCluster(t *testing.T) {
	o := DDLOptions{Database: "analytics", DedupWindow: 500, RawPayments: true, RawShipments: true, Cluster: "prod"}
	stmts := DDL(o)
	if stmts[0] != "CREATE DATABASE IF NOT EXISTS `analytics` ON CLUSTER `prod`" {
		t.Fatalf("first statement %q", stmts[0])
	}
	for _, s := range stmts {
		if !strings.Contains(s, "ON CLUSTER `prod`") {
			t.Errorf("not ON CLUSTER:\n%s", s)
		}
		if strings.Contains(s, "non_replicated_deduplication_window") {
			t.Errorf("non-replicated setting on a cluster:\n%s", s)
		}
	}
	all := strings.Join(stmts, ";\n")
	for _, want := range []string{
		// Local tables: replicated, one Keeper path per shard, dedup window kept.
		"CREATE TABLE IF NOT EXISTS `analytics`.`payments_local`\nON CLUSTER `prod`\n(\n",
		")\nENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')\n" +
			"PARTITION BY toYYYYMM(occurred_at)\nORDER BY (merchant_id, occurred_at, event_id)\n" +
			"SETTINGS replicated_deduplication_window = 500, replicated_deduplication_window_seconds = 604800, merge_selector_base = 20",
		"CREATE TABLE IF NOT EXISTS `analytics`.`shipments_1m_local`\nON CLUSTER `prod`\n(\n",
		")\nENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')\n" +
			"PARTITION BY toYYYYMM(window_start)\nORDER BY (`window_start`, `hub_id`, `carrier`, `event_type`, `_sluice_flush`)\n" +
			"SETTINGS replicated_deduplication_window = 500, replicated_deduplication_window_seconds = 604800, merge_selector_base = 20",
		// Distributed tables under the plain names, sharded by row content.
		"CREATE TABLE IF NOT EXISTS `analytics`.`payments`\nON CLUSTER `prod`\n(\n",
		")\nENGINE = Distributed('prod', 'analytics', 'payments_local', cityHash64(`merchant_id`))",
		")\nENGINE = Distributed('prod', 'analytics', 'shipments_local', cityHash64(`hub_id`))",
		")\nENGINE = Distributed('prod', 'analytics', 'payments_1m_local', cityHash64(`merchant_id`))",
		")\nENGINE = Distributed('prod', 'analytics', 'shipments_1m_local', cityHash64(`hub_id`))",
		// Views read the Distributed tables.
		"CREATE OR REPLACE VIEW `analytics`.`payments_1m_merged` ON CLUSTER `prod` AS\nSELECT\n",
		"FROM `analytics`.`payments_1m` AS r\nWHERE r.`_sluice_flush` = 0\nGROUP BY",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("cluster DDL lacks %q", want)
		}
	}
	// Every local table has its Distributed table, with the same columns, after it.
	local := map[string]int{}
	for i, s := range stmts {
		name, _, _ := strings.Cut(strings.TrimPrefix(s, "CREATE TABLE IF NOT EXISTS `analytics`.`"), "`")
		switch {
		case !strings.HasPrefix(s, "CREATE TABLE"):
		case strings.HasSuffix(name, LocalSuffix):
			local[name] = i
		default:
			j, ok := local[name+LocalSuffix]
			if !ok {
				t.Errorf("Distributed %s before (or without) its local table", name)
				continue
			}
			if got, want := ddlColumns(t, stmts, name), ddlColumns(t, stmts, name+LocalSuffix); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s columns %v, %s (statement %d) columns %v", name, got, name+LocalSuffix, j, want)
			}
			delete(local, name+LocalSuffix)
		}
	}
	if len(local) != 0 {
		t.Errorf("local tables without a Distributed table: %v", local)
	}
	// The tables Sluice inserts into keep the plain names and the blocks' columns.
	o.Cluster = ""
	single := DDL(o)
	for _, table := range []string{"payments", "shipments", "payments_1m", "shipments_1m"} {
		if got, want := ddlColumns(t, stmts, table), ddlColumns(t, single, table); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: cluster columns %v, single-server columns %v", table, got, want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("DDL accepted a bad cluster name")
		}
	}()
	DDL(DDLOptions{Cluster: "a-b"})
}
