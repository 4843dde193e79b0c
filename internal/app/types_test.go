package app

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/pipeline/clickhouse"
	"github.com/sluicehq/sluice/schemas"
)

func load(t *testing.T, env map[string]string) config.Config {
	t.Helper()
	c, err := config.Load(env)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestBuiltinMigrationsUnchanged: without SLUICE_SCHEMA_DIR, the migrations are
// exactly the hand-written DDL of payments and shipments, with the per-type
// variables applied.
func TestBuiltinMigrationsUnchanged(t *testing.T) {
	t.Parallel()
	for _, env := range []map[string]string{
		nil,
		{"SLUICE_RAW_PAYMENTS": "false", "SLUICE_WINDOW": "5m", "SLUICE_CLICKHOUSE_DATABASE": "d"},
		{"SLUICE_RAW_SHIPMENTS": "false", "SLUICE_CLICKHOUSE_CLUSTER": "c"},
	} {
		c := load(t, env)
		types, err := EventTypes(c)
		if err != nil {
			t.Fatal(err)
		}
		if got := topicsOf(types); !slices.Equal(got, []string{"payments", "shipments"}) {
			t.Errorf("%v: topics %q", env, got)
		}
		want := schemas.DDL(schemas.DDLOptions{
			Database: c.ClickHouse.Database, Window: c.Pipeline.Window, DedupWindow: c.ClickHouse.DedupWindow,
			RawPayments: c.Pipeline.RawPayments, RawShipments: c.Pipeline.RawShipments, Cluster: c.ClickHouse.Cluster,
		})
		want = append(want, clickhouse.DDL(clickhouse.DDLOptions{
			Database: c.ClickHouse.Database, DedupWindow: c.ClickHouse.DedupWindow,
			Horizon: c.Pipeline.DedupHorizon, Cluster: c.ClickHouse.Cluster,
		})...)
		if got := Migrations(c, types); !slices.Equal(got, want) {
			t.Errorf("%v: migrations differ from the built-in DDL:\n%s\n\nwant:\n%s", env, strings.Join(got, ";\n"), strings.Join(want, ";\n"))
		}
	}
}

func TestBuiltinTopicOff(t *testing.T) {
	t.Parallel()
	types, err := EventTypes(load(t, map[string]string{"SLUICE_TOPIC_PAYMENTS": "", "SLUICE_TOPIC_SHIPMENTS": "scans"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := topicsOf(types); !slices.Equal(got, []string{"scans"}) {
		t.Errorf("topics %q, want [scans]", got)
	}
}

func TestEventTypesFromDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	doc := `{"$schema":"https://json-schema.org/draft/2020-12/schema","title":"refunds","type":"object",
		"required":["id","at"],"properties":{"id":{"type":"string"},"at":{"type":"string","format":"date-time"}},
		"x-sluice":{"raw":false,"event_time":"at","rollups":[{"table":"refunds_1m","window":"1m","dimensions":["id"],"measures":{"events":"count()"}}]}}`
	if err := os.WriteFile(filepath.Join(dir, "refunds.schema.json"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	types, err := EventTypes(load(t, map[string]string{"SLUICE_SCHEMA_DIR": dir}))
	if err != nil {
		t.Fatal(err)
	}
	if got := topicsOf(types); !slices.Equal(got, []string{"refunds"}) {
		t.Errorf("topics %q, want [refunds]", got)
	}
	_, err = EventTypes(load(t, map[string]string{"SLUICE_SCHEMA_DIR": dir, "SLUICE_ROLLUPS": "false", "SLUICE_DLQ_TOPIC": "refunds"}))
	for _, want := range []string{
		"refunds.schema.json: topic refunds is SLUICE_DLQ_TOPIC; dead letters would be consumed again: change one of them",
		"refunds.schema.json: stores no raw rows and SLUICE_ROLLUPS=false: it would store nothing; set x-sluice.raw to true or SLUICE_ROLLUPS=true",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}

	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "x.schema.json"), []byte(`{"type":"object","properties":{"a":{"type":"strin"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = EventTypes(load(t, map[string]string{"SLUICE_SCHEMA_DIR": bad}))
	var se schemas.SchemaErrors
	if !errors.As(err, &se) || len(se) == 0 || se[0].File != "x.schema.json" {
		t.Errorf("bad document: error %v, want SchemaErrors for x.schema.json", err)
	}
	_, err = EventTypes(load(t, map[string]string{"SLUICE_SCHEMA_DIR": t.TempDir()}))
	if err == nil || !strings.Contains(err.Error(), "no *.schema.json file") {
		t.Errorf("empty directory: error %v", err)
	}
}
