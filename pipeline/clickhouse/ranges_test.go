package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/pipeline"
)

// Concurrent Ranges calls share queries, and each still gets exactly the ranges
// its own query finds: its topic, incarnation (with the rows without topic id only
// where the incarnation owns them) and partition, from its offset on, every group's.
func TestRangesShareQueries(t *testing.T) {
	c := open(t)
	// payments' rows without topic id belong to incarnation A.
	if _, err := c.ClaimTopics(t.Context(), map[string]string{"payments": "A"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []pipeline.Range{
		{Group: "g", Topic: "payments", TopicID: "A", Partition: 0, First: 0, Last: 9},
		{Group: "g", Topic: "payments", TopicID: "A", Partition: 0, First: 10, Last: 19},
		{Group: "h", Topic: "payments", TopicID: "A", Partition: 0, First: 20, Last: 29},
		{Group: "g", Topic: "payments", TopicID: "A", Partition: 1, First: 0, Last: 4},
		{Group: "g", Topic: "payments", TopicID: "", Partition: 1, First: 5, Last: 8},
		{Group: "g", Topic: "payments", TopicID: "B", Partition: 1, First: 0, Last: 7},
		{Group: "g", Topic: "shipments", TopicID: "S", Partition: 0, First: 0, Last: 9},
		{Group: "g", Topic: "shipments", TopicID: "", Partition: 0, First: 10, Last: 12},
	} {
		if err := c.Intend(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	type call struct {
		topic, id string
		partition int32
		from      int64
	}
	// The first goes alone when they run together; the others share a query,
	// partition payments/0 twice in it.
	calls := []call{
		{"shipments", "T", 0, 0}, {"payments", "A", 0, 0}, {"payments", "A", 0, 15}, {"payments", "A", 1, 0},
		{"payments", "B", 1, 0}, {"payments", "A", 2, 0}, {"shipments", "S", 0, 5},
	}
	// Each alone: the turn is free, so each is its own query.
	alone := make([][]pipeline.Range, len(calls))
	for i, k := range calls {
		rs, err := c.Ranges(t.Context(), k.topic, k.id, k.partition, k.from)
		if err != nil {
			t.Fatal(err)
		}
		alone[i] = rs
	}
	// What the rows say each call selects, for the first calls.
	if n := len(alone[1]); n != 3 {
		t.Fatalf("payments/A/0 from 0: %v, want its 3 ranges of both groups", alone[1])
	}
	if n := len(alone[2]); n != 2 {
		t.Fatalf("payments/A/0 from 15: %v, want the 2 ranges ending at or after 15", alone[2])
	}
	if n := len(alone[3]); n != 2 || alone[3][1].TopicID != "" {
		t.Fatalf("payments/A/1: %v, want its own range and the one without topic id it owns", alone[3])
	}
	if n := len(alone[4]); n != 1 {
		t.Fatalf("payments/B/1: %v, want only B's range", alone[4])
	}
	if n := len(alone[6]); n != 1 {
		t.Fatalf("shipments/S/0 from 5: %v, want its own range, not the one without topic id no claim gives it", alone[6])
	}
	if len(alone[0]) != 0 || len(alone[5]) != 0 {
		t.Fatalf("shipments/T/0 and payments/A/2 found %v and %v, want nothing", alone[0], alone[5])
	}

	// Together: the first call's query is held until every other call joined
	// the next group, which then goes out as one query.
	joins, first := make(chan struct{}, len(calls)), make(chan struct{})
	var sent []int
	c.reads.joined = func() { joins <- struct{}{} }
	c.reads.sending = func(_ context.Context, n int) {
		sent = append(sent, n) // sends are one at a time: the turn orders them
		if len(sent) == 1 {
			<-first
		}
	}
	got := make([][]pipeline.Range, len(calls))
	errs := make(chan error, len(calls))
	go func() {
		rs, err := c.Ranges(t.Context(), calls[0].topic, calls[0].id, calls[0].partition, calls[0].from)
		got[0] = rs
		errs <- err
	}()
	<-joins
	for i := 1; i < len(calls); i++ {
		go func() {
			k := calls[i]
			rs, err := c.Ranges(t.Context(), k.topic, k.id, k.partition, k.from)
			got[i] = rs
			errs <- err
		}()
	}
	for range len(calls) - 1 {
		<-joins
	}
	close(first)
	for range calls {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(sent, []int{1, len(calls) - 1}) {
		t.Fatalf("queries of %v calls, want the first alone and then the other %d in one", sent, len(calls)-1)
	}
	for i := range calls {
		if fmt.Sprint(got[i]) != fmt.Sprint(alone[i]) {
			t.Errorf("%+v together found %v, alone %v", calls[i], got[i], alone[i])
		}
	}
}
