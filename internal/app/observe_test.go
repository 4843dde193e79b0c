package app

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestWaitingReason(t *testing.T) {
	var w waiting
	if err := w.reason(time.Now()); err != nil || !w.Since().IsZero() {
		t.Fatalf("zero waiting: %v since %v", err, w.Since())
	}
	w.set("waiting for ClickHouse at ch:9000", nil)
	since := w.Since()
	w.set("waiting for ClickHouse at ch:9000", fmt.Errorf("clickhouse: ping: %w", errors.New("connection refused")))
	if w.Since() != since {
		t.Error("the same wait restarted its clock")
	}
	got := w.reason(since.Add(14 * time.Second)).Error()
	want := "waiting for ClickHouse at ch:9000 since " + since.Format("15:04:05") + " (14s): connection refused"
	if got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
	w.begin("waiting to rejoin")
	if !strings.HasPrefix(w.reason(time.Now()).Error(), "waiting for ClickHouse") {
		t.Error("begin replaced a wait in progress")
	}
	w.clear()
	w.begin("waiting to rejoin")
	if r := w.reason(time.Now()); r == nil || !strings.HasPrefix(r.Error(), "waiting to rejoin since") {
		t.Errorf("begin after clear: %v", r)
	}
}
