package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segmentio/encoding/json"

	"github.com/sluicehq/sluice/producers/schemagen"
)

const walletSchema = "testdata/wallet_topups.schema.json"

func TestSchemaCheckFile(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if err := schemaCommand(t.Context(), []string{"check", walletSchema}, &out, &errOut); err != nil {
		t.Fatalf("schema check: %v\n%s", err, errOut.String())
	}
	// Compared with runs of spaces collapsed: the columns are aligned per table.
	got := strings.Join(strings.Fields(out.String()), " ")
	for _, want := range []string{
		walletSchema + ": ok",
		"topic wallet_topups, event_id topup_id (producer retries dropped), event_time occurred_at",
		"table wallet_topups (raw rows)",
		"amount Decimal(18, 2)",
		"merchant_country String",
		"tags Array(String)",
		"attributes Map(String, String)",
		"rollup wallet_topups_1m (window 1m0s; view wallet_topups_1m_merged)",
		"rollup wallet_topups_1h (window 1h0m0s; view wallet_topups_1h_merged)",
		"amount_sum SimpleAggregateFunction(sum, Decimal(38, 2)) sum(amount)",
		"merchant_id String key currency LowCardinality(String) key kind LowCardinality(String) key events SimpleAggregateFunction(sum, UInt64) count()",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if errOut.Len() != 0 {
		t.Errorf("stderr: %s", errOut.String())
	}
}

func TestSchemaCheckMistakes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good, err := os.ReadFile(walletSchema)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(good), `"dimensions": ["merchant_country", "kind"]`, `"dimensions": ["merchant_countyr", "kind"]`, 1)
	bad = strings.Replace(bad, `"title": "wallet_topups"`, `"title": "refunds"`, 1)
	bad = strings.Replace(bad, `"type": "string", "enum"`, `"type": "strnig", "enum"`, 1)
	for name, doc := range map[string]string{"wallet_topups.schema.json": string(good), "refunds.schema.json": bad} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	err = schemaCommand(t.Context(), []string{"check", dir}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "mistakes (listed above)") {
		t.Fatalf("schema check of a bad directory: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	file := filepath.Join(dir, "refunds.schema.json")
	for _, want := range []string{
		file + `: /x-sluice/rollups/1/dimensions/0: "merchant_countyr" is not a property; did you mean "merchant_country"?`,
		file + `: /properties/kind/type`,
	} {
		found := false
		for _, l := range lines {
			found = found || strings.HasPrefix(l, want)
		}
		if !found {
			t.Errorf("stderr lacks a line starting %q:\n%s", want, errOut.String())
		}
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, file+": /") {
			t.Errorf("mistake %q does not name the file and a JSON pointer", l)
		}
	}

	if err := schemaCommand(t.Context(), []string{"check", filepath.Join(dir, "missing.schema.json")}, &out, &errOut); err == nil {
		t.Error("schema check of a missing file succeeded")
	}
	for _, args := range [][]string{nil, {"lint"}, {"check"}} {
		if err := schemaCommand(t.Context(), args, &out, &errOut); err == nil {
			t.Errorf("schema %q succeeded", args)
		}
	}
}

// TestMigrateDryRunOffline prints the full CREATE set of SLUICE_SCHEMA_DIR's types
// without a server.
func TestMigrateDryRunOffline(t *testing.T) {
	dir := t.TempDir()
	doc, err := os.ReadFile(walletSchema)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "wallet_topups.schema.json"), doc, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLUICE_SCHEMA_DIR", dir)
	t.Setenv("SLUICE_CLICKHOUSE_DATABASE", "fin")
	// Nothing listens here: --offline must not connect.
	t.Setenv("SLUICE_CLICKHOUSE_ADDR", "127.0.0.1:1")
	var out, errOut bytes.Buffer
	if err := migrateCommand(t.Context(), []string{"--dry-run", "--offline"}, &out, &errOut); err != nil {
		t.Fatalf("migrate --dry-run --offline: %v\n%s", err, errOut.String())
	}
	got := out.String()
	for _, want := range []string{
		"-- sluice migrate --dry-run: ",
		"statements offline: the full CREATE set",
		"CREATE DATABASE IF NOT EXISTS `fin`",
		"CREATE TABLE IF NOT EXISTS `fin`.`wallet_topups`",
		"`amount` Decimal(18, 2)",
		"CREATE TABLE IF NOT EXISTS `fin`.`wallet_topups_1m`",
		"CREATE TABLE IF NOT EXISTS `fin`.`wallet_topups_1h`",
		"VIEW `fin`.`wallet_topups_1h_merged`",
		"CREATE TABLE IF NOT EXISTS `fin`.`sluice_ledger`",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	// Without --offline it needs the server, and says how to do without.
	err = migrateCommand(t.Context(), []string{"--dry-run"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "--offline prints the full CREATE set") {
		t.Errorf("migrate --dry-run without a server: %v", err)
	}
	// A per-type variable of the built-in types is refused with SLUICE_SCHEMA_DIR.
	t.Setenv("SLUICE_TOPIC_PAYMENTS", "pay")
	err = migrateCommand(t.Context(), []string{"--dry-run", "--offline"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "SLUICE_TOPIC_PAYMENTS=pay: configures the built-in payments and shipments only") {
		t.Errorf("migrate with SLUICE_TOPIC_PAYMENTS and SLUICE_SCHEMA_DIR: %v", err)
	}
}

func TestProduceAndLoadgenSchema(t *testing.T) {
	brokers := fakeKafka(t, "wallet_topups")
	truthFile := filepath.Join(t.TempDir(), "truth.json")
	var out, errOut bytes.Buffer
	err := loadgenCommand(t.Context(), []string{"--brokers", brokers, "--schema", walletSchema, "--seed", "5",
		"--count", "300", "--invalid-rate", "0.1", "--duplicate-rate", "0.05", "--start", "2026-02-01T00:00:00Z", "--truth-json", truthFile}, &out, &errOut)
	if err != nil {
		t.Fatalf("loadgen --schema: %v\n%s", err, errOut.String())
	}
	countRecords(t, brokers, "wallet_topups", 300)
	b, err := os.ReadFile(truthFile)
	if err != nil {
		t.Fatal(err)
	}
	var truth struct {
		Records, Valid, Invalid, Duplicates int64
		Rollups                             []struct {
			Table string
			Rows  []schemagen.Row
		}
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	if truth.Records != 300 || truth.Valid+truth.Invalid+truth.Duplicates != 300 || truth.Invalid == 0 || truth.Duplicates == 0 {
		t.Errorf("truth counts %+v", truth)
	}
	if len(truth.Rollups) != 2 || truth.Rollups[0].Table != "wallet_topups_1m" || len(truth.Rollups[0].Rows) == 0 {
		t.Errorf("truth rollups %+v", truth.Rollups)
	}
	if !strings.Contains(out.String(), "wallet_topups records=300 ") {
		t.Errorf("summary:\n%s", out.String())
	}

	// produce --schema validates each line with the type and publishes the valid ones.
	lines := filepath.Join(t.TempDir(), "events.ndjson")
	valid := `{"topup_id":"p-1","occurred_at":"2026-02-01T00:00:00Z","kind":"upi","amount":12.30,"currency":"INR","merchant":{"id":"m1"}}`
	invalid := `{"topup_id":"p-2","occurred_at":"2026-02-01T00:00:00Z","kind":"cash","amount":1,"currency":"INR","merchant":{"id":"m1"}}`
	if err := os.WriteFile(lines, []byte(valid+"\n"+invalid+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errOut.Reset()
	err = produceCommand(t.Context(), []string{"--brokers", brokers, "--schema", walletSchema, lines}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "1 invalid lines") {
		t.Errorf("produce --schema with an invalid line: %v", err)
	}
	sc := bufio.NewScanner(&errOut)
	reported := false
	for sc.Scan() {
		reported = reported || strings.HasPrefix(sc.Text(), lines+":2: invalid event: bad_enum (kind)")
	}
	if !reported {
		t.Errorf("stderr does not report line 2 as bad_enum:\n%s", errOut.String())
	}
	if !strings.Contains(out.String(), "1 valid, 1 invalid, 1 published to wallet_topups") {
		t.Errorf("stdout: %s", out.String())
	}
	countRecords(t, brokers, "wallet_topups", 301)
}

// TestRunRefusesBadSchemaDir: a mistake in a document of SLUICE_SCHEMA_DIR stops
// `sluice run` before it connects anywhere, with the file, pointer and fix.
func TestRunRefusesBadSchemaDir(t *testing.T) {
	dir := t.TempDir()
	doc := `{"title": "pings", "type": "object", "properties": {"at": {"type": "string", "format": "date-time"}},
		"x-sluice": {"event_time": "att"}}`
	if err := os.WriteFile(filepath.Join(dir, "pings.schema.json"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLUICE_SCHEMA_DIR", dir)
	t.Setenv("SLUICE_CLICKHOUSE_ADDR", "127.0.0.1:1") // never reached
	t.Setenv("SLUICE_KAFKA_BROKERS", "127.0.0.1:1")
	var out, errOut bytes.Buffer
	err := runCommand(t.Context(), nil, &out, &errOut)
	want := `pings.schema.json: /x-sluice/event_time: "att" is not a property; did you mean "at"?`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("run with a bad schema: %v, want it to contain %q", err, want)
	}
}
