package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestSchemaDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c, err := Load(map[string]string{"SLUICE_SCHEMA_DIR": dir})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Pipeline.SchemaDir != dir {
		t.Errorf("SchemaDir = %q, want %q", c.Pipeline.SchemaDir, dir)
	}
	// The built-in types' variables still work without it.
	if _, err := Load(map[string]string{"SLUICE_TOPIC_PAYMENTS": "pay", "SLUICE_RAW_SHIPMENTS": "false"}); err != nil {
		t.Errorf("built-in overrides without SLUICE_SCHEMA_DIR: %v", err)
	}

	missing := filepath.Join(dir, "nope")
	_, err = Load(map[string]string{
		"SLUICE_SCHEMA_DIR":     missing,
		"SLUICE_TOPIC_PAYMENTS": "pay",
		"SLUICE_RAW_SHIPMENTS":  "false",
	})
	if err == nil {
		t.Fatal("Load accepted a missing SLUICE_SCHEMA_DIR and built-in overrides")
	}
	want := []string{
		"SLUICE_SCHEMA_DIR=" + missing + ": must be a directory of *.schema.json event types (or empty for the built-in payments and shipments)",
		"SLUICE_TOPIC_PAYMENTS=pay: configures the built-in payments and shipments only; with SLUICE_SCHEMA_DIR set, give each type's topic and raw table in its schema's x-sluice block (topic, raw) and unset SLUICE_TOPIC_PAYMENTS",
		"SLUICE_RAW_SHIPMENTS=false: configures the built-in payments and shipments only; with SLUICE_SCHEMA_DIR set, give each type's topic and raw table in its schema's x-sluice block (topic, raw) and unset SLUICE_RAW_SHIPMENTS",
	}
	if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("error:\n%s\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}
