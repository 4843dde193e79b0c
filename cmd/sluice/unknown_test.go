package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

// TestUnknownVariablesWarned: run, migrate and config each tell about a mistyped
// SLUICE_* variable once, naming the variable probably meant, and `sluice config`
// shows that an empty value took its default. The context is cancelled, so run and
// migrate stop before connecting. It sets process environment variables, so it does
// not run in parallel.
func TestUnknownVariablesWarned(t *testing.T) {
	t.Setenv("SLUICE_KAFKA_BROKER", "kafka:9092")
	t.Setenv("SLUICE_KAFKA_BROKERS", "")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	const want = "SLUICE_KAFKA_BROKER is not a Sluice variable and is ignored; did you mean SLUICE_KAFKA_BROKERS?"
	for _, c := range []struct {
		name string
		run  func(context.Context, []string, io.Writer, io.Writer) error
	}{
		{"run", runCommand},
		{"migrate", migrateCommand},
		{"config", configCommand},
	} {
		var stdout, stderr bytes.Buffer
		err := c.run(ctx, nil, &stdout, &stderr)
		if n := strings.Count(stderr.String(), want); n != 1 {
			t.Errorf("sluice %s (err %v): the warning appears %d times on stderr, want once:\n%s", c.name, err, n, stderr.String())
		}
		if c.name == "config" {
			if err != nil {
				t.Errorf("sluice config failed for an unknown variable: %v", err)
			}
			if !strings.Contains(stdout.String(), "localhost:9092 (empty: default used)") {
				t.Errorf("sluice config does not say that the empty SLUICE_KAFKA_BROKERS took its default:\n%s", stdout.String())
			}
		}
	}
}
