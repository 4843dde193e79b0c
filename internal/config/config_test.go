package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/schemas"
)

func TestDefaults(t *testing.T) {
	t.Parallel()
	got, err := Load(nil)
	if err != nil {
		t.Fatalf("Load(nil): %v", err)
	}
	want := Config{
		Kafka: Kafka{
			Brokers:                []string{"localhost:9092"},
			Group:                  "sluice",
			Start:                  StartEarliest,
			PaymentsTopic:          "payments",
			ShipmentsTopic:         "shipments",
			DLQTopic:               "sluice.dlq",
			DLQPartitions:          1,
			DLQReplicationFactor:   -1,
			SessionTimeout:         45 * time.Second,
			RebalanceTimeout:       time.Minute,
			HeartbeatInterval:      time.Second,
			QueueDepth:             4,
			CommitInterval:         time.Second,
			FetchMaxPartitionBytes: 256 * KiB,
			FetchMaxWait:           250 * time.Millisecond,
			SASLMechanism:          SASLNone,
		},
		ClickHouse: ClickHouse{
			Addrs:       []string{"localhost:9000"},
			Database:    "sluice",
			User:        "default",
			DedupWindow: 10000,
			Migrate:     true,
		},
		Pipeline: Pipeline{
			Window:             time.Minute,
			FlushInterval:      time.Second,
			BatchMaxRows:       100000,
			BatchMaxBytes:      64 * MiB,
			RawPayments:        true,
			RawShipments:       true,
			DedupHorizon:       24 * time.Hour,
			ExactlyOnce:        true,
			Rollups:            true,
			DedupMaxIDs:        1_000_000,
			Workers:            runtime.GOMAXPROCS(0),
			MaxRecordBytes:     65536,
			MaxStringBytes:     1024,
			MaxMetadataEntries: 64,
			MaxLateness:        168 * time.Hour,
			MaxClockSkew:       15 * time.Minute,
		},
		HTTP:            HTTP{Addr: "127.0.0.1:8080"},
		Log:             Log{Format: FormatText, Level: slog.LevelInfo},
		ShutdownTimeout: 30 * time.Second,
	}
	want.Tracing = Tracing{Protocol: "http/protobuf", ServiceName: "sluice", Sampler: "parentbased_always_on", Exporter: "otlp"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(nil) =\n%s\nwant\n%s", got, want)
	}
	if got.Validate() != nil {
		t.Errorf("defaults do not validate: %v", got.Validate())
	}
}

func TestLoadValues(t *testing.T) {
	t.Parallel()
	got, err := Load(map[string]string{
		"SLUICE_KAFKA_BROKERS":           " k1:9092, k2:9093 ,",
		"SLUICE_KAFKA_START":             "latest",
		"SLUICE_TOPIC_PAYMENTS":          "",
		"SLUICE_TOPIC_SHIPMENTS":         "ship.v2",
		"SLUICE_CLICKHOUSE_ADDR":         "ch1:9000,ch2:9000",
		"SLUICE_CLICKHOUSE_PASSWORD":     "pw",
		"SLUICE_CLICKHOUSE_DEDUP_WINDOW": "500",
		"SLUICE_MIGRATE":                 "false",
		"SLUICE_WINDOW":                  "5m",
		"SLUICE_BATCH_MAX_BYTES":         "1048576",
		"SLUICE_MEMORY_LIMIT":            "1GiB",
		"SLUICE_RAW_PAYMENTS":            "false",
		"SLUICE_DEDUP_HORIZON":           "0",
		"SLUICE_WORKERS":                 "3",
		"SLUICE_LOG_FORMAT":              "json",
		"SLUICE_LOG_LEVEL":               "debug",
		"SLUICE_KAFKA_GROUP":             "", // empty takes the default
		"UNRELATED":                      "ignored",
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"brokers", got.Kafka.Brokers, []string{"k1:9092", "k2:9093"}},
		{"start", got.Kafka.Start, StartLatest},
		{"payments off", got.Kafka.PaymentsTopic, ""},
		{"shipments", got.Kafka.ShipmentsTopic, "ship.v2"},
		{"topics", got.Kafka.Topics(), []string{"ship.v2"}},
		{"group default", got.Kafka.Group, "sluice"},
		{"ch addr", got.ClickHouse.Addrs, []string{"ch1:9000", "ch2:9000"}},
		{"password", got.ClickHouse.Password.Reveal(), "pw"},
		{"dedup window", got.ClickHouse.DedupWindow, 500},
		{"migrate", got.ClickHouse.Migrate, false},
		{"window", got.Pipeline.Window, 5 * time.Minute},
		{"batch bytes", got.Pipeline.BatchMaxBytes, MiB},
		{"memory limit", got.MemoryLimit, MemoryLimit(GiB)},
		{"raw payments", got.Pipeline.RawPayments, false},
		{"raw shipments", got.Pipeline.RawShipments, true},
		{"dedup horizon", got.Pipeline.DedupHorizon, time.Duration(0)},
		{"workers", got.Pipeline.Workers, 3},
		{"log format", got.Log.Format, FormatJSON},
		{"log level", got.Log.Level, slog.LevelDebug},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

// TestBadValues checks that every bad value is reported with the variable it came
// from and what to write instead.
func TestBadValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  map[string]string
		want []string // each must be a whole line of the error
	}{
		// Parse errors.
		{map[string]string{"SLUICE_WINDOW": "abc"}, []string{`SLUICE_WINDOW="abc": not a duration; use e.g. 1m or 30s`}},
		{map[string]string{"SLUICE_FLUSH_INTERVAL": "5"}, []string{`SLUICE_FLUSH_INTERVAL="5": not a duration; use e.g. 1m or 30s`}},
		{map[string]string{"SLUICE_BATCH_MAX_ROWS": "lots"}, []string{`SLUICE_BATCH_MAX_ROWS="lots": not an integer; use e.g. 100000`}},
		{map[string]string{"SLUICE_WORKERS": "99999999999999999999"}, []string{`SLUICE_WORKERS="99999999999999999999": integer out of range; use e.g. 0`}},
		{map[string]string{"SLUICE_MIGRATE": "maybe"}, []string{`SLUICE_MIGRATE="maybe": not a boolean; use true or false`}},
		{map[string]string{"SLUICE_LOG_LEVEL": "loud"}, []string{`SLUICE_LOG_LEVEL="loud": not a log level; use debug, info, warn or error`}},
		{map[string]string{"SLUICE_BATCH_MAX_BYTES": "64XB"}, []string{`SLUICE_BATCH_MAX_BYTES="64XB": not a size; use bytes (e.g. 67108864) or a unit (e.g. 64MiB, 512KiB, 1GiB)`}},
		{map[string]string{"SLUICE_BATCH_MAX_BYTES": "99999999999GiB"}, []string{`SLUICE_BATCH_MAX_BYTES="99999999999GiB": size out of range`}},
		// Validation: bounds.
		{map[string]string{"SLUICE_BATCH_MAX_ROWS": "0"}, []string{`SLUICE_BATCH_MAX_ROWS=0: must be ≥ 1`}},
		{map[string]string{"SLUICE_WINDOW": "7s"}, []string{`SLUICE_WINDOW=7s: must be whole seconds dividing 24h evenly (e.g. 30s, 1m, 5m, 1h)`}},
		{map[string]string{"SLUICE_WINDOW": "1500ms"}, []string{`SLUICE_WINDOW=1.5s: must be whole seconds dividing 24h evenly (e.g. 30s, 1m, 5m, 1h)`}},
		{map[string]string{"SLUICE_WINDOW": "48h"}, []string{`SLUICE_WINDOW=48h: must be whole seconds dividing 24h evenly (e.g. 30s, 1m, 5m, 1h)`}},
		{map[string]string{"SLUICE_WINDOW": "500ms"}, []string{`SLUICE_WINDOW=500ms: must be ≥ 1s (e.g. 1m)`}},
		{map[string]string{"SLUICE_FLUSH_INTERVAL": "0s"}, []string{`SLUICE_FLUSH_INTERVAL=0s: must be > 0 (e.g. 1s)`}},
		{map[string]string{"SLUICE_SHUTDOWN_TIMEOUT": "-1s"}, []string{`SLUICE_SHUTDOWN_TIMEOUT=-1s: must be > 0 (e.g. 1s)`}},
		{map[string]string{"SLUICE_DEDUP_HORIZON": "-1h"}, []string{`SLUICE_DEDUP_HORIZON=-1h: must be ≥ 0 (0 switches duplicate filtering off; e.g. 24h)`}},
		{map[string]string{"SLUICE_CLICKHOUSE_DEDUP_WINDOW": "0"}, []string{`SLUICE_CLICKHOUSE_DEDUP_WINDOW=0: must be ≥ 1: ClickHouse takes 0 as no insert deduplication, and replays would be stored twice (the default is 10000)`}},
		{map[string]string{"SLUICE_CLICKHOUSE_DEDUP_WINDOW": "-1"}, []string{`SLUICE_CLICKHOUSE_DEDUP_WINDOW=-1: must be ≥ 1: ClickHouse takes 0 as no insert deduplication, and replays would be stored twice (the default is 10000)`}},
		{map[string]string{"SLUICE_WORKERS": "-2"}, []string{`SLUICE_WORKERS=-2: must be ≥ 0 (0 = GOMAXPROCS)`}},
		{map[string]string{"SLUICE_MAX_RECORD_BYTES": "0"}, []string{`SLUICE_MAX_RECORD_BYTES=0: must be ≥ 1`}},
		{map[string]string{"SLUICE_MAX_STRING_BYTES": "0"}, []string{`SLUICE_MAX_STRING_BYTES=0: must be ≥ 1`}},
		{map[string]string{"SLUICE_MAX_METADATA_ENTRIES": "0"}, []string{`SLUICE_MAX_METADATA_ENTRIES=0: must be ≥ 1`}},
		{map[string]string{"SLUICE_BATCH_MAX_BYTES": "0"}, []string{`SLUICE_BATCH_MAX_BYTES=0: must be ≥ 1 (e.g. 64MiB)`}},
		{map[string]string{"SLUICE_MEMORY_LIMIT": "0"}, []string{`SLUICE_MEMORY_LIMIT="0": the memory budget cannot be switched off; use auto (75% of the container's memory limit, else 256MiB) or a size ≥ 64MiB (e.g. 1GiB)`}},
		{map[string]string{"SLUICE_MEMORY_LIMIT": "lots"}, []string{`SLUICE_MEMORY_LIMIT="lots": not a size; use auto (75% of the container's memory limit, else 256MiB) or a size ≥ 64MiB (e.g. 1GiB)`}},
		{map[string]string{"SLUICE_MEMORY_LIMIT": "32MiB"}, []string{`SLUICE_MEMORY_LIMIT=32MiB: must be ≥ 64MiB or auto (75% of the container's memory limit, else 256MiB)`}},
		// Validation: cross-field.
		{map[string]string{"SLUICE_BATCH_MAX_BYTES": "1KiB"}, []string{`SLUICE_BATCH_MAX_BYTES=1KiB: must be ≥ SLUICE_MAX_RECORD_BYTES=65536 so that one record fits in a batch`}},
		{map[string]string{"SLUICE_MAX_STRING_BYTES": "70000"}, []string{`SLUICE_MAX_STRING_BYTES=70000: must be ≤ SLUICE_MAX_RECORD_BYTES=65536`}},
		{map[string]string{"SLUICE_TOPIC_PAYMENTS": "", "SLUICE_TOPIC_SHIPMENTS": ""}, []string{`SLUICE_TOPIC_PAYMENTS="" and SLUICE_TOPIC_SHIPMENTS="": both pipelines are off; set at least one topic (e.g. SLUICE_TOPIC_PAYMENTS=payments)`}},
		{map[string]string{"SLUICE_TOPIC_SHIPMENTS": "payments"}, []string{`SLUICE_TOPIC_SHIPMENTS=payments: must differ from SLUICE_TOPIC_PAYMENTS`}},
		{map[string]string{"SLUICE_DLQ_TOPIC": "shipments"}, []string{`SLUICE_DLQ_TOPIC=shipments: must differ from SLUICE_TOPIC_SHIPMENTS, or dead letters are consumed again (e.g. sluice.dlq)`}},
		{map[string]string{"SLUICE_DLQ_PARTITIONS": "0"}, []string{`SLUICE_DLQ_PARTITIONS=0: must be ≥ 1`}},
		{map[string]string{"SLUICE_DLQ_REPLICATION_FACTOR": "0"}, []string{`SLUICE_DLQ_REPLICATION_FACTOR=0: must be ≥ 1, or -1 for the broker's default.replication.factor`}},
		// Validation: formats and enums.
		{map[string]string{"SLUICE_TOPIC_PAYMENTS": "pay ments"}, []string{`SLUICE_TOPIC_PAYMENTS="pay ments": ' ' is not allowed in a Kafka topic name; use letters, digits, '.', '_' or '-'`}},
		{map[string]string{"SLUICE_TOPIC_SHIPMENTS": ".."}, []string{`SLUICE_TOPIC_SHIPMENTS=..: must not be "." or ".."`}},
		{map[string]string{"SLUICE_DLQ_TOPIC": strings.Repeat("d", 250)}, []string{`SLUICE_DLQ_TOPIC=` + strings.Repeat("d", 250) + `: must be at most 249 characters`}},
		{map[string]string{"SLUICE_KAFKA_BROKERS": "localhost"}, []string{`SLUICE_KAFKA_BROKERS=localhost: "localhost" is not host:port (e.g. localhost:9092)`}},
		{map[string]string{"SLUICE_KAFKA_BROKERS": "a:1,:9092"}, []string{`SLUICE_KAFKA_BROKERS=a:1,:9092: ":9092" has no host (e.g. localhost:9092)`}},
		{map[string]string{"SLUICE_KAFKA_BROKERS": ","}, []string{`SLUICE_KAFKA_BROKERS="": list at least one host:port, comma-separated (e.g. localhost:9092)`}},
		{map[string]string{"SLUICE_CLICKHOUSE_ADDR": "ch:http"}, []string{`SLUICE_CLICKHOUSE_ADDR=ch:http: "ch:http" has no valid port (1-65535) (e.g. localhost:9000)`}},
		{map[string]string{"SLUICE_KAFKA_START": "oldest"}, []string{`SLUICE_KAFKA_START=oldest: must be earliest or latest`}},
		{map[string]string{"SLUICE_CLICKHOUSE_DATABASE": "my-db"}, []string{`SLUICE_CLICKHOUSE_DATABASE=my-db: must be an identifier: a letter or _, then letters, digits or _ (e.g. sluice)`}},
		{map[string]string{"SLUICE_CLICKHOUSE_DATABASE": "1db"}, []string{`SLUICE_CLICKHOUSE_DATABASE=1db: must be an identifier: a letter or _, then letters, digits or _ (e.g. sluice)`}},
		{map[string]string{"SLUICE_HTTP_ADDR": "8080"}, []string{`SLUICE_HTTP_ADDR=8080: is not host:port (e.g. 127.0.0.1:8080 or :8080)`}},
		{map[string]string{"SLUICE_LOG_FORMAT": "xml"}, []string{`SLUICE_LOG_FORMAT=xml: must be text or json`}},
		// Several problems at once, parse and validation mixed, all reported.
		{map[string]string{"SLUICE_WINDOW": "abc", "SLUICE_BATCH_MAX_ROWS": "0", "SLUICE_LOG_FORMAT": "xml"}, []string{
			`SLUICE_WINDOW="abc": not a duration; use e.g. 1m or 30s`,
			`SLUICE_BATCH_MAX_ROWS=0: must be ≥ 1`,
			`SLUICE_LOG_FORMAT=xml: must be text or json`,
		}},
	}
	known := Variables()
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.env), func(t *testing.T) {
			t.Parallel()
			_, err := Load(tt.env)
			if err == nil {
				t.Fatalf("Load(%v) = nil error, want %q", tt.env, tt.want)
			}
			lines := strings.Split(err.Error(), "\n")
			for _, w := range tt.want {
				if !slices.Contains(lines, w) {
					t.Errorf("error\n%s\nlacks line\n%s", err, w)
				}
			}
			if len(lines) != len(tt.want) {
				t.Errorf("error has %d lines, want %d:\n%s", len(lines), len(tt.want), err)
			}
			for _, l := range lines {
				name, _, _ := strings.Cut(l, "=")
				if !slices.Contains(known, name) {
					t.Errorf("line %q does not start with a known variable", l)
				}
			}
		})
	}
}

func TestParseErrorKeepsDefault(t *testing.T) {
	t.Parallel()
	c, err := Load(map[string]string{"SLUICE_WINDOW": "abc", "SLUICE_BATCH_MAX_ROWS": "7"})
	if err == nil {
		t.Fatal("Load accepted SLUICE_WINDOW=abc")
	}
	if c.Pipeline.Window != time.Minute || c.Pipeline.BatchMaxRows != 7 {
		t.Errorf("after a parse error got window %v rows %d, want the default 1m and the set 7", c.Pipeline.Window, c.Pipeline.BatchMaxRows)
	}
}

func TestSecretsRedacted(t *testing.T) {
	t.Parallel()
	const pw = "hunter2-s3cret"
	// Bad values elsewhere make sure error messages are produced too.
	c, err := Load(map[string]string{
		"SLUICE_CLICKHOUSE_PASSWORD": pw,
		"SLUICE_CLICKHOUSE_USER":     "",
		"SLUICE_WINDOW":              "abc",
		"SLUICE_LOG_FORMAT":          "xml",
	})
	if err == nil {
		t.Fatal("want an error")
	}
	if c.ClickHouse.Password.Reveal() != pw {
		t.Fatalf("password not loaded: %q", c.ClickHouse.Password.Reveal())
	}

	var describe, textLog, jsonLog bytes.Buffer
	if err := Describe(&describe, c); err != nil {
		t.Fatal(err)
	}
	slog.New(slog.NewTextHandler(&textLog, nil)).Info("start", "config", c, "ch", c.ClickHouse, "pw", c.ClickHouse.Password)
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("start", "config", c, "ch", c.ClickHouse)
	js, jerr := json.Marshal(c)
	if jerr != nil {
		t.Fatal(jerr)
	}
	outputs := map[string]string{
		"error":          err.Error(),
		"Validate":       fmt.Sprint(c.Validate()),
		"Describe":       describe.String(),
		"String":         c.String(),
		"%v":             fmt.Sprintf("%v", c),
		"%+v":            fmt.Sprintf("%+v", c),
		"%#v":            fmt.Sprintf("%#v", c),
		"%+v ClickHouse": fmt.Sprintf("%+v", c.ClickHouse),
		"%#v ClickHouse": fmt.Sprintf("%#v", c.ClickHouse),
		"text log":       textLog.String(),
		"json log":       jsonLog.String(),
		"json":           string(js),
	}
	for name, out := range outputs {
		if strings.Contains(out, pw) {
			t.Errorf("%s leaks the password:\n%s", name, out)
		}
	}
	for _, name := range []string{"Describe", "String", "text log", "json log", "%+v ClickHouse"} {
		if !strings.Contains(outputs[name], redacted) {
			t.Errorf("%s does not show that the password is set:\n%s", name, outputs[name])
		}
	}
	for l := range strings.Lines(describe.String()) {
		if f := strings.Fields(l); f[0] == "SLUICE_CLICKHOUSE_PASSWORD" && f[1] != redacted {
			t.Errorf("Describe shows the set password as %q, want ***", f[1])
		}
	}
}

func TestDescribeListsEveryVariable(t *testing.T) {
	t.Parallel()
	c, err := Load(map[string]string{"SLUICE_WINDOW": "5m"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Describe(&b, c); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	vars := append(Variables(), TracingVariables()...)
	if len(lines) != len(vars)+1 {
		t.Fatalf("Describe printed %d lines for %d variables:\n%s", len(lines), len(vars), b.String())
	}
	if got := strings.Fields(lines[0]); !slices.Equal(got, []string{"VARIABLE", "VALUE", "DEFAULT", "MEANING"}) {
		t.Errorf("header = %q", got)
	}
	for i, v := range vars {
		if !strings.HasPrefix(lines[i+1], v+" ") {
			t.Errorf("line %d = %q, want variable %s", i+1, lines[i+1], v)
		}
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "SLUICE_WINDOW ") {
			if f := strings.Fields(l); f[1] != "5m" || f[2] != "1m" {
				t.Errorf("SLUICE_WINDOW row = %q, want value 5m and default 1m", l)
			}
		}
	}
	for _, must := range []string{"SLUICE_KAFKA_BROKERS", "SLUICE_TOPIC_PAYMENTS", "SLUICE_CLICKHOUSE_DEDUP_WINDOW", "SLUICE_BATCH_MAX_BYTES", "SLUICE_LOG_LEVEL", "SLUICE_SHUTDOWN_TIMEOUT"} {
		if !slices.Contains(vars, must) {
			t.Errorf("Variables() lacks %s", must)
		}
	}
}

func TestLogValue(t *testing.T) {
	t.Parallel()
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range c.LogValue().Group() {
		got[a.Key] = a.Value.String()
	}
	for k, want := range map[string]string{"kafka_brokers": "localhost:9092", "window": "1m", "batch_max_bytes": "64MiB", "log_level": "info", "clickhouse_password": ""} {
		if got[k] != want {
			t.Errorf("LogValue %s = %q, want %q", k, got[k], want)
		}
	}
}

// TestTags checks the invariants the reflection relies on: every leaf has a
// variable and a meaning, Go field names are unique (parse errors are mapped back to
// variables by field name), variables are unique, and secrets have type Secret.
func TestTags(t *testing.T) {
	t.Parallel()
	var c Config
	names, keys := map[string]bool{}, map[string]bool{}
	for _, f := range fields(&c) {
		if f.desc == "" {
			t.Errorf("%s has no desc tag", f.key)
		}
		if names[f.goName] {
			t.Errorf("Go field name %s used twice; parse errors could name the wrong variable", f.goName)
		}
		if keys[f.key] {
			t.Errorf("variable %s declared twice", f.key)
		}
		names[f.goName], keys[f.key] = true, true
		if f.secret != (f.v.Type() == secretType) {
			t.Errorf("%s: secret tag and Secret type disagree", f.key)
		}
	}
}

func TestByteSize(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want ByteSize
		str  string
	}{
		{"67108864", 64 * MiB, "64MiB"},
		{"64MiB", 64 * MiB, "64MiB"},
		{"64mib", 64 * MiB, "64MiB"},
		{"512 KiB", 512 * KiB, "512KiB"},
		{"1GiB", GiB, "1GiB"},
		{"1536KiB", 1536 * KiB, "1536KiB"},
		{"10MB", 10_000_000, "10000000"},
		{"2kB", 2000, "2000"},
		{"100B", 100, "100"},
		{"0", 0, "0"},
	} {
		var b ByteSize
		if err := b.UnmarshalText([]byte(tt.in)); err != nil {
			t.Errorf("UnmarshalText(%q): %v", tt.in, err)
			continue
		}
		if b != tt.want || b.String() != tt.str {
			t.Errorf("UnmarshalText(%q) = %d (%s), want %d (%s)", tt.in, b, b, tt.want, tt.str)
		}
		var back ByteSize
		if err := back.UnmarshalText([]byte(b.String())); err != nil || back != b {
			t.Errorf("%s does not round-trip: %d, %v", b, back, err)
		}
	}
	for _, bad := range []string{"", "MiB", "1.5MiB", "64XB", "-", "9223372036854775807KiB"} {
		var b ByteSize
		if err := b.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) = %d, want an error", bad, b)
		}
	}
}

// TestLoadIgnoresProcessEnv sets the process environment, so it is not parallel.
func TestLoadIgnoresProcessEnv(t *testing.T) {
	t.Setenv("SLUICE_WINDOW", "abc")
	t.Setenv("SLUICE_BATCH_MAX_ROWS", "7")
	if _, err := Load(nil); err != nil {
		t.Errorf("Load(nil) read the process environment: %v", err)
	}
	if _, err := Load(map[string]string{}); err != nil {
		t.Errorf("Load(empty) read the process environment: %v", err)
	}
	c, err := FromEnv()
	if err == nil || !strings.Contains(err.Error(), `SLUICE_WINDOW="abc"`) {
		t.Errorf("FromEnv error = %v, want one naming SLUICE_WINDOW", err)
	}
	if c.Pipeline.BatchMaxRows != 7 {
		t.Errorf("FromEnv BatchMaxRows = %d, want 7", c.Pipeline.BatchMaxRows)
	}
}

func TestHTTPAddrEmptySwitchesOff(t *testing.T) {
	c, err := Load(map[string]string{"SLUICE_HTTP_ADDR": "", "SLUICE_PPROF": "true"})
	if err != nil {
		t.Fatalf("empty SLUICE_HTTP_ADDR: %v", err)
	}
	if c.HTTP.Addr != "" || !c.HTTP.Pprof {
		t.Errorf("HTTP = %+v, want Addr empty (off) and Pprof on", c.HTTP)
	}
	c, err = Load(map[string]string{"SLUICE_HTTP_ADDR": "127.0.0.1:0"})
	if err != nil || c.HTTP.Addr != "127.0.0.1:0" {
		t.Errorf("SLUICE_HTTP_ADDR=127.0.0.1:0 (any free port): %+v, %v", c.HTTP, err)
	}
}

// TestProblemsAreTyped checks that every problem of a bad environment comes back
// as a *VarError naming its variable.
func TestProblemsAreTyped(t *testing.T) {
	t.Parallel()
	_, err := Load(map[string]string{"SLUICE_WINDOW": "abc", "SLUICE_BATCH_MAX_ROWS": "0", "SLUICE_KAFKA_TLS_CA_FILE": "/ca.pem"})
	var names []string
	for _, p := range Problems(err) {
		var ve *VarError
		if !errors.As(p, &ve) {
			t.Fatalf("problem %q is not a *VarError", p)
		}
		names = append(names, ve.Var)
	}
	want := []string{"SLUICE_WINDOW", "SLUICE_BATCH_MAX_ROWS", "SLUICE_KAFKA_TLS_CA_FILE"}
	if !slices.Equal(names, want) {
		t.Errorf("problems concern %v, want %v", names, want)
	}
	if Problems(nil) != nil {
		t.Error("Problems(nil) is not empty")
	}
	if !IsKafkaSecurity("SLUICE_KAFKA_TLS_CA_FILE") || !IsKafkaSecurity("SLUICE_KAFKA_SASL_PASSWORD") || IsKafkaSecurity("SLUICE_KAFKA_BROKERS") {
		t.Error("IsKafkaSecurity misjudges the Kafka variables")
	}
	for _, v := range kafkaSecurityVars {
		if !slices.Contains(Variables(), v) {
			t.Errorf("IsKafkaSecurity accepts %s, which Config does not read", v)
		}
	}
}

// TestDevFromEnv checks that the development settings are read even when other
// variables are bad. It sets process environment variables, so it does not run in
// parallel.
func TestDevFromEnv(t *testing.T) {
	t.Setenv("SLUICE_CACHE_DIR", "/var/cache/sluice-dev")
	t.Setenv("SLUICE_WINDOW", "abc")
	if got := DevFromEnv().CacheDir; got != "/var/cache/sluice-dev" {
		t.Errorf("DevFromEnv().CacheDir = %q, want SLUICE_CACHE_DIR", got)
	}
}

// TestDedupWindowDefault ties SLUICE_CLICKHOUSE_DEDUP_WINDOW's default to the one
// the ClickHouse adapter applies to zero options, so the number has one value.
func TestDedupWindowDefault(t *testing.T) {
	t.Parallel()
	if got, want := defaultOf(varCHDedupWindow), strconv.Itoa(schemas.DefaultDedupWindow); got != want {
		t.Errorf("%s defaults to %s, schemas.DefaultDedupWindow is %s", varCHDedupWindow, got, want)
	}
}

// TestEnviron checks that Environ holds the process's SLUICE_* variables and no
// others. It sets process environment variables, so it does not run in parallel.
func TestEnviron(t *testing.T) {
	t.Setenv("SLUICE_WINDOW", "5m")
	t.Setenv("NOT_SLUICE_WINDOW", "x")
	e := Environ()
	if e["SLUICE_WINDOW"] != "5m" {
		t.Errorf("Environ lacks SLUICE_WINDOW=5m: %v", e)
	}
	for k := range e {
		if !strings.HasPrefix(k, Prefix) {
			t.Errorf("Environ holds %s", k)
		}
	}
}
