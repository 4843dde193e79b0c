package clickhouse

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/schemas"
)

func TestDDLCluster(t *testing.T) {
	stmts := DDL(DDLOptions{Database: "sl", DedupWindow: 500, Horizon: 2 * time.Hour, Cluster: "prod"})
	want := []string{
		"CREATE DATABASE IF NOT EXISTS `sl` ON CLUSTER `prod`",
		"CREATE TABLE IF NOT EXISTS `sl`.`sluice_ledger_local` ON CLUSTER `prod` (\n",
		"ALTER TABLE `sl`.`sluice_ledger_local` ON CLUSTER `prod` ADD COLUMN IF NOT EXISTS `topic_id`",
		"ALTER TABLE `sl`.`sluice_ledger_local` ON CLUSTER `prod` ADD COLUMN IF NOT EXISTS `repairable`",
		"CREATE TABLE IF NOT EXISTS `sl`.`sluice_event_ids_local` ON CLUSTER `prod` (\n",
		"ALTER TABLE `sl`.`sluice_event_ids_local` ON CLUSTER `prod` ADD COLUMN IF NOT EXISTS `topic_id`",
		"CREATE TABLE IF NOT EXISTS `sl`.`sluice_ledger` ON CLUSTER `prod` AS `sl`.`sluice_ledger_local`\n" +
			"ENGINE = Distributed('prod', 'sl', 'sluice_ledger_local', cityHash64(`topic`, `partition`))",
		"ALTER TABLE `sl`.`sluice_ledger` ON CLUSTER `prod` ADD COLUMN IF NOT EXISTS `topic_id`",
		"ALTER TABLE `sl`.`sluice_ledger` ON CLUSTER `prod` ADD COLUMN IF NOT EXISTS `repairable`",
		"CREATE TABLE IF NOT EXISTS `sl`.`sluice_event_ids` ON CLUSTER `prod` AS `sl`.`sluice_event_ids_local`\n" +
			"ENGINE = Distributed('prod', 'sl', 'sluice_event_ids_local', cityHash64(`topic`, `partition`))",
		"ALTER TABLE `sl`.`sluice_event_ids` ON CLUSTER `prod` ADD COLUMN IF NOT EXISTS `topic_id`",
	}
	if len(stmts) != len(want) {
		t.Fatalf("DDL returned %d statements, want %d:\n%s", len(stmts), len(want), strings.Join(stmts, ";\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(stmts[i], w) {
			t.Errorf("statement %d:\n%s\nwant it to start with\n%s", i, stmts[i], w)
		}
	}
	const engine = ") ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')\n"
	for _, i := range []int{1, 4} {
		if !strings.Contains(stmts[i], engine) {
			t.Errorf("statement %d lacks %q:\n%s", i, engine, stmts[i])
		}
	}
	if s := stmts[4]; !strings.HasSuffix(s, "\nSETTINGS replicated_deduplication_window = 500, replicated_deduplication_window_seconds = 604800, "+schemas.MergeSettings()) {
		t.Errorf("event ids table without the replicated dedup window and the merge settings:\n%s", s)
	}
	if s := stmts[1]; !strings.HasSuffix(s, " SECOND\nSETTINGS "+schemas.MergeSettings()) {
		t.Errorf("ledger without the merge settings:\n%s", s)
	}
	// The single-server tables are the local tables, less the cluster.
	single := DDL(DDLOptions{Database: "sl", DedupWindow: 500, Horizon: 2 * time.Hour})
	for i := range single[1:] {
		local := strings.NewReplacer("_local`", "`", " ON CLUSTER `prod`", "",
			"ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')", "MergeTree",
			"replicated_deduplication_window = 500, replicated_deduplication_window_seconds = 604800",
			"non_replicated_deduplication_window = 500").Replace(stmts[1+i])
		if local != single[1+i] {
			t.Errorf("cluster statement %d, made local:\n%s\nsingle-server:\n%s", 1+i, local, single[1+i])
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("DDL with an invalid cluster did not panic")
		}
	}()
	DDL(DDLOptions{Database: "sl", Cluster: "a b"})
}
