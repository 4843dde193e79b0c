package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadRunConfig checks that --env-file's assignments override the environment,
// that comments and blank lines are skipped, and that a line that is not a SLUICE_
// assignment, or a bad value, is an error naming the file and the variable. It sets
// process environment variables, so it does not run in parallel.
func TestLoadRunConfig(t *testing.T) {
	t.Setenv("SLUICE_KAFKA_GROUP", "from-env")
	t.Setenv("SLUICE_DLQ_TOPIC", "env.dlq")
	file := filepath.Join(t.TempDir(), "sluice.env")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("# comment\n\nSLUICE_KAFKA_GROUP=from-file\n")
	c, err := loadRunConfig(file)
	if err != nil || c.Kafka.Group != "from-file" || c.Kafka.DLQTopic != "env.dlq" {
		t.Fatalf("group %q, dlq %q, err %v; want from-file over the environment, env.dlq from it", c.Kafka.Group, c.Kafka.DLQTopic, err)
	}
	for content, want := range map[string]string{
		"KAFKA_GROUP=x\n":           "sluice.env:1: want SLUICE_NAME=value",
		"SLUICE_BATCH_MAX_ROWS=0\n": "SLUICE_BATCH_MAX_ROWS=0",
	} {
		write(content)
		if _, err := loadRunConfig(file); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want one containing %q", content, err, want)
		}
	}
	if _, err := loadRunConfig(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "--env-file") {
		t.Errorf("missing file: %v", err)
	}
}
