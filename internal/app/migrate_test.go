package app

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/dev/testenv"
	"github.com/sluicehq/sluice/pipeline/clickhouse"
	"github.com/sluicehq/sluice/schemas"
)

// migrationClient returns a test database, the configuration of the built-in
// types on it, those types and a client, closed when the test ends.
func migrationClient(t *testing.T) (*testenv.CH, config.Config, []*schemas.EventType, *clickhouse.Client) {
	t.Helper()
	env := testenv.ClickHouse(t)
	c := load(t, map[string]string{"SLUICE_CLICKHOUSE_ADDR": env.Addr, "SLUICE_CLICKHOUSE_DATABASE": env.Database})
	types, err := EventTypes(c)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := OpenClickHouse(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Close() })
	return env, c, types, ch
}

// Raw tables created before they had the offsets projection get it from the
// migration, once: a second plan does not materialize it again.
func TestMigrateAddsOffsetsProjection(t *testing.T) {
	_, c, types, ch := migrationClient(t)
	// The tables as an earlier migration created them.
	var old []string
	for _, s := range Migrations(c, types) {
		if i := strings.Index(s, ",\n    PROJECTION "); i >= 0 {
			s = s[:i] + s[strings.Index(s, "\n)\n"):]
		}
		old = append(old, s)
	}
	if err := ch.Migrate(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	projections := func(stmts []string) (n int) {
		for _, s := range stmts {
			if strings.HasPrefix(s, "ALTER") && strings.Contains(s, "PROJECTION") && strings.Contains(s, schemas.OffsetsProjection) {
				n++
			}
		}
		return n
	}
	stmts, err := Plan(t.Context(), ch, c, types)
	if err != nil {
		t.Fatal(err)
	}
	// payments and shipments: ADD and MATERIALIZE each.
	if n := projections(stmts); n != 4 {
		t.Fatalf("plan for tables without the projection has %d projection statements, want 4:\n%s", n, strings.Join(stmts, ";\n"))
	}
	if err := migrate(t.Context(), ch, c, types); err != nil {
		t.Fatal(err)
	}
	has, err := ch.TablesWithProjection(t.Context(), schemas.OffsetsProjection)
	if err != nil || !has["payments"] || !has["shipments"] {
		t.Fatalf("after the migration, tables with the projection: %v, %v", has, err)
	}
	if stmts, err = Plan(t.Context(), ch, c, types); err != nil || projections(stmts) != 0 {
		t.Fatalf("plan after the migration: %v\n%s", err, strings.Join(stmts, ";\n"))
	}
}

// Tables created before Sluice set its merge settings get them from the
// migration (ALTER TABLE … MODIFY SETTING), every Sluice table once: a second
// plan has nothing left to change.
func TestMigrateModifiesMergeSettings(t *testing.T) {
	_, c, types, ch := migrationClient(t)
	// The tables as an earlier migration created them.
	unset := strings.NewReplacer(", "+schemas.MergeSettings(), "", "\nSETTINGS "+schemas.MergeSettings(), "")
	var old []string
	for _, s := range Migrations(c, types) {
		old = append(old, unset.Replace(s))
	}
	if err := ch.Migrate(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	modify := func(stmts []string) (tables []string) {
		for _, s := range stmts {
			if strings.HasPrefix(s, "ALTER") && strings.HasSuffix(s, " MODIFY SETTING "+schemas.MergeSettings()) {
				tables = append(tables, s)
			}
		}
		return tables
	}
	stmts, err := Plan(t.Context(), ch, c, types)
	if err != nil {
		t.Fatal(err)
	}
	// payments, shipments, payments_1m, shipments_1m, the ledger and the event ids.
	if got := modify(stmts); len(got) != 6 {
		t.Fatalf("plan for tables without the merge settings modifies %d tables, want 6:\n%s", len(got), strings.Join(stmts, ";\n"))
	}
	if err := migrate(t.Context(), ch, c, types); err != nil {
		t.Fatal(err)
	}
	engines, err := ch.TableEngines(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"payments", "shipments", "payments_1m", "shipments_1m", "sluice_ledger", "sluice_event_ids"} {
		if e := engines[table]; !strings.Contains(e, schemas.MergeSettings()) {
			t.Errorf("after the migration, %s is %q, without %s", table, e, schemas.MergeSettings())
		}
	}
	if stmts, err = Plan(t.Context(), ch, c, types); err != nil || len(modify(stmts)) != 0 {
		t.Fatalf("plan after the migration: %v\n%s", err, strings.Join(stmts, ";\n"))
	}
}
