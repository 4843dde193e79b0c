package app

import (
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pipeline/clickhouse"
)

// A restart on migrated tables runs only the statements that may change
// something (the views'); a table or column that went missing is still created,
// and the migration puts it back.
func TestMigrateSkipsWhatExists(t *testing.T) {
	env, c, types, ch := migrationClient(t)
	pendingNow := func() []string {
		t.Helper()
		stmts, existing, err := plan(t.Context(), ch, c, types)
		if err != nil {
			t.Fatal(err)
		}
		return pending(stmts, c.ClickHouse.Database, existing)
	}
	all := Migrations(c, types)
	if got := pendingNow(); !slices.Equal(got, all) {
		t.Fatalf("on an empty database %d of the %d migrations are pending:\n%s", len(got), len(all), strings.Join(got, ";\n"))
	}
	if err := migrate(t.Context(), ch, c, types); err != nil {
		t.Fatal(err)
	}
	var views []string
	for _, s := range all {
		if strings.HasPrefix(s, "CREATE OR REPLACE VIEW") {
			views = append(views, s)
		}
	}
	if got := pendingNow(); len(views) == 0 || !slices.Equal(got, views) {
		t.Fatalf("after the migration %d statements are pending, want the %d views':\n%s", len(got), len(views), strings.Join(got, ";\n"))
	}

	env.Exec(t, "ALTER TABLE `"+env.Database+"`.`"+clickhouse.LedgerTable+"` DROP COLUMN `repairable`")
	env.Exec(t, "DROP TABLE `"+env.Database+"`.`shipments_1m`")
	got := pendingNow()
	want := []string{"ADD COLUMN IF NOT EXISTS `repairable`", "CREATE TABLE IF NOT EXISTS `" + env.Database + "`.`shipments_1m`"}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, w) }) {
			t.Errorf("with it missing, no pending statement has %q:\n%s", w, strings.Join(got, ";\n"))
		}
	}
	if len(got) != len(views)+len(want) {
		t.Errorf("%d statements pending, want the views' and %d:\n%s", len(got), len(want), strings.Join(got, ";\n"))
	}
	if err := migrate(t.Context(), ch, c, types); err != nil {
		t.Fatal(err)
	}
	cols, err := ch.TableColumns(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cols[clickhouse.LedgerTable]["repairable"]; !ok {
		t.Error("the migration did not add the ledger's repairable column back")
	}
	if _, ok := cols["shipments_1m"]; !ok {
		t.Error("the migration did not create shipments_1m again")
	}
}

// pending keeps what the columns cannot show done: an ALTER with more than one
// clause, a statement about another database, a database no table shows.
func TestPendingKeepsWhatItCannotTell(t *testing.T) {
	existing := map[string]map[string]string{"t": {"c": "UInt8", "flush": "UInt64"}}
	cases := []struct {
		stmt string
		done bool
	}{
		{"CREATE DATABASE IF NOT EXISTS `db`", true},
		{"CREATE DATABASE IF NOT EXISTS `other`", false},
		{"CREATE TABLE IF NOT EXISTS `db`.`t` (\n\t`c` UInt8\n) ENGINE = MergeTree ORDER BY c", true},
		{"CREATE TABLE IF NOT EXISTS `db`.`u` (\n\t`c` UInt8\n) ENGINE = MergeTree ORDER BY c", false},
		{"CREATE TABLE IF NOT EXISTS `other`.`t` (\n\t`c` UInt8\n) ENGINE = MergeTree ORDER BY c", false},
		{"CREATE TABLE IF NOT EXISTS `db`.`tt` (`c` UInt8) ENGINE = Memory", false},
		{"CREATE MATERIALIZED VIEW IF NOT EXISTS `db`.`t` TO `db`.`u` AS SELECT 1", true},
		{"CREATE OR REPLACE VIEW `db`.`t` AS SELECT 1", false},
		{"ALTER TABLE `db`.`t` ADD COLUMN IF NOT EXISTS `c` UInt8 DEFAULT 0 AFTER `x`", true},
		{"ALTER TABLE `db`.`t` ADD COLUMN IF NOT EXISTS `d` UInt8 DEFAULT 0 AFTER `c`", false},
		{"ALTER TABLE `db`.`t` ADD COLUMN IF NOT EXISTS `flush` UInt64, MODIFY ORDER BY (`c`, `flush`)", false},
		{"ALTER TABLE `db`.`t` ADD COLUMN IF NOT EXISTS `c` Decimal(18, 4)", false},
		{"ALTER TABLE `db`.`t` ADD PROJECTION IF NOT EXISTS p (SELECT c ORDER BY c)", false},
		{"ALTER TABLE `db`.`t` MATERIALIZE PROJECTION p", false},
	}
	for _, tc := range cases {
		if got := done(tc.stmt, "db", existing); got != tc.done {
			t.Errorf("done(%q) = %v, want %v", tc.stmt, got, tc.done)
		}
	}
	if got := done("CREATE DATABASE IF NOT EXISTS `db`", "db", nil); got {
		t.Error("a database without tables counts as created")
	}
}
