package config

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestUnknownVariables(t *testing.T) {
	t.Parallel()
	got := UnknownVariables(map[string]string{
		"SLUICE_KAFKA_BROKER":         "kafka:9092", // one letter short
		"SLUICE_TOPIC_PAYMNETS":       "payments",   // two letters swapped
		"SLUICE_FROBNICATE":           "1",          // nothing near
		"SLUICE_KAFKA_BROKERS":        "kafka:9092", // known
		"SLUICE_TEST_CLICKHOUSE_ADDR": "ch:9000",    // the test stack's
		"PATH":                        "/bin",       // not ours
	})
	want := []UnknownVar{
		{Name: "SLUICE_FROBNICATE"},
		{Name: "SLUICE_KAFKA_BROKER", Closest: "SLUICE_KAFKA_BROKERS"},
		{Name: "SLUICE_TOPIC_PAYMNETS", Closest: "SLUICE_TOPIC_PAYMENTS"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("UnknownVariables = %+v\nwant %+v", got, want)
	}
	if s := want[1].String(); s != "SLUICE_KAFKA_BROKER is not a Sluice variable and is ignored; did you mean SLUICE_KAFKA_BROKERS?" {
		t.Errorf("String() = %q", s)
	}
	if s := want[0].String(); !strings.Contains(s, "sluice config") {
		t.Errorf("String() without a near name does not say where the names are: %q", s)
	}
	if got := UnknownVariables(nil); len(got) != 0 {
		t.Errorf("UnknownVariables(nil) = %v", got)
	}
}

// TestDescribeEmptyDefault: a variable set empty that falls back to its default
// says so, and one whose empty value means something (a topic: off) does not.
func TestDescribeEmptyDefault(t *testing.T) {
	t.Parallel()
	c, err := Load(map[string]string{"SLUICE_KAFKA_BROKERS": "", "SLUICE_TOPIC_SHIPMENTS": "", "SLUICE_WINDOW": "5m"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Describe(&b, c); err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for line := range strings.Lines(b.String()) {
		name, rest, _ := strings.Cut(line, " ")
		rows[name] = strings.TrimSpace(rest)
	}
	if r := rows["SLUICE_KAFKA_BROKERS"]; !strings.HasPrefix(r, "localhost:9092 (empty: default used)") {
		t.Errorf("SLUICE_KAFKA_BROKERS row: %q", r)
	}
	for _, name := range []string{"SLUICE_TOPIC_SHIPMENTS", "SLUICE_WINDOW", "SLUICE_KAFKA_GROUP"} {
		if strings.Contains(rows[name], "empty:") {
			t.Errorf("%s row says the default was used for an empty value: %q", name, rows[name])
		}
	}
}
