package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/pipeline/clickhouse"
	"github.com/sluicehq/sluice/schemas"
)

// EventTypes returns the event types c runs: every *.schema.json of
// SLUICE_SCHEMA_DIR, or, when it is empty, the built-in payments and shipments
// with SLUICE_TOPIC_* and SLUICE_RAW_* applied (an empty topic switches a type off).
// A document with mistakes gives schemas.SchemaErrors (each with its file, JSON
// pointer and fix); a type that clashes with the deployment (its topic is the
// dead-letter topic, or it would store nothing with SLUICE_ROLLUPS=false) is an
// error naming the file and the variable.
func EventTypes(c config.Config) ([]*schemas.EventType, error) {
	var types []*schemas.EventType
	if dir := c.Pipeline.SchemaDir; dir != "" {
		var err error
		if types, err = schemas.LoadEventTypes(os.DirFS(dir)); err != nil {
			return nil, fmt.Errorf("SLUICE_SCHEMA_DIR=%s:\n%w", dir, err)
		}
	} else {
		for _, t := range schemas.BuiltinEventTypes() {
			topic, raw := c.Kafka.PaymentsTopic, c.Pipeline.RawPayments
			if t.Table() == "shipments" {
				topic, raw = c.Kafka.ShipmentsTopic, c.Pipeline.RawShipments
			}
			if topic != "" {
				types = append(types, t.WithTopic(topic).WithRaw(raw))
			}
		}
	}
	var errs []error
	for _, t := range types {
		if t.Topic() == c.Kafka.DLQTopic {
			errs = append(errs, fmt.Errorf("%s: topic %s is SLUICE_DLQ_TOPIC; dead letters would be consumed again: change one of them", t.File(), t.Topic()))
		}
		if !c.Pipeline.Rollups && !t.Raw() {
			errs = append(errs, fmt.Errorf("%s: stores no raw rows and SLUICE_ROLLUPS=false: it would store nothing; set x-sluice.raw to true or SLUICE_ROLLUPS=true", t.File()))
		}
	}
	return types, errors.Join(errs...)
}

// topicsOf returns the source topics of types, in order.
func topicsOf(types []*schemas.EventType) []string {
	ts := make([]string, len(types))
	for i, t := range types {
		ts[i] = t.Topic()
	}
	return ts
}

// ddlOptions are the DDL settings of c.
func ddlOptions(c config.Config) schemas.DDLOptions {
	return schemas.DDLOptions{
		Database:    c.ClickHouse.Database,
		Window:      c.Pipeline.Window,
		DedupWindow: c.ClickHouse.DedupWindow,
		Cluster:     c.ClickHouse.Cluster,
	}
}

// Migrations returns every statement `sluice migrate` runs for c and types on a
// server that has none of their tables yet, in order: the event types' tables and
// views (schemas.TypeDDL), then Sluice's own tables. Each is idempotent.
func Migrations(c config.Config, types []*schemas.EventType) []string {
	stmts := schemas.TypeDDL(ddlOptions(c), types...)
	return append(stmts, clickhouse.DDL(clickhouse.DDLOptions{
		Database:    c.ClickHouse.Database,
		DedupWindow: c.ClickHouse.DedupWindow,
		Horizon:     c.Pipeline.DedupHorizon,
		Cluster:     c.ClickHouse.Cluster,
	})...)
}

// SchemaChangeError is a schema change that ALTER TABLE … ADD COLUMN cannot make
// (a column's type changed, a column removed, a rollup's key changed): migrating
// and starting are refused until the schema or the tables are changed. It wraps one
// *schemas.IncompatibleColumn per column.
type SchemaChangeError struct{ Err error }

func (e *SchemaChangeError) Error() string {
	return "schema change refused (docs/schema-evolution.md):\n" + e.Err.Error()
}

func (e *SchemaChangeError) Unwrap() error { return e.Err }

// Plan returns the statements that bring ch's database to c and types: first the
// ALTER TABLE … ADD COLUMN IF NOT EXISTS statements and views of compatible changes
// to tables that exist (schemas.Evolve against system.columns), then the
// schemas.OffsetsProjection of existing raw tables that lack it
// (schemas.AddOffsetsProjection), then the merge settings of existing tables that
// lack them (schemas.ModifyMergeSettings), then Migrations.
// Every statement is idempotent, so instances may plan and migrate concurrently.
// An incompatible change is a *SchemaChangeError and no statement.
func Plan(ctx context.Context, ch *clickhouse.Client, c config.Config, types []*schemas.EventType) ([]string, error) {
	stmts, _, err := plan(ctx, ch, c, types)
	return stmts, err
}

// plan is Plan, which also returns the columns of every table it found (see
// clickhouse.Client.TableColumns).
func plan(ctx context.Context, ch *clickhouse.Client, c config.Config, types []*schemas.EventType) ([]string, map[string]map[string]string, error) {
	existing, err := ch.TableColumns(ctx)
	if err != nil {
		return nil, nil, err
	}
	projected, err := ch.TablesWithProjection(ctx, schemas.OffsetsProjection)
	if err != nil {
		return nil, nil, err
	}
	var stmts, projections []string
	var refused []error
	for _, t := range types {
		s, err := schemas.Evolve(ddlOptions(c), t, existing)
		if err != nil {
			refused = append(refused, err)
			continue
		}
		stmts = append(stmts, s...)
		local := t.Table()
		if c.ClickHouse.Cluster != "" {
			local += schemas.LocalSuffix
		}
		if _, ok := existing[local]; ok && !projected[local] {
			projections = append(projections, schemas.AddOffsetsProjection(ddlOptions(c), t)...)
		}
	}
	if len(refused) > 0 {
		return nil, nil, &SchemaChangeError{Err: errors.Join(refused...)}
	}
	settings, err := mergeSettings(ctx, ch, c, types)
	if err != nil {
		return nil, nil, err
	}
	return append(append(append(stmts, projections...), settings...), Migrations(c, types)...), existing, nil
}

// mergeSettings returns the ALTER TABLE … MODIFY SETTING statements that give
// every existing table of c and types (their raw and rollup tables, the ledger
// and the event-id table; on a cluster, their local tables) the merge settings
// it lacks (schemas.ModifyMergeSettings).
func mergeSettings(ctx context.Context, ch *clickhouse.Client, c config.Config, types []*schemas.EventType) ([]string, error) {
	engines, err := ch.TableEngines(ctx)
	if err != nil {
		return nil, err
	}
	tables := []string{clickhouse.LedgerTable, clickhouse.EventIDsTable}
	for _, t := range types {
		if t.Raw() {
			tables = append(tables, t.Table())
		}
		tables = append(tables, t.RollupTables(c.Pipeline.Window)...)
	}
	var stmts []string
	for _, table := range tables {
		if c.ClickHouse.Cluster != "" {
			table += schemas.LocalSuffix
		}
		if engine, ok := engines[table]; ok {
			stmts = append(stmts, schemas.ModifyMergeSettings(ddlOptions(c), table, engine)...)
		}
	}
	return stmts, nil
}

// migrate runs Plan's statements on ch, but for those whose effect the tables Plan
// read already have (see pending): an instance restarting on migrated tables
// runs only the views' statements.
func migrate(ctx context.Context, ch *clickhouse.Client, c config.Config, types []*schemas.EventType) error {
	stmts, existing, err := plan(ctx, ch, c, types)
	if err != nil {
		return err
	}
	if c.ClickHouse.Cluster == "" {
		// On a cluster this server's tables say nothing of the others'.
		stmts = pending(stmts, c.ClickHouse.Database, existing)
	}
	return ch.Migrate(ctx, stmts)
}

// Migrate loads c's event types and applies their migrations (see Plan); it is
// idempotent and safe to run from several instances at once.
func Migrate(ctx context.Context, c config.Config) error {
	types, err := EventTypes(c)
	if err != nil {
		return err
	}
	ch, err := OpenClickHouse(ctx, c)
	if err != nil {
		return err
	}
	defer ch.Close()
	return migrate(ctx, ch, c, types)
}

// rollupTableNames are the rollup tables types write with window, for the
// compression-ratio metric.
func rollupTableNames(types []*schemas.EventType, window time.Duration) []string {
	var s []string
	for _, t := range types {
		s = append(s, t.RollupTables(window)...)
	}
	return s
}

// repairer checks and completes the flushes of c whose outcome was unknown
// (pipeline.Repairer): ch on one server. None on a cluster, whose replicated
// tables commit an insert's token together with its part, nor at least once.
func repairer(c config.Config, ch *clickhouse.Client) pipeline.Repairer {
	if c.ClickHouse.Cluster != "" || !c.Pipeline.ExactlyOnce {
		return nil
	}
	return ch
}
