package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// These tests set process environment variables, so they do not run in parallel.

func TestConfigCommandValid(t *testing.T) {
	t.Setenv("SLUICE_WINDOW", "5m")
	t.Setenv("SLUICE_CLICKHOUSE_PASSWORD", "hunter2-s3cret")
	var stdout, stderr bytes.Buffer
	if err := configCommand(t.Context(), nil, &stdout, &stderr); err != nil {
		t.Fatalf("configCommand: %v\nstderr:\n%s", err, stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "SLUICE_WINDOW") || !strings.Contains(out, "5m") {
		t.Errorf("output lacks SLUICE_WINDOW=5m:\n%s", out)
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("output leaks the password:\n%s", out)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr not empty:\n%s", stderr.String())
	}
}

func TestConfigCommandProblems(t *testing.T) {
	t.Setenv("SLUICE_WINDOW", "abc")
	t.Setenv("SLUICE_BATCH_MAX_ROWS", "0")
	var stdout, stderr bytes.Buffer
	if err := configCommand(t.Context(), nil, &stdout, &stderr); err == nil {
		t.Fatal("configCommand accepted a bad environment")
	}
	if !strings.Contains(stdout.String(), "SLUICE_SHUTDOWN_TIMEOUT") {
		t.Errorf("table not printed despite problems:\n%s", stdout.String())
	}
	for _, want := range []string{
		"2 problem(s)",
		`SLUICE_WINDOW="abc": not a duration; use e.g. 1m or 30s`,
		"SLUICE_BATCH_MAX_ROWS=0: must be ≥ 1",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

func TestConfigCommandArgs(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := configCommand(t.Context(), []string{"extra"}, &stdout, &stderr)
	var ue *usageError
	if !errors.As(err, &ue) {
		t.Fatalf("configCommand(extra) = %v, want a usage error", err)
	}
	if stdout.Len() != 0 {
		t.Errorf("the table was printed despite the argument:\n%s", stdout.String())
	}
}
