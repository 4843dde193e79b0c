package clickhouse

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/schemas"
)

// rawPayments is where payments' raw rows keep their event ids.
var rawPayments = pipeline.RawIDs{Table: "payments", Column: "event_id"}

// rowsOf is what a stored partition holds for the filter: the record at offsets[i]
// has event id ids[i] and Kafka timestamp ts[i].
type rowsOf struct {
	offsets []int64
	ids     []string
	ts      []time.Time
}

func (r rowsOf) slice(from, to int) rowsOf {
	return rowsOf{r.offsets[from:to], r.ids[from:to], r.ts[from:to]}
}

// shift moves r's offsets by d.
func (r rowsOf) shift(d int64) rowsOf {
	offs := make([]int64, len(r.offsets))
	for i, o := range r.offsets {
		offs[i] = o + d
	}
	return rowsOf{offs, r.ids, r.ts}
}

// paymentsTable creates c's raw payments table as migrate does.
func paymentsTable(t *testing.T, c *Client) {
	t.Helper()
	pay := schemas.BuiltinEventTypes()[0]
	if pay.Table() != "payments" {
		t.Fatalf("first built-in type is %s", pay.Table())
	}
	exec(t, c, schemas.TypeDDL(schemas.DDLOptions{Database: c.db}, pay)...)
}

// storeRaw stores r as one flush of raw payment rows of partition part of the
// incarnation topicID (a zero ts[i] leaves _timestamp unset, as rows stored before
// raw tables had it).
func storeRaw(t *testing.T, c *Client, token, topicID string, part int32, r rowsOf) {
	t.Helper()
	b := schemas.NewPaymentBatch(schemas.Options{Raw: true, SkipRollups: true})
	for i, id := range r.ids {
		rec := fmt.Sprintf(`{"event_id":%q,"event_type":"payment.captured","occurred_at":"2026-03-01T10:15:30.123Z",`+
			`"merchant_id":"m-%d","customer_id":"c-7","amount_minor":100,"currency":"INR","method":"upi","status":"ok",`+
			`"country":"IN","city":"Pune","risk_score":0.1}`, id, i%5)
		if err := b.Add([]byte(rec), &schemas.Meta{Topic: "payments", TopicID: topicID, Partition: part, Offset: r.offsets[i],
			IngestedAt: time.Now(), Timestamp: r.ts[i]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Store(t.Context(), token, b.Blocks()); err != nil {
		t.Fatal(err)
	}
}

// storeIDs stores r as event-id rows of group g, partition part, incarnation topicID.
func storeIDs(t *testing.T, c *Client, token, g, topicID string, part int32, r rowsOf) {
	t.Helper()
	b := EventIDsBlock(g, "payments", topicID, part, r.offsets, r.ids, r.ts)
	if err := c.Store(t.Context(), token, []schemas.Block{b}); err != nil {
		t.Fatal(err)
	}
}

// seen is SeenIDs' answer as "id@ms" in call order.
func seen(t *testing.T, c *Client, q pipeline.IDQuery) []string {
	t.Helper()
	var out []string
	if err := c.SeenIDs(t.Context(), q, func(id string, ts int64) { out = append(out, fmt.Sprintf("%s@%d", id, ts/1e6)) }); err != nil {
		t.Fatal(err)
	}
	return out
}

// partitionRows are n records from offset 0 whose ids repeat every 17 offsets and
// whose timestamps go back 30 s at every 7th record (out of order), from base.
func partitionRows(n int, base time.Time, prefix string) rowsOf {
	var r rowsOf
	for i := range n {
		ts := base.Add(time.Duration(i)*time.Second + time.Duration(i)*time.Millisecond)
		if i%7 == 6 {
			ts = ts.Add(-30 * time.Second)
		}
		r.offsets = append(r.offsets, int64(i))
		r.ids = append(r.ids, fmt.Sprintf("%s%d", prefix, i%17))
		r.ts = append(r.ts, ts)
	}
	return r
}

// sameAnswers checks, over a grid of first offsets, horizons and caps, that SeenIDs
// of got answers what SeenIDs of want does, and that the grid saw ids.
func sameAnswers(t *testing.T, c *Client, got, want pipeline.IDQuery, base time.Time, n int) {
	t.Helper()
	nonEmpty := 0
	for _, before := range []int64{0, 1, 13, int64(n) / 2, int64(n), 1000} {
		for _, since := range []time.Time{{}, base.Add(20 * time.Second), base.Add(time.Duration(n) * time.Second)} {
			for _, limit := range []int{0, 1, 7, n} {
				got.Before, got.Since, got.Limit = before, since, limit
				want.Before, want.Since, want.Limit = before, since, limit
				g, w := seen(t, c, got), seen(t, c, want)
				if !slices.Equal(g, w) {
					t.Fatalf("before %d, since %v, limit %d:\n got %v\nwant %v", before, since, limit, g, w)
				}
				if len(w) > 0 {
					nonEmpty++
				}
			}
		}
	}
	got.Before, got.Since, got.Limit = 1000, time.Time{}, 0
	if all := seen(t, c, got); len(all) != n || nonEmpty < 20 {
		t.Fatalf("%d ids of %d offsets, %d non-empty answers: the grid tests nothing", len(all), n, nonEmpty)
	}
}

// The filter rebuilt from raw rows is the one rebuilt from event-id rows of the
// same events: same ids, timestamps and order for every first offset, horizon and
// cap, of its own partition and incarnation only.
func TestSeenIDsFromRawRows(t *testing.T) {
	c := open(t)
	paymentsTable(t, c)
	base := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	const n = 60
	r := partitionRows(n, base, "e")
	// Raw rows in three flushes, as a worker stores them, and the same events as
	// event-id rows of a group that stored only those.
	for i, cut := range [][2]int{{0, 25}, {25, 26}, {26, n}} {
		storeRaw(t, c, fmt.Sprint("raw:", i), "A", 0, r.slice(cut[0], cut[1]))
	}
	storeIDs(t, c, "ids", "ids", "A", 0, r)
	// Other partitions and incarnations.
	storeRaw(t, c, "raw:p1", "A", 1, partitionRows(5, base, "p1-"))
	storeRaw(t, c, "raw:B", "B", 0, partitionRows(5, base, "B-"))
	if got := count(t, c, EventIDsTable); got != n {
		t.Fatalf("%d event-id rows, want the reference's %d", got, n)
	}
	sameAnswers(t, c,
		pipeline.IDQuery{Group: "g", Topic: "payments", TopicID: "A", Raw: rawPayments},
		pipeline.IDQuery{Group: "ids", Topic: "payments", TopicID: "A"}, base, n)
	if got := seen(t, c, pipeline.IDQuery{Group: "g", Topic: "payments", TopicID: "B", Before: 1000, Raw: rawPayments}); len(got) != 5 || !strings.HasPrefix(got[0], "B-0@") {
		t.Errorf("incarnation B: %v, want its own 5 ids", got)
	}
}

// A partition whose earlier rows were stored before raw rows held the ids (raw rows
// without _topic_id and _timestamp, their ids in sluice_event_ids), then by flushes
// that wrote both, then by flushes that write raw rows only: the rebuild still
// gives every id once, with its timestamp, as event-id rows of all of them would;
// the rows without topic id belong to the incarnation that claimed them only.
func TestSeenIDsAcrossTheUpgrade(t *testing.T) {
	c := open(t)
	paymentsTable(t, c)
	if _, err := c.ClaimTopics(t.Context(), map[string]string{"payments": "A"}); err != nil {
		t.Fatal(err)
	}
	base := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	const n = 45
	r := partitionRows(n, base, "e")
	old := r.slice(0, 15)
	storeRaw(t, c, "old", "", 0, rowsOf{old.offsets, old.ids, make([]time.Time, 15)})
	storeIDs(t, c, "old:ids", "g", "", 0, old)
	both := r.slice(15, 30)
	storeRaw(t, c, "both", "A", 0, both)
	storeIDs(t, c, "both:ids", "g", "A", 0, both)
	storeRaw(t, c, "new", "A", 0, r.slice(30, n))
	storeIDs(t, c, "ref", "ref", "A", 0, r)
	sameAnswers(t, c,
		pipeline.IDQuery{Group: "g", Topic: "payments", TopicID: "A", Raw: rawPayments},
		pipeline.IDQuery{Group: "ref", Topic: "payments", TopicID: "A"}, base, n)
	// The re-created topic (incarnation B) owns none of it.
	if got := seen(t, c, pipeline.IDQuery{Group: "g", Topic: "payments", TopicID: "B", Before: 1000, Raw: rawPayments}); len(got) != 0 {
		t.Errorf("incarnation B sees %v", got)
	}
}

// The rebuild reads the raw table through its offsets projection, and an existing
// table without it gets it from AddOffsetsProjection.
func TestSeenIDsReadsTheOffsetsProjection(t *testing.T) {
	c := open(t)
	pay := schemas.BuiltinEventTypes()[0]
	// The table as it was created before it had the projection.
	var old []string
	for _, s := range schemas.TypeDDL(schemas.DDLOptions{Database: c.db}, pay) {
		if i := strings.Index(s, ",\n    PROJECTION "); i >= 0 {
			s = s[:i] + s[strings.Index(s, "\n)\n"):]
		}
		old = append(old, s)
	}
	exec(t, c, old...)
	base := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	storeRaw(t, c, "before", "A", 0, partitionRows(20, base, "e"))
	// Enough rows of other partitions that reading the table by its own order
	// would read several granules.
	for p := range int32(8) {
		storeRaw(t, c, fmt.Sprint("other:", p), "A", p+1, partitionRows(6000, base, "o"))
	}
	has, err := c.TablesWithProjection(t.Context(), schemas.OffsetsProjection)
	if err != nil || has["payments"] {
		t.Fatalf("before: tables with the projection %v, %v", has, err)
	}
	q := pipeline.IDQuery{Group: "g", Topic: "payments", TopicID: "A", Partition: 0, Before: 1000, Limit: 10, Raw: rawPayments}
	want := seen(t, c, q)
	exec(t, c, schemas.AddOffsetsProjection(schemas.DDLOptions{Database: c.db}, pay)...)
	if has, err = c.TablesWithProjection(t.Context(), schemas.OffsetsProjection); err != nil || !has["payments"] {
		t.Fatalf("after: tables with the projection %v, %v", has, err)
	}
	storeRaw(t, c, "after", "A", 0, partitionRows(20, base, "x").shift(20))
	if got := seen(t, c, q); len(got) != 10 || len(want) != 10 || !strings.HasPrefix(got[9], "x") {
		t.Fatalf("after the migration: %v", got)
	}
	// Merged into one part ordered by the business key, the rows of every
	// partition interleave: the case the projection is for (unmerged, each
	// insert's part holds one partition's offsets, and the server may read those
	// parts instead).
	exec(t, c, "OPTIMIZE TABLE "+qualified(c.db, "payments")+" FINAL")
	for _, limit := range []int{0, 10} {
		q.Limit = limit
		sel, args := c.seenIDsQuery(q)
		plan := strings.Join(queryLines(t, c, "EXPLAIN indexes = 1, projections = 1 "+sel, args...), "\n")
		if !strings.Contains(plan, "ReadFromMergeTree ("+schemas.OffsetsProjection+")") {
			t.Errorf("limit %d: the raw rows are not read through the projection:\n%s", limit, plan)
		}
	}
}

// queryLines runs a query of one String column on c and returns its rows.
func queryLines(t *testing.T, c *Client, query string, args ...any) []string {
	t.Helper()
	rows, err := c.conn.Query(t.Context(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		out = append(out, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
