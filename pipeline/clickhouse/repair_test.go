package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go/proto"

	"github.com/sluicehq/sluice/internal/dev/testenv"
	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/schemas"
)

// crashRecord is one record of a flush in the crash-window tests; month says which
// table partition its event time falls in (0 or 1).
type crashRecord struct {
	json  string
	month int
}

// crashFlush is one flush of a type, marked and with its event ids, as a worker
// builds it: stored under token, its rows are known per table.
type crashFlush struct {
	topic   string
	r       pipeline.Range
	token   string
	blocks  []schemas.Block
	offsets [2][]int64 // the records' offsets by month
}

const (
	crashTopicID   = "tid-1"
	crashPartition = 3
)

func newCrashFlush(t *testing.T, et *schemas.EventType, recs []crashRecord) crashFlush {
	t.Helper()
	topic := et.Topic() // each type's flush has its own event ids
	r := pipeline.Range{Group: "g", Topic: topic, TopicID: crashTopicID, Partition: crashPartition, First: 100, Last: int64(100 + len(recs) - 1)}
	f := crashFlush{topic: topic, r: r, token: pipeline.Token(r)}
	b := et.NewBatch(schemas.Options{Raw: true})
	ts := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var offs []int64
	var ids []string
	var times []time.Time
	for i, r := range recs {
		off := int64(100 + i)
		if err := b.Add([]byte(r.json), &schemas.Meta{Topic: topic, TopicID: crashTopicID, Partition: crashPartition, Offset: off,
			IngestedAt: ts, Timestamp: ts}); err != nil {
			t.Fatalf("%s: %v", r.json, err)
		}
		f.offsets[r.month] = append(f.offsets[r.month], off)
		offs, ids, times = append(offs, off), append(ids, "id-"+strconv.Itoa(i)), append(times, ts)
	}
	b.(schemas.FlushMarker).SetFlush(f.token)
	f.blocks = append(b.Blocks(), EventIDsBlock("g", topic, crashTopicID, crashPartition, offs, ids, times))
	return f
}

// state reads every table of f back, each row as its block's columns, sorted.
func (f crashFlush) state(t *testing.T, c *Client) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, b := range f.blocks {
		cols := make([]string, len(b.Names))
		for i, n := range b.Names {
			cols[i] = quote(n)
		}
		where := ""
		if b.Table == EventIDsTable {
			where = " WHERE topic = '" + f.topic + "'"
		}
		out[b.Table] = queryStrings(t, c, "SELECT formatRow('TSV', "+strings.Join(cols, ", ")+") FROM "+qualified(c.db, b.Table)+where+" ORDER BY 1")
	}
	return out
}

// loseMonth deletes what the parts of table partition month of f's tables held:
// the raw rows and rollup rows of that month and, with ids, every event id of
// f's topic. Their
// tokens stay in the deduplication logs, as when a server dies between writing a
// token and activating its part.
func (f crashFlush) loseMonth(t *testing.T, c *Client, month int, ids bool) {
	t.Helper()
	offs := make([]string, len(f.offsets[month]))
	for i, o := range f.offsets[month] {
		offs[i] = strconv.FormatInt(o, 10)
	}
	for _, b := range f.blocks {
		var where string
		switch {
		case slices.Contains(b.Names, schemas.FlushColumn):
			w := b.Columns[0].([]time.Time)[0]
			if month == 1 {
				w = b.Columns[0].([]time.Time)[b.Rows-1]
			}
			where = fmt.Sprintf("toYYYYMM(window_start) = %d", schemas.RollupMonth(w))
		case b.Table == EventIDsTable:
			if !ids {
				continue
			}
			where = "topic = '" + f.topic + "'"
		default:
			where = "_offset IN (" + strings.Join(offs, ", ") + ")"
		}
		exec(t, c, loseRows(c, b.Table, where))
	}
}

// loseRows is the statement that deletes table's rows matching where and keeps
// the tokens of the parts that held them (a mutation, which, unlike a
// lightweight DELETE, raw tables' projection allows).
func loseRows(c *Client, table, where string) string {
	return "ALTER TABLE " + qualified(c.db, table) + " DELETE WHERE " + where + " SETTINGS mutations_sync = 2"
}

// rows counts f's rows of month (raw and rollup, the latter with its marker) and,
// with ids, its event ids.
func (f crashFlush) rows(month int, ids bool) int {
	n := 0
	for _, b := range f.blocks {
		switch {
		case slices.Contains(b.Names, schemas.FlushColumn):
			for _, w := range b.Columns[0].([]time.Time) {
				if schemas.RollupMonth(w) == schemas.RollupMonth(f.monthWindow(b, month)) {
					n++
				}
			}
		case b.Table == EventIDsTable:
			if ids {
				n += b.Rows
			}
		default:
			n += len(f.offsets[month])
		}
	}
	return n
}

func (f crashFlush) monthWindow(b schemas.Block, month int) time.Time {
	ws := b.Columns[0].([]time.Time)
	if month == 1 {
		return ws[b.Rows-1]
	}
	return ws[0]
}

// checkCrashWindow stores f, loses one month of its parts (and its event ids)
// while their tokens stay, and checks that storing the token again stores
// nothing, that Repair restores exactly what was lost, that a repair lost the same
// way is completed by the next Repair under the next derived token, and that a
// complete flush needs nothing.
func checkCrashWindow(t *testing.T, c *Client, f crashFlush) {
	t.Helper()
	ctx := t.Context()
	if err := c.Intend(ctx, f.r); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(ctx, f.token, f.blocks); err != nil {
		t.Fatal(err)
	}
	want := f.state(t, c)
	for table, rows := range want {
		if len(rows) == 0 {
			t.Fatalf("%s: nothing stored", table)
		}
	}
	if lost, unrepaired, err := c.Repair(ctx, f.r, f.blocks); err != nil || lost != 0 || unrepaired != 0 {
		t.Fatalf("Repair of a complete flush: lost %d, unrepaired %d, %v", lost, unrepaired, err)
	}

	f.loseMonth(t, c, 1, true)
	if err := c.Store(ctx, f.token, f.blocks); err != nil {
		t.Fatal(err)
	}
	if got := f.state(t, c); slices.Equal(got[EventIDsTable], want[EventIDsTable]) {
		t.Fatal("the token stored the lost rows again: the crash window is not reproduced")
	}
	lost, unrepaired, err := c.Repair(ctx, f.r, f.blocks)
	if err != nil || unrepaired != 0 {
		t.Fatalf("Repair: %v (unrepaired %d)", err, unrepaired)
	}
	if n := f.rows(1, true); lost != n {
		t.Errorf("Repair found %d rows missing, want %d", lost, n)
	}
	sameState(t, "after the repair", f.state(t, c), want)

	// The repair's own part is lost the same way (its token, round 1, stays): the
	// next Repair finds the rows missing again, round 1 is dropped, round 2 stores.
	f.loseMonth(t, c, 1, false)
	if lost, _, err := c.Repair(ctx, f.r, f.blocks); err != nil || lost != f.rows(1, false) {
		t.Fatalf("second Repair: lost %d, want %d: %v", lost, f.rows(1, false), err)
	}
	sameState(t, "after a lost repair", f.state(t, c), want)

	// The other month lost: only its rows come back.
	f.loseMonth(t, c, 0, false)
	if lost, _, err := c.Repair(ctx, f.r, f.blocks); err != nil || lost != f.rows(0, false) {
		t.Fatalf("Repair of month 0: lost %d, want %d: %v", lost, f.rows(0, false), err)
	}
	sameState(t, "after the repair of the other month", f.state(t, c), want)
	if lost, _, err := c.Repair(ctx, f.r, f.blocks); err != nil || lost != 0 {
		t.Fatalf("Repair of a repaired flush: lost %d, %v", lost, err)
	}
}

func sameState(t *testing.T, what string, got, want map[string][]string) {
	t.Helper()
	for table, rows := range want {
		sameRows(t, what+": "+table, got[table], rows)
	}
}

// The crash window of the built-in payments and shipments: raw rows, both rollups'
// markers and the event ids, over two table partitions.
func TestRepairBuiltinTypes(t *testing.T) {
	c := open(t)
	c.checkAll = true // rows are lost by DELETE, not by a crash
	for _, et := range schemas.BuiltinEventTypes() {
		t.Run(et.Name(), func(t *testing.T) {
			exec(t, c, schemas.TypeDDL(schemas.DDLOptions{Database: c.db}, et)...)
			var recs []crashRecord
			for i := range 6 {
				at := time.Date(2026, 2, 28, 23, 50+i, 0, 0, time.UTC)
				if i >= 4 {
					at = time.Date(2026, 3, 1, 0, i, 0, 0, time.UTC)
				}
				js := fmt.Sprintf(`{"event_id":"e%d","event_type":"payment.captured","occurred_at":%q,"merchant_id":"m%d","amount_minor":%d,"currency":"INR","method":"upi"}`,
					i, at.Format(time.RFC3339), i%2, 100*(i+1))
				if et.Table() == "shipments" {
					js = fmt.Sprintf(`{"event_id":"e%d","event_type":"shipment.scanned","occurred_at":%q,"shipment_id":"s%d","hub_id":"h%d","carrier":"bluedart","weight_grams":%d}`,
						i, at.Format(time.RFC3339), i, i%2, 10*(i+1))
				}
				recs = append(recs, crashRecord{js, min(i/4, 1)})
			}
			checkCrashWindow(t, c, newCrashFlush(t, et, recs))
		})
	}
}

// The crash window of a type defined only by its schema file: Decimal, nested,
// Array, Map, Bool columns and two rollups (one hourly, with min and max).
func TestRepairEventType(t *testing.T) {
	c := open(t)
	c.checkAll = true
	et, _ := testType(t, c, "settlements")
	var recs []crashRecord
	for i := range 5 {
		at := time.Date(2026, 2, 28, 22+i%2, 10*i, 0, 0, time.UTC)
		if i >= 3 {
			at = time.Date(2026, 3, 1, 1, i, 0, 0, time.UTC)
		}
		recs = append(recs, crashRecord{fmt.Sprintf(`{"settlement_id":"s-%d","settled_at":%q,"amount":"%d.25","currency":"EUR","status":"settled",`+
			`"merchant":{"id":"m-%d","country":"DE","mcc":5411},"fee_bps":%d,"tags":["t%d"],"attributes":{"k":"v%d"},"instant":%t}`,
			i, at.Format(time.RFC3339), i, i%2, 10*i, i, i, i%2 == 0), min(i/3, 1)})
	}
	checkCrashWindow(t, c, newCrashFlush(t, et, recs))
}

// An attempt of a flush that still runs on the server when its retry's Store
// returned (its reply lost, its client not finished) cannot store the flush a
// second time after Repair: its commit finds the token in the deduplication log.
func TestRepairAfterStoreOutlivesRunningAttempt(t *testing.T) {
	c := open(t)
	c.checkAll = true
	exec(t, c, "CREATE TABLE "+qualified(c.db, "raw")+" (`_topic` LowCardinality(String), `_topic_id` LowCardinality(String), "+
		"`_partition` Int32, `_offset` Int64) ENGINE = MergeTree ORDER BY `_offset` SETTINGS non_replicated_deduplication_window = 100")
	const n = 10
	r := pipeline.Range{Group: "g", Topic: "t", TopicID: "id", First: 0, Last: n - 1}
	token := pipeline.Token(r)
	if err := c.Intend(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	offs := make([]int64, n)
	for i := range offs {
		offs[i] = int64(i)
	}
	blk := schemas.Block{Table: "raw", Names: []string{"_topic", "_topic_id", "_partition", "_offset"}, Rows: n, Columns: []any{
		slices.Repeat([]string{"t"}, n), slices.Repeat([]string{"id"}, n), make([]int32, n), offs}}

	// The first attempt: it sent its rows and hangs, its INSERT open on the server.
	conn, _, err := c.ins.get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.ins.put(conn, true)
	release := make(chan struct{})
	zombie := make(chan error, 1)
	cols := make([]nativeCol, len(blk.Columns))
	input := make(proto.Input, len(blk.Columns))
	for i, data := range blk.Columns {
		if cols[i], err = newNativeCol(data); err != nil {
			t.Fatal(err)
		}
		input[i] = proto.InputColumn{Name: blk.Names[i], Data: cols[i]}
	}
	q := chunkedInsert(insertQuery(c.db, "raw", blk.Names), n, cols, input, insertSettings(token))
	q.QueryID = "zombie-" + c.db
	next := q.OnInput
	q.OnInput = func(ctx context.Context) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return next(ctx)
	}
	go func() { zombie <- conn.Do(t.Context(), q) }()
	for len(queryStrings(t, c, "SELECT query_id FROM system.processes WHERE query_id = '"+q.QueryID+"'")) == 0 {
		select {
		case err := <-zombie:
			t.Fatalf("the hanging insert ended: %v", err)
		default:
		}
	}
	// The retry stores the flush; its part is then lost, its token kept.
	if err := c.Store(t.Context(), token, []schemas.Block{blk}); err != nil {
		t.Fatal(err)
	}
	exec(t, c, loseRows(c, "raw", "1"))

	if lost, _, err := c.Repair(t.Context(), r, []schemas.Block{blk}); err != nil || lost != n {
		t.Fatalf("Repair: lost %d, %v; want %d", lost, err, n)
	}
	close(release)
	if err := <-zombie; err != nil {
		t.Fatalf("the first attempt: %v", err)
	}

	sameRows(t, "stored", queryStrings(t, c, "SELECT toString(count()), toString(uniqExact(_offset)) FROM "+qualified(c.db, "raw")), []string{"10|10"})
}

// Only a range recorded before the server's last start is checked: a server up
// since then lost none of its inserts, so rows missing otherwise (a DELETE) are
// left alone; after a restart of the server, the same range is repaired.
func TestRepairOnlyAfterRestart(t *testing.T) {
	env := testenv.PrivateClickHouse(t)
	connect := func() *Client { return openOn(t, env) }
	c := connect()
	exec(t, c, DDL(DDLOptions{Database: c.db})...)
	et := schemas.BuiltinEventTypes()[0]
	exec(t, c, schemas.TypeDDL(schemas.DDLOptions{Database: c.db}, et)...)
	f := newCrashFlush(t, et, []crashRecord{{`{"event_id":"a","event_type":"payment.captured","occurred_at":"2026-03-01T01:00:00Z","merchant_id":"m","amount_minor":1,"currency":"INR","method":"upi"}`, 0}})
	// The range is recorded more than restartMargin after the server started
	// (the server waits out the rest of it).
	exec(t, c, fmt.Sprintf("SELECT sleep(greatest(0, %g - uptime()))", (restartMargin+1500*time.Millisecond).Seconds()))
	if err := c.Intend(t.Context(), f.r); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(t.Context(), f.token, f.blocks); err != nil {
		t.Fatal(err)
	}
	want := f.state(t, c)
	f.loseMonth(t, c, 0, true)
	if lost, _, err := c.Repair(t.Context(), f.r, f.blocks); err != nil || lost != 0 {
		t.Fatalf("Repair with the server up since the range: lost %d, %v; want 0", lost, err)
	}
	if n := count(t, c, "payments"); n != 0 {
		t.Fatalf("%d raw rows re-inserted while the server was up", n)
	}
	if err := env.Server().Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	c = connect()
	if lost, _, err := c.Repair(t.Context(), f.r, f.blocks); err != nil || lost != f.rows(0, true) {
		t.Fatalf("Repair after a restart: lost %d, %v; want %d", lost, err, f.rows(0, true))
	}
	sameState(t, "after the restart", f.state(t, c), want)
}

// The raw check can be answered from a raw table's offsets projection (which
// ClickHouse picks once it reads fewer marks than the table's rows).
func TestRepairReadsOffsetsProjection(t *testing.T) {
	c := open(t)
	et := schemas.BuiltinEventTypes()[0]
	exec(t, c, schemas.TypeDDL(schemas.DDLOptions{Database: c.db}, et)...)
	f := newCrashFlush(t, et, []crashRecord{{`{"event_id":"a","event_type":"payment.captured","occurred_at":"2026-03-01T01:00:00Z","merchant_id":"m","amount_minor":1,"currency":"INR","method":"upi"}`, 0}})
	if err := c.Store(t.Context(), f.token, f.blocks); err != nil {
		t.Fatal(err)
	}
	q, args := c.offsetsQuery(et.Table(), rawOffsets, "", f.r.Topic, f.r.TopicID, f.r.TopicID, f.r.Partition, f.r.First, f.r.Last)
	plan := queryLines(t, c, "EXPLAIN projections = 1 "+q, args...)
	if !strings.Contains(strings.Join(plan, "\n"), "Projection "+schemas.OffsetsProjection+" is usable") {
		t.Fatalf("the raw check does not read %s:\n%s", schemas.OffsetsProjection, strings.Join(plan, "\n"))
	}
}

// A range recorded by an earlier version (not repairable in the ledger) is left
// alone: its inserts carry no flush markers, so its rollup rows would look lost
// and be stored twice.
func TestRepairLeavesEarlierRangesAlone(t *testing.T) {
	c := open(t)
	c.checkAll = true
	et := schemas.BuiltinEventTypes()[0]
	exec(t, c, schemas.TypeDDL(schemas.DDLOptions{Database: c.db}, et)...)
	f := newCrashFlush(t, et, []crashRecord{{`{"event_id":"a","event_type":"payment.captured","occurred_at":"2026-03-01T01:00:00Z","merchant_id":"m","amount_minor":1,"currency":"INR","method":"upi"}`, 0}})
	exec(t, c, fmt.Sprintf("INSERT INTO %s (`group`, `topic`, `topic_id`, `partition`, `first`, `last`) VALUES ('%s', '%s', '%s', %d, %d, %d)",
		qualified(c.db, LedgerTable), f.r.Group, f.r.Topic, f.r.TopicID, f.r.Partition, f.r.First, f.r.Last))
	if err := c.Store(t.Context(), f.token, f.blocks); err != nil {
		t.Fatal(err)
	}
	f.loseMonth(t, c, 0, true)
	if lost, unrepaired, err := c.Repair(t.Context(), f.r, f.blocks); err != nil || lost != 0 || unrepaired != 0 {
		t.Fatalf("Repair of an earlier range: lost %d, unrepaired %d, %v", lost, unrepaired, err)
	}
	if n := count(t, c, "payments"); n != 0 {
		t.Fatalf("%d raw rows re-inserted for a range recorded by an earlier version", n)
	}
	// Recorded by this version, the same range is repaired.
	if err := c.Intend(t.Context(), f.r); err != nil {
		t.Fatal(err)
	}
	if lost, _, err := c.Repair(t.Context(), f.r, f.blocks); err != nil || lost == 0 {
		t.Fatalf("Repair of a repairable range: lost %d, %v", lost, err)
	}
}
