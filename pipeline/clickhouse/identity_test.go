package clickhouse

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/dev/testenv"
	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/schemas"
)

// preTopicIDDDL is DDL as it was before tables kept topic ids: without the column
// and without the ALTERs that add it.
func preTopicIDDDL(c *Client) []string {
	var out []string
	for _, s := range internalDDL(c) {
		if strings.HasPrefix(s, "ALTER") {
			continue
		}
		out = append(out, strings.Replace(s, "\t"+topicIDColumn+",\n", "", 1))
	}
	return out
}

// Tables created before topic ids keep working after the migration: their rows
// belong to the incarnation claimed at the first start, never to a later one.
func TestRowsWithoutTopicID(t *testing.T) {
	env := testenv.ClickHouse(t)
	connect := func() *Client { return openOn(t, env) }
	c := connect()
	exec(t, c, preTopicIDDDL(c)...)
	// What an older Sluice wrote: ranges and event ids without a topic id.
	exec(t, c, "INSERT INTO "+qualified(c.db, LedgerTable)+" (`group`, `topic`, `partition`, `first`, `last`) VALUES ('g', 'payments', 0, 0, 9), ('g', 'payments', 0, 10, 19)")
	exec(t, c, "INSERT INTO "+qualified(c.db, EventIDsTable)+" (`group`, `topic`, `partition`, `offset`, `event_id`, `ts`) VALUES ('g', 'payments', 0, 3, 'old', now64(3))")
	if err := c.Migrate(t.Context(), internalDDL(c)); err != nil {
		t.Fatalf("migrate tables without topic_id: %v", err)
	}
	if err := c.Migrate(t.Context(), internalDDL(c)); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	recreated, err := c.ClaimTopics(t.Context(), map[string]string{"payments": "A", "shipments": ""})
	if err != nil || recreated != nil {
		t.Fatalf("first claim: %v, %v", recreated, err)
	}
	if err := c.Intend(t.Context(), pipeline.Range{Group: "g", Topic: "payments", TopicID: "A", Partition: 0, First: 20, Last: 29}); err != nil {
		t.Fatal(err)
	}
	legacy := func(first, last int64) pipeline.Range {
		return pipeline.Range{Group: "g", Topic: "payments", Partition: 0, First: first, Last: last}
	}
	ownA := []pipeline.Range{legacy(0, 9), legacy(10, 19), {Group: "g", Topic: "payments", TopicID: "A", Partition: 0, First: 20, Last: 29}}
	check := func(id string, want []pipeline.Range, wantIDs []string) {
		t.Helper()
		got, err := c.Ranges(t.Context(), "payments", id, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Ranges of incarnation %q = %v, want %v", id, got, want)
		}
		var ids []string
		if err := c.SeenIDs(t.Context(), pipeline.IDQuery{Group: "g", Topic: "payments", TopicID: id, Before: 100}, func(id string, _ int64) { ids = append(ids, id) }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids, wantIDs) {
			t.Errorf("SeenIDs of incarnation %q = %v, want %v", id, ids, wantIDs)
		}
	}
	check("A", ownA, []string{"old"})
	// The topic deleted and created again (incarnation B), and a restart.
	c2 := connect()
	recreated, err = c2.ClaimTopics(t.Context(), map[string]string{"payments": "B"})
	if err != nil || fmt.Sprint(recreated) != "map[payments:A]" {
		t.Fatalf("claim after re-creation = %v, %v; want payments claimed by A", recreated, err)
	}
	c = c2
	check("B", nil, nil)
	check("A", ownA, []string{"old"})
	// The claim rows are no partition's ranges.
	if got, err := c.Ranges(t.Context(), "payments", "A", -1, -1); err != nil || len(got) != 0 {
		t.Errorf("Ranges of partition -1 = %v, %v", got, err)
	}
	b := EventIDsBlock("g", "payments", "B", 0, []int64{3}, []string{"new"}, []time.Time{time.Now()})
	if err := c.Store(t.Context(), "b", []schemas.Block{b}); err != nil {
		t.Fatal(err)
	}
	check("B", nil, []string{"new"})
}
