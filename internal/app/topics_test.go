package app

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestTopicWatch: a missing topic is logged when first found and then once a
// minute however often it is checked, names the existing topic it was probably
// meant to be, keeps its first Since, and is reported once when it appears.
func TestTopicWatch(t *testing.T) {
	t.Parallel()
	var w topicWatch
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	want := []string{"paymnets", "shipments"}
	have := []string{"__consumer_offsets", "payments", "shipments", "sluice.dlq"}
	logged := 0
	for tick := range 36 { // three minutes of checks every 5 s
		log, appeared := w.update(t0.Add(time.Duration(tick)*topicCheckInterval), want, have)
		logged += len(log)
		if len(appeared) > 0 {
			t.Fatalf("tick %d: %q appeared", tick, appeared)
		}
		if tick == 0 && (len(log) != 1 || log[0].Name != "paymnets" || log[0].Closest != "payments") {
			t.Fatalf("first check logs %+v, want paymnets (closest payments)", log)
		}
	}
	if logged != 3 {
		t.Errorf("logged %d times in three minutes, want 3 (once a minute)", logged)
	}
	m := w.missingNow()
	if len(m) != 1 || !m[0].Since.Equal(t0) {
		t.Fatalf("missing = %+v, want paymnets since %v", m, t0)
	}
	if s := m[0].String(); !strings.Contains(s, `"paymnets" does not exist`) || !strings.Contains(s, `did you mean "payments"`) {
		t.Errorf("String() = %q", s)
	}
	if err := missingTopicsError(m); err == nil || err.Error() != m[0].String() {
		t.Errorf("missingTopicsError = %v", err)
	}

	// Created: reported once, then nothing is missing.
	have = append(have, "paymnets")
	_, appeared := w.update(t0.Add(4*time.Minute), want, have)
	if !slices.Equal(appeared, []string{"paymnets"}) {
		t.Errorf("appeared = %q, want paymnets", appeared)
	}
	if log, appeared := w.update(t0.Add(5*time.Minute), want, have); len(log)+len(appeared) > 0 || len(w.missingNow()) > 0 {
		t.Errorf("after creation: log %v, appeared %v, missing %v", log, appeared, w.missingNow())
	}
	// An unrelated name has no suggestion.
	log, _ := w.update(t0.Add(6*time.Minute), []string{"orders"}, have)
	if len(log) != 1 || log[0].Closest != "" || strings.Contains(log[0].String(), "did you mean") {
		t.Errorf("orders: %+v", log)
	}
}
