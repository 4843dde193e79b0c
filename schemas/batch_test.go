package schemas

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func payRec(id, ts, merchant, currency, method, typ string, amount int64) []byte {
	return fmt.Appendf(nil, `{"event_id":%q,"event_type":%q,"occurred_at":%q,"merchant_id":%q,"amount_minor":%d,"currency":%q,"method":%q,"metadata":{"order_id":"o"}}`,
		id, typ, ts, merchant, amount, currency, method)
}

func shipRec(id, ts, hub, carrier, typ string, weight int64) []byte {
	return fmt.Appendf(nil, `{"event_id":%q,"event_type":%q,"occurred_at":%q,"shipment_id":"s","hub_id":%q,"carrier":%q,"weight_grams":%d}`,
		id, typ, ts, hub, carrier, weight)
}

func blockByTable(t *testing.T, blocks []Block, table string) Block {
	t.Helper()
	for _, b := range blocks {
		if b.Table == table {
			for i, c := range b.Columns {
				if n := ColumnLen(c); n != b.Rows {
					t.Fatalf("%s column %s has %d values, want %d", table, b.Names[i], n, b.Rows)
				}
			}
			if len(b.Names) != len(b.Columns) {
				t.Fatalf("%s: %d names, %d columns", table, len(b.Names), len(b.Columns))
			}
			return b
		}
	}
	t.Fatalf("no block for %s in %v", table, blocks)
	return Block{}
}

// col returns a column's values as a plain slice (see PlainColumn).
func col[T any](b Block, name string) []T { return PlainColumn(blockColumn(b, name)).([]T) }

func blockColumn(b Block, name string) any {
	for i, n := range b.Names {
		if n == name {
			return b.Columns[i]
		}
	}
	panic("no column " + name)
}

func TestPaymentBatchRollup(t *testing.T) {
	b := NewPaymentBatch(Options{Raw: true})
	recs := [][]byte{
		payRec("1", "2026-03-01T10:00:59.999Z", "m1", "INR", "upi", PaymentCaptured, 100),
		payRec("2", "2026-03-01T10:00:00Z", "m1", "INR", "upi", PaymentCaptured, 50),
		payRec("3", "2026-03-01T15:31:10+05:30", "m1", "INR", "upi", PaymentCaptured, 7), // 10:01:10Z
		payRec("4", "2026-03-01T10:00:30Z", "m2", "INR", "upi", PaymentCaptured, 0),
		payRec("5", "2026-03-01T09:00:30Z", "m1", "INR", "upi", PaymentCaptured, 9), // late
		payRec("6", "2026-03-01T10:00:30Z", "m1", "USD", "upi", PaymentCaptured, 1),
		payRec("7", "2026-03-01T10:00:30Z", "m1", "INR", "card", PaymentFailed, 1),
	}
	for i, r := range recs {
		if err := b.Add(r, &Meta{Topic: "payments", Partition: 2, Offset: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Add([]byte(`{}`), &Meta{}); err == nil {
		t.Fatal("invalid record accepted")
	}
	if b.Events() != len(recs) || b.Bytes() <= 0 {
		t.Fatalf("Events %d Bytes %d", b.Events(), b.Bytes())
	}
	blocks := b.Blocks()
	if len(blocks) != 2 {
		t.Fatalf("%d blocks", len(blocks))
	}
	raw := blockByTable(t, blocks, "payments")
	if raw.Rows != len(recs) || !reflect.DeepEqual(raw.Names, PaymentColumns) {
		t.Fatalf("raw block %d rows, names %v", raw.Rows, raw.Names)
	}
	if got := col[int64](raw, "_offset"); got[6] != 6 {
		t.Fatalf("_offset %v", got)
	}
	if got := blockColumn(raw, "metadata").(MapColumn); got.Row(0)["order_id"] != "o" || got.Len() != raw.Rows {
		t.Fatalf("metadata %v", got)
	}
	roll := blockByTable(t, blocks, "payments_1m")
	type row struct {
		w                        string
		merchant, cur, meth, typ string
		events, sum              uint64
		min, max                 int64
	}
	var got []row
	for i := range roll.Rows {
		got = append(got, row{
			col[time.Time](roll, "window_start")[i].Format("15:04:05"),
			col[string](roll, "merchant_id")[i], col[string](roll, "currency")[i],
			col[string](roll, "method")[i], col[string](roll, "event_type")[i],
			col[uint64](roll, "events")[i], col[uint64](roll, "amount_minor_sum")[i],
			col[int64](roll, "amount_minor_min")[i], col[int64](roll, "amount_minor_max")[i],
		})
	}
	want := []row{
		{"09:00:00", "m1", "INR", "upi", PaymentCaptured, 1, 9, 9, 9},
		{"10:00:00", "m1", "INR", "card", PaymentFailed, 1, 1, 1, 1},
		{"10:00:00", "m1", "INR", "upi", PaymentCaptured, 2, 150, 50, 100},
		{"10:00:00", "m1", "USD", "upi", PaymentCaptured, 1, 1, 1, 1},
		{"10:00:00", "m2", "INR", "upi", PaymentCaptured, 1, 0, 0, 0},
		{"10:01:00", "m1", "INR", "upi", PaymentCaptured, 1, 7, 7, 7},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rollup\n got %v\nwant %v", got, want)
	}
	if loc := col[time.Time](roll, "window_start")[0].Location(); loc != time.UTC {
		t.Fatalf("window_start location %v", loc)
	}
}

func TestWindowTruncation(t *testing.T) {
	for _, c := range []struct {
		w        time.Duration
		ts, want string
	}{
		{5 * time.Minute, "2026-03-01T10:07:59Z", "2026-03-01T10:05:00Z"},
		{time.Hour, "2026-03-01T10:59:59.999Z", "2026-03-01T10:00:00Z"},
		{30 * time.Second, "2026-03-01T10:00:45Z", "2026-03-01T10:00:30Z"},
		{7 * time.Minute, "1970-01-01T00:15:00Z", "1970-01-01T00:14:00Z"}, // epoch-aligned
		{time.Minute, "2026-03-01T10:00:00+05:30", "2026-03-01T04:30:00Z"},
	} {
		b := NewShipmentBatch(Options{Window: c.w})
		if err := b.Add(shipRec("1", c.ts, "h", "c", ShipmentCreated, 1), &Meta{}); err != nil {
			t.Fatal(err)
		}
		blocks := b.Blocks()
		if len(blocks) != 1 {
			t.Fatalf("%d blocks with Raw off", len(blocks))
		}
		roll := blockByTable(t, blocks, RollupTable("shipments", c.w))
		if got := col[time.Time](roll, "window_start")[0].Format(time.RFC3339); got != c.want {
			t.Errorf("window %v, %s: got %s, want %s", c.w, c.ts, got, c.want)
		}
	}
}

func TestShipmentBatch(t *testing.T) {
	b := NewShipmentBatch(Options{Raw: true, Window: time.Minute})
	for i, r := range [][]byte{
		shipRec("1", "2026-03-01T10:00:01Z", "BLR1", "bd", ShipmentScanned, 100),
		shipRec("2", "2026-03-01T10:00:02Z", "BLR1", "bd", ShipmentScanned, 200),
		shipRec("3", "2026-03-01T10:00:03Z", "BLR1", "dhl", ShipmentScanned, 5),
	} {
		if err := b.Add(r, &Meta{Offset: int64(i), IngestedAt: time.Unix(1, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	blocks := b.Blocks()
	raw := blockByTable(t, blocks, "shipments")
	if !reflect.DeepEqual(raw.Names, ShipmentColumns) || raw.Rows != 3 {
		t.Fatalf("raw %v %d", raw.Names, raw.Rows)
	}
	roll := blockByTable(t, blocks, "shipments_1m")
	if got := col[uint64](roll, "weight_grams_sum"); !reflect.DeepEqual(got, []uint64{300, 5}) {
		t.Fatalf("weight sums %v", got)
	}
	if got := col[uint64](roll, "events"); !reflect.DeepEqual(got, []uint64{2, 1}) {
		t.Fatalf("events %v", got)
	}
}

type fakeDedup struct {
	seen  map[string]bool
	calls []string
}

func (f *fakeDedup) Admit(id string, timestamp, offset int64) bool {
	f.calls = append(f.calls, fmt.Sprintf("%s@%d/%d", id, timestamp, offset))
	if f.seen[id] {
		return false
	}
	f.seen[strings.Clone(id)] = true
	return true
}

func TestBatchDedup(t *testing.T) {
	for name, newBatch := range map[string]func(Options) Batch{"hand-written": NewPaymentBatch, "event type": BuiltinType(t, "payment").NewBatch} {
		d := &fakeDedup{seen: map[string]bool{}}
		b := newBatch(Options{Raw: true, Dedup: d})
		r := payRec("dup", "1970-01-01T00:00:01Z", "m", "INR", "upi", PaymentCaptured, 5)
		// Admit gets the record's Kafka timestamp and offset, not the event's occurred_at.
		if err := b.Add(r, &Meta{Offset: 1, Timestamp: time.Unix(7, 0)}); err != nil {
			t.Fatal(name, err)
		}
		if err := b.Add(r, &Meta{Offset: 2, Timestamp: time.Unix(8, 0)}); !errors.Is(err, ErrDuplicate) {
			t.Fatalf("%s: second add: %v, want ErrDuplicate", name, err)
		}
		if err := b.Add([]byte(`{"event_id":"x"}`), &Meta{Offset: 3, Timestamp: time.Unix(9, 0)}); err == nil {
			t.Fatal(name, "invalid accepted")
		}
		want := []string{"dup@7000000000/1", "dup@8000000000/2"}
		if !reflect.DeepEqual(d.calls, want) {
			t.Fatalf("%s: Admit calls %v, want %v (invalid records must not reach Dedup)", name, d.calls, want)
		}
		if b.Events() != 1 || blockByTable(t, b.Blocks(), "payments").Rows != 1 {
			t.Fatalf("%s: duplicate was added: events %d", name, b.Events())
		}
	}
}

func TestBatchResetAndDeterminism(t *testing.T) {
	var recs [][]byte
	merchants := []string{"m3", "m1", "m2"}
	for i := range 300 {
		recs = append(recs, payRec(fmt.Sprint(i), fmt.Sprintf("2026-03-01T10:%02d:%02dZ", i%7, i%60),
			merchants[i%3], "INR", []string{"upi", "card"}[i%2], PaymentCaptured, int64(i)))
	}
	build := func(b Batch) []Block {
		for i, r := range recs {
			if err := b.Add(r, &Meta{Topic: "payments", Offset: int64(i), IngestedAt: time.Unix(5, 0).UTC()}); err != nil {
				t.Fatal(err)
			}
		}
		return deepCopyBlocks(b.Blocks())
	}
	b1 := NewPaymentBatch(Options{Raw: true})
	first := build(b1)
	b1.Reset()
	if b1.Events() != 0 || b1.Bytes() != 0 || len(b1.Blocks()) != 0 {
		t.Fatalf("after Reset: events %d bytes %d blocks %d", b1.Events(), b1.Bytes(), len(b1.Blocks()))
	}
	again := build(b1)
	fresh := build(NewPaymentBatch(Options{Raw: true}))
	if !reflect.DeepEqual(first, again) || !reflect.DeepEqual(first, fresh) {
		t.Fatal("same records gave different blocks")
	}
	// Reset keeps memory: refilling allocates nothing per record but, amortized,
	// string arena chunks (metadata stays flat: no map per row).
	for _, c := range []struct {
		raw bool
		max float64
	}{{false, 1}, {true, 1}} {
		b := NewPaymentBatch(Options{Raw: c.raw})
		build(b)
		b.Reset()
		m := new(Meta) // one for every call, as the worker passes it
		allocs := testing.AllocsPerRun(1, func() {
			for i, r := range recs {
				m.Offset = int64(i)
				_ = b.Add(r, m)
			}
			b.Blocks()
			b.Reset()
		})
		if per := allocs / float64(len(recs)); per > c.max {
			t.Errorf("raw %v: %.2f allocs per event after Reset, want ≤ %v", c.raw, per, c.max)
		}
	}
}

// deepCopyBlocks copies blocks with every column as a plain slice (PlainColumn).
func deepCopyBlocks(bs []Block) []Block {
	out := make([]Block, len(bs))
	for i, b := range bs {
		out[i] = b
		out[i].Columns = make([]any, len(b.Columns))
		for j, c := range b.Columns {
			out[i].Columns[j] = PlainColumn(c)
		}
	}
	return out
}

func TestOptionsValidate(t *testing.T) {
	if err := (Options{}).Validate(); err != nil {
		t.Fatal(err)
	}
	for _, w := range []time.Duration{-time.Minute, time.Millisecond, 1500 * time.Millisecond} {
		if (Options{Window: w}).Validate() == nil {
			t.Errorf("window %v accepted", w)
		}
	}
}

// TestBatchReleasesBurstMemory: Reset keeps a batch's column memory for reuse, but
// gives it back once shrinkAfter batches in a row used under a quarter of it.
func TestBatchReleasesBurstMemory(t *testing.T) {
	b := NewPaymentBatch(Options{Raw: true}).(*paymentBatch)
	fill := func(n int) {
		for i := range n {
			if err := b.Add(payRec(strconv.Itoa(i), "2026-03-01T10:00:00Z", "m1", "INR", "upi", PaymentCaptured, 1), &Meta{Offset: int64(i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	fill(4000)
	b.Reset()
	for round := 1; round <= shrinkAfter; round++ {
		fill(10)
		b.Reset()
		if c := cap(b.rows.offset); round < shrinkAfter && c < 4000 {
			t.Fatalf("after %d small batches the offsets column holds %d rows, want the burst's ≥ 4000 kept", round, c)
		} else if round == shrinkAfter && c >= 4000 {
			t.Fatalf("after %d small batches the offsets column still holds %d rows", round, c)
		}
	}
	// A batch of the usual size resets the count: memory is kept again.
	fill(4000)
	b.Reset()
	fill(2000)
	b.Reset()
	if c := cap(b.rows.offset); c < 4000 {
		t.Fatalf("after a 4000-row batch the offsets column holds %d rows", c)
	}
	// And the batch still works after a release.
	fill(3)
	if blk := b.Blocks(); len(blk) == 0 || blk[0].Rows != 3 {
		t.Fatalf("blocks after a release: %+v", blk)
	}
}

// TestBatchMetadataNotCarriedOver adds a payment without metadata after one with
// metadata: its raw row must have none.
func TestBatchMetadataNotCarriedOver(t *testing.T) {
	for _, b := range []Batch{NewPaymentBatch(Options{Raw: true}), BuiltinEventTypes()[0].NewBatch(Options{Raw: true})} {
		for _, r := range []string{validPayment, with(validPayment, "metadata", ""), with(validPayment, "metadata", "null")} {
			if err := b.Add([]byte(r), &Meta{}); err != nil {
				t.Fatal(err)
			}
		}
		got := col[map[string]string](blockByTable(t, b.Blocks(), "payments"), "metadata")
		if len(got[0]) != 2 || got[1] != nil || got[2] != nil {
			t.Fatalf("%T: metadata rows %v, want the first only", b, got)
		}
	}
}

// prefetchDedup is a fakeDedup that also records Prefetch calls in calls.
type prefetchDedup struct{ fakeDedup }

func (f *prefetchDedup) Prefetch(id string) { f.calls = append(f.calls, "prefetch "+id) }

// TestBatchDedupPrefetch: an event type's batch hands a Dedup that can prefetch
// each record's id once decoded, before Admit gets it, and only for records that
// have one; the decisions stay Admit's.
func TestBatchDedupPrefetch(t *testing.T) {
	d := &prefetchDedup{fakeDedup{seen: map[string]bool{}}}
	b := BuiltinType(t, "payment").NewBatch(Options{Raw: true, Dedup: d})
	r := payRec("a", "1970-01-01T00:00:01Z", "m", "INR", "upi", PaymentCaptured, 5)
	if err := b.Add(r, &Meta{Offset: 1, Timestamp: time.Unix(7, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(r, &Meta{Offset: 2, Timestamp: time.Unix(8, 0)}); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second add: %v, want ErrDuplicate", err)
	}
	if err := b.Add([]byte(`{"event_type":"payment.captured"}`), &Meta{Offset: 3, Timestamp: time.Unix(9, 0)}); err == nil {
		t.Fatal("a record without an event_id added")
	}
	want := []string{"prefetch a", "a@7000000000/1", "prefetch a", "a@8000000000/2"}
	if !reflect.DeepEqual(d.calls, want) {
		t.Fatalf("calls %q, want %q", d.calls, want)
	}
}

// TestBatchReserve: a new batch that reserves the sizes of a full one (an
// eighth more) fills as many rows with the same blocks without growing its
// columns, so reserving and filling allocate well under what a new batch
// allocates filling (its columns several times over as they grow); a batch
// that held rows ignores them.
func TestBatchReserve(t *testing.T) {
	pay := BuiltinType(t, "payment")
	recs := variedPayments(20_000)
	fill := func(b Batch, sizes []int) (allocated uint64) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if sizes != nil {
			b.(Sizer).Reserve(sizes)
		}
		for i, r := range recs {
			if err := b.Add(r, &Meta{Topic: "payments", Partition: 3, Offset: int64(i)}); err != nil {
				t.Fatal(err)
			}
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	o := Options{Raw: true, SkipRollups: true}
	full := pay.NewBatch(o)
	grown := fill(full, nil)
	sizes := full.(Sizer).Sizes(nil)
	want := full.Blocks()

	b := pay.NewBatch(o)
	reserved := fill(b, sizes)
	tb := b.(*typeBatch)
	caps := func() []int {
		c := []int{cap(tb.topic.Keys), cap(tb.topicID.Keys), cap(tb.partition), cap(tb.offset), cap(tb.ingestedAt), cap(tb.timestamp)}
		for _, s := range tb.cols.sizes(nil) {
			c = append(c, s) // the raw columns' lengths, reserved with the rest
		}
		return c
	}
	filled := caps()
	if got := b.Blocks(); !reflect.DeepEqual(got, want) {
		t.Fatalf("the reserved batch's blocks differ from the new one's")
	}
	// Blocks appends the provenance runs: into the room reserved for them.
	if got := caps(); !reflect.DeepEqual(got, filled) || filled[0] < len(recs) || filled[1] < len(recs) {
		t.Fatalf("the reserved batch's provenance columns grew in Blocks: capacities %v, then %v", filled, got)
	}
	t.Logf("allocated: %d bytes filling a new batch, %d reserving and filling one", grown, reserved)
	if !raceDetector && reserved*2 > grown {
		t.Fatalf("reserving and filling a batch allocated %d bytes, filling a new one %d", reserved, grown)
	}
	// Sizes of the wrong length (another type's) are ignored.
	if n := fill(pay.NewBatch(o), sizes[1:]); !raceDetector && n*2 < grown {
		t.Fatalf("sizes of the wrong length reserved: %d bytes allocated filling, %d without", n, grown)
	}
	// So are any sizes in a batch whose columns grew already: it keeps them.
	used := pay.NewBatch(o)
	if err := used.Add(recs[0], &Meta{}); err != nil {
		t.Fatal(err)
	}
	used.Reset()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	used.(Sizer).Reserve(sizes)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n != 0 {
		t.Fatalf("a batch that held rows reserved %d bytes", n)
	}
}
