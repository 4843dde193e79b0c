package pipeline

import (
	"testing"
	"time"
)

// TestDedupCap checks that the filter forgets the oldest ids beyond its cap, so
// memory is bounded by configuration, and that ids are matched by value, not by the
// memory the batch lends them.
func TestDedupCap(t *testing.T) {
	d := newDedup(time.Hour, 3, true)
	admit := func(id string, ms int64) bool {
		buf := []byte(id) // the batch reuses its memory: Admit must not keep it
		ok := d.Admit(string(buf), ms*int64(time.Millisecond), 100+ms)
		clear(buf)
		return ok
	}
	for i, id := range []string{"a", "b", "c", "d"} {
		if !admit(id, int64(i)) {
			t.Fatalf("%s: first sighting not admitted", id)
		}
	}
	if admit("d", 10) || admit("c", 10) || admit("b", 10) {
		t.Fatal("a remembered id was admitted again")
	}
	if !admit("a", 11) {
		t.Fatal("the oldest id beyond the cap of 3 is still remembered")
	}
	if n := len(d.seen); n > 3 {
		t.Fatalf("%d ids remembered, cap 3", n)
	}
	if got := string(d.pending.ids.Bytes(0)); got != "a" {
		t.Fatalf("pending id %q, want a copy of \"a\"", got)
	}
	// Each admitted id is pending with its record's offset and timestamp (ms).
	if n := d.pending.len(); n != 5 || d.pending.offset[4] != 111 || d.pending.ts[4] != 11 {
		t.Fatalf("pending: %d ids, last at offset %d ts %d; want 5, 111, 11", n, d.pending.offset[4], d.pending.ts[4])
	}
}

// TestDedupHorizon checks that an id is a duplicate only within the horizon.
func TestDedupHorizon(t *testing.T) {
	h := time.Hour
	d := newDedup(h, 0, true)
	if !d.Admit("x", 0, 0) {
		t.Fatal("first sighting not admitted")
	}
	if d.Admit("x", int64(h), 1) {
		t.Fatal("a repeat at the horizon was admitted")
	}
	if !d.Admit("x", int64(h)+1, 2) {
		t.Fatal("a repeat past the horizon was dropped")
	}
}
