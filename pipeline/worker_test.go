package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/dev/testsupport"
	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/schemas"
)

const (
	testGroup = "g"
	payments  = "payments"
	shipments = "shipments"
	// guard bounds how long a test waits for something that must happen; reaching it
	// is a failure, never the expected path.
	guard = 10 * time.Second
	// dedupSlack mirrors the pipeline's unexported slack on the dedup horizon.
	dedupSlack = time.Hour
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func payJSON(id string, at time.Time, merchant string, amount int64) []byte {
	return fmt.Appendf(nil, `{"event_id":%q,"event_type":"payment.captured","occurred_at":%q,"merchant_id":%q,"amount_minor":%d,"currency":"INR","method":"upi"}`,
		id, at.Format(time.RFC3339Nano), merchant, amount)
}

func shipJSON(id string, at time.Time, hub string, weight int64) []byte {
	return fmt.Appendf(nil, `{"event_id":%q,"event_type":"shipment.scanned","occurred_at":%q,"shipment_id":"s1","hub_id":%q,"carrier":"bluedart","weight_grams":%d}`,
		id, at.Format(time.RFC3339Nano), hub, weight)
}

func rec(topic string, partition int32, off int64, ts time.Time, v []byte) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: partition, Offset: off, Timestamp: ts, Value: v}
}

// testEnv holds the in-memory services shared by the workers of one test, as the
// ClickHouse tables are shared by successive owners of a partition.
type testEnv struct {
	sink   *memSink
	ledger *memLedger
	seen   pipeline.SeenIDs
	dlq    *asyncDLQ
	memory pipeline.Memory // nil: no memory budget
}

func newEnv(t *testing.T) *testEnv {
	s := newMemSink()
	e := &testEnv{sink: s, ledger: &memLedger{}, seen: sinkSeen{s}, dlq: &asyncDLQ{}}
	t.Cleanup(e.dlq.wait)
	return e
}

// pipeline builds a Pipeline over e; Group, Topics and Batch default for payments and
// shipments with raw rows on.
func (e *testEnv) pipeline(o pipeline.Options) *pipeline.Pipeline {
	if o.Group == "" {
		o.Group = testGroup
	}
	if o.Topics == nil {
		o.Topics = map[string]func(schemas.Options) schemas.Batch{
			payments:  schemas.NewPaymentBatch,
			shipments: schemas.NewShipmentBatch,
		}
	}
	if o.Batch == (schemas.Options{}) {
		o.Batch = schemas.Options{Raw: true}
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = time.Hour
	}
	if o.RetryMin == 0 {
		o.RetryMin, o.RetryMax = time.Millisecond, 4*time.Millisecond
	}
	return pipeline.New(o, pipeline.Deps{Sink: e.sink, Ledger: e.ledger, SeenIDs: e.seen, DLQ: e.dlq, Memory: e.memory})
}

// running is a Worker.Run in its own goroutine.
type running struct {
	in    chan []*kgo.Record
	marks chan int64 // offsets of marked records, in order
	done  chan error
}

func startWorker(t *testing.T, ctx context.Context, w *pipeline.Worker) *running {
	t.Helper()
	if w == nil {
		t.Fatal("nil worker")
	}
	r := &running{in: make(chan []*kgo.Record), marks: make(chan int64, 1<<16), done: make(chan error, 1)}
	go func() {
		r.done <- w.Run(ctx, r.in, func(rec *kgo.Record) { r.marks <- rec.Offset })
	}()
	return r
}

// send hands one slice to the worker; it returns once the worker has received it.
func (r *running) send(t *testing.T, recs ...*kgo.Record) {
	t.Helper()
	select {
	case r.in <- recs:
	case err := <-r.done:
		t.Fatalf("worker returned %v while a slice was pending", err)
	case <-time.After(guard):
		t.Fatal("worker did not take a slice")
	}
}

// finish closes in and returns Run's result and every mark.
func (r *running) finish(t *testing.T) (error, []int64) {
	t.Helper()
	close(r.in)
	return r.wait(t)
}

func (r *running) wait(t *testing.T) (error, []int64) {
	t.Helper()
	var err error
	select {
	case err = <-r.done:
	case <-time.After(guard):
		t.Fatal("worker did not return")
	}
	var marks []int64
	for {
		select {
		case m := <-r.marks:
			marks = append(marks, m)
		default:
			return err, marks
		}
	}
}

func (r *running) nextMark(t *testing.T) int64 {
	t.Helper()
	select {
	case m := <-r.marks:
		return m
	case err := <-r.done:
		t.Fatalf("worker returned %v before marking", err)
	case <-time.After(guard):
		t.Fatal("no mark")
	}
	return 0
}

func tokens(stored []storeCall) []string {
	var out []string
	for _, s := range stored {
		out = append(out, s.token)
	}
	return out
}

func rng(first, last int64) pipeline.Range {
	return pipeline.Range{Group: testGroup, Topic: payments, Partition: 0, First: first, Last: last}
}

func TestTokenFormat(t *testing.T) {
	for _, c := range []struct {
		r    pipeline.Range
		want string
	}{
		{pipeline.Range{Group: "sluice", Topic: "payments", Partition: 3, First: 10, Last: 19}, "sluice:payments:3:10-19"},
		{pipeline.Range{Group: "g", Topic: "shipments", Partition: 0, First: 0, Last: 0}, "g:shipments:0:0-0"},
		{pipeline.Range{Group: "a:b", Topic: "t.x-y_z", Partition: 2147483647, First: 9223372036854775806, Last: 9223372036854775807},
			"a:b:t.x-y_z:2147483647:9223372036854775806-9223372036854775807"},
		{pipeline.Range{}, "::0:0-0"},
	} {
		if got := pipeline.Token(c.r); got != c.want {
			t.Errorf("Token(%+v) = %q, want %q", c.r, got, c.want)
		}
	}
	// Distinct ranges give distinct tokens (Kafka topic names cannot hold ':').
	seen := map[string]pipeline.Range{}
	for _, g := range []string{"g", "g:p", "g1"} {
		for _, tp := range []string{"p", "p1", "payments"} {
			for p := range int32(3) {
				for f := range int64(12) {
					for _, l := range []int64{f, f + 1, f + 10, f * 11} {
						r := pipeline.Range{Group: g, Topic: tp, Partition: p, First: f, Last: l}
						tok := pipeline.Token(r)
						if prev, ok := seen[tok]; ok && prev != r {
							t.Fatalf("Token(%+v) = Token(%+v) = %q", r, prev, tok)
						}
						seen[tok] = r
					}
				}
			}
		}
	}
}

func TestFlushByMaxRows(t *testing.T) {
	e := newEnv(t)
	p := e.pipeline(pipeline.Options{MaxRows: 3})
	r := startWorker(t, t.Context(), p.Worker(payments, 0))
	var recs []*kgo.Record
	for i := range int64(10) {
		recs = append(recs, rec(payments, 0, i, t0.Add(time.Duration(i)*time.Second), payJSON(fmt.Sprint("e", i), t0, "m1", 100)))
	}
	r.send(t, recs[:4]...)
	r.send(t, recs[4:]...)
	err, marks := r.finish(t)
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if want := []int64{2, 5, 8, 9}; !slices.Equal(marks, want) {
		t.Fatalf("marks %v, want %v", marks, want)
	}
	stored, _ := e.sink.snapshot()
	wantTok := []string{"g:payments:0:0-2", "g:payments:0:3-5", "g:payments:0:6-8", "g:payments:0:9-9"}
	if got := tokens(stored); !slices.Equal(got, wantTok) {
		t.Fatalf("tokens %v, want %v", got, wantTok)
	}
	if got, want := e.ledger.all(), []pipeline.Range{rng(0, 2), rng(3, 5), rng(6, 8), rng(9, 9)}; !slices.Equal(got, want) {
		t.Fatalf("ledger %v, want %v", got, want)
	}
	for i, sc := range stored {
		want := 3
		if i == 3 {
			want = 1
		}
		var raw schemas.Block
		for _, b := range sc.blocks {
			if b.Table == "payments" {
				raw = b
			}
		}
		if raw.Rows != want {
			t.Errorf("store %s: %d raw rows, want %d", sc.token, raw.Rows, want)
		}
	}
	s := p.Stats()
	if s.Records.Load() != 10 || s.Valid.Load() != 10 || s.Flushes.Load() != 4 || s.Committable.Load() != 10 || s.Replays.Load() != 0 {
		t.Fatalf("stats records %d valid %d flushes %d committable %d replays %d",
			s.Records.Load(), s.Valid.Load(), s.Flushes.Load(), s.Committable.Load(), s.Replays.Load())
	}
}

// nextRecorded makes e's ledger note when the range that starts at offset 2 is
// recorded, and returns a wait for that, for a store that must overlap the next
// batch's ledger write (the test fails if it does not come within guard).
func nextRecorded(t *testing.T, e *testEnv) func(token string) {
	second := make(chan struct{})
	e.ledger.intend = func(_ context.Context, r pipeline.Range) (bool, error) {
		if r.First == 2 {
			close(second)
		}
		return true, nil
	}
	return func(token string) {
		if !arrives(second) {
			t.Errorf("store of %s: the next range was not recorded meanwhile", token)
		}
	}
}

// arrives reports whether ch delivers within guard.
func arrives(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-time.After(guard):
		return false
	}
}

// pays returns one valid payment record of partition 0 at each of offs.
func pays(offs ...int64) []*kgo.Record {
	var recs []*kgo.Record
	for _, o := range offs {
		recs = append(recs, rec(payments, 0, o, t0, payJSON(fmt.Sprint("e", o), t0, "m1", 100)))
	}
	return recs
}

// The ledger write of a batch does not wait for the insert of the batch before it:
// the first insert is held until the second range is recorded. Each range is still
// recorded before its own insert, and the batches are stored and marked in order.
func TestLedgerWriteOverlapsPreviousStore(t *testing.T) {
	e := newEnv(t)
	waitNext := nextRecorded(t, e)
	ranges := map[string]pipeline.Range{"g:payments:0:0-1": rng(0, 1), "g:payments:0:2-3": rng(2, 3), "g:payments:0:4-4": rng(4, 4)}
	e.sink.before = func(_ context.Context, call int, token string) error {
		if !slices.Contains(e.ledger.all(), ranges[token]) {
			t.Errorf("store of %s before its range was recorded", token)
		}
		if call == 0 {
			waitNext(token)
		}
		return nil
	}
	p := e.pipeline(pipeline.Options{MaxRows: 2})
	r := startWorker(t, t.Context(), p.Worker(payments, 0))
	r.send(t, pays(0, 1, 2, 3, 4)...)
	err, marks := r.finish(t)
	if err != nil || !slices.Equal(marks, []int64{1, 3, 4}) {
		t.Fatalf("Run = %v, marks %v; want marks [1 3 4]", err, marks)
	}
	stored, calls := e.sink.snapshot()
	want := []string{"g:payments:0:0-1", "g:payments:0:2-3", "g:payments:0:4-4"}
	if got := tokens(stored); !slices.Equal(got, want) || !slices.Equal(calls, want) {
		t.Fatalf("stored %v, calls %v; want %v once each, in order", got, calls, want)
	}
}

// A batch whose store fails ends Run, and the batch after it, already recorded in
// the ledger, is neither stored nor marked: its mark would commit the failed
// batch's offsets too.
func TestFailedStoreStopsTheNextBatch(t *testing.T) {
	e := newEnv(t)
	waitNext := nextRecorded(t, e)
	e.sink.before = func(_ context.Context, call int, token string) error {
		if call == 0 {
			waitNext(token)
			panic("sink bug")
		}
		return nil
	}
	p := e.pipeline(pipeline.Options{MaxRows: 2})
	r := startWorker(t, t.Context(), p.Worker(payments, 0))
	r.send(t, pays(0, 1, 2, 3)...)
	err, marks := r.wait(t)
	if err == nil || !strings.Contains(err.Error(), "sink bug") || len(marks) != 0 {
		t.Fatalf("Run = %v, marks %v; want the store's panic and no mark", err, marks)
	}
	if _, calls := e.sink.snapshot(); !slices.Equal(calls, []string{"g:payments:0:0-1"}) {
		t.Fatalf("store calls %v, want only the failed one", calls)
	}
}

func TestFlushByInterval(t *testing.T) {
	e := newEnv(t)
	p := e.pipeline(pipeline.Options{FlushInterval: 5 * time.Millisecond, MaxRows: 1000})
	r := startWorker(t, t.Context(), p.Worker(shipments, 2))
	r.send(t, rec(shipments, 2, 40, t0, shipJSON("s40", t0, "h1", 10)), rec(shipments, 2, 41, t0, shipJSON("s41", t0, "h1", 5)))
	if m := r.nextMark(t); m != 41 {
		t.Fatalf("mark %d, want 41", m)
	}
	stored, _ := e.sink.snapshot()
	if got := tokens(stored); !slices.Equal(got, []string{"g:shipments:2:40-41"}) {
		t.Fatalf("tokens %v", got)
	}
	tot := e.sink.totals(t)
	if n := eventsTotal(tot); n != 2 {
		t.Fatalf("%d events stored, want 2: %v", n, tot)
	}
	// A later slice is flushed by the timer too, under its own range.
	r.send(t, rec(shipments, 2, 42, t0, shipJSON("s42", t0, "h2", 1)))
	if m := r.nextMark(t); m != 42 {
		t.Fatalf("mark %d, want 42", m)
	}
	err, marks := r.finish(t)
	if err != nil || len(marks) != 0 {
		t.Fatalf("Run = %v, extra marks %v", err, marks)
	}
	stored, _ = e.sink.snapshot()
	if got := tokens(stored); !slices.Equal(got, []string{"g:shipments:2:40-41", "g:shipments:2:42-42"}) {
		t.Fatalf("tokens %v", got)
	}
}

// TestCatchingUpBatchStaysOpen: a batch that comes due while its partition holds
// more records than the worker has (fetched slices wait for it, or the latest
// fetch's high watermark is beyond the batch) is not cut at the interval; the
// slices that follow join it, and it is flushed once the partition has caught up.
func TestCatchingUpBatchStaysOpen(t *testing.T) {
	signal := func(asked chan struct{}) {
		select {
		case asked <- struct{}{}:
		default:
		}
	}
	for _, tc := range []struct {
		name string
		// behind makes w ask for its backlog through a function that signals asked
		// and reports the partition behind while behind is set.
		behind func(w *pipeline.Worker, behind *atomic.Bool, asked chan struct{})
	}{
		{"fetches queued", func(w *pipeline.Worker, behind *atomic.Bool, asked chan struct{}) {
			w.SetBacklog(func() int {
				n := 0
				if behind.Load() {
					n = 3
				}
				signal(asked) // after reading behind: the test may change it once signalled
				return n
			})
		}},
		{"high watermark beyond", func(w *pipeline.Worker, behind *atomic.Bool, asked chan struct{}) {
			w.SetBacklog(func() int { return 0 })
			w.SetHighWatermark(func() int64 {
				high := int64(44)
				if behind.Load() {
					high = 100
				}
				signal(asked)
				return high
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			p := e.pipeline(pipeline.Options{FlushInterval: time.Second, MaxRows: 1000})
			w := p.Worker(shipments, 2)
			var behind atomic.Bool
			asked := make(chan struct{}, 1)
			tc.behind(w, &behind, asked)
			r := startWorker(t, t.Context(), w)
			// The first batch is never held (its rows show the partition flows).
			r.send(t, rec(shipments, 2, 40, t0, shipJSON("s40", t0, "h1", 10)))
			if m := r.nextMark(t); m != 40 {
				t.Fatalf("mark %d, want 40", m)
			}
			behind.Store(true)
			due := func() { // the batch came due behind: it stays open
				t.Helper()
				if !arrives(asked) {
					t.Fatal("the due batch never asked for the backlog")
				}
			}
			r.send(t, rec(shipments, 2, 41, t0, shipJSON("s41", t0, "h1", 5)))
			due()
			r.send(t, rec(shipments, 2, 42, t0, shipJSON("s42", t0, "h2", 1)))
			due() // still due after this slice, still catching up
			behind.Store(false)
			r.send(t, rec(shipments, 2, 43, t0, shipJSON("s43", t0, "h2", 1)))
			if m := r.nextMark(t); m != 43 {
				t.Fatalf("mark %d, want 43", m)
			}
			err, marks := r.finish(t)
			if err != nil || len(marks) != 0 {
				t.Fatalf("Run = %v, extra marks %v", err, marks)
			}
			stored, _ := e.sink.snapshot()
			if got := tokens(stored); !slices.Equal(got, []string{"g:shipments:2:40-40", "g:shipments:2:41-43"}) {
				t.Fatalf("tokens %v, want the slices sent while catching up in one batch", got)
			}
		})
	}
}

// A batch that reaches the end of a backlog (the batches before were cut at their
// size limits while more records waited) is flushed at once, not at its interval;
// a partition that keeps up (each slice ends at the high watermark) still waits for
// the interval, so its batches are not cut small.
func TestBacklogEndFlushesAtOnce(t *testing.T) {
	t.Run("backlog", func(t *testing.T) {
		e := newEnv(t)
		p := e.pipeline(pipeline.Options{MaxRows: 3}) // and an interval of an hour
		w := p.Worker(payments, 0)
		w.SetHighWatermark(func() int64 { return 10 })
		r := startWorker(t, t.Context(), w)
		r.send(t, pays(0, 1, 2, 3, 4)...)
		r.send(t, pays(5, 6)...)
		r.send(t, pays(7, 8, 9)...) // the last cut is in the last slice
		for _, want := range []int64{2, 5, 8, 9} {
			if m := r.nextMark(t); m != want {
				t.Fatalf("mark %d, want %d", m, want)
			}
		}
		if err, marks := r.finish(t); err != nil || len(marks) != 0 {
			t.Fatalf("Run = %v, extra marks %v", err, marks)
		}
	})
	t.Run("keeping up", func(t *testing.T) {
		e := newEnv(t)
		p := e.pipeline(pipeline.Options{MaxRows: 3})
		w := p.Worker(payments, 0)
		var high atomic.Int64
		w.SetHighWatermark(high.Load)
		w.SetBacklog(func() int { return 0 })
		r := startWorker(t, t.Context(), w)
		for _, recs := range [][]*kgo.Record{pays(0, 1, 2, 3, 4), pays(5), pays(6)} {
			high.Store(recs[len(recs)-1].Offset + 1)
			r.send(t, recs...)
		}
		err, marks := r.finish(t)
		if err != nil || !slices.Equal(marks, []int64{2, 5, 6}) {
			t.Fatalf("Run = %v, marks %v; want [2 5 6]", err, marks)
		}
		stored, _ := e.sink.snapshot()
		if got, want := tokens(stored), []string{"g:payments:0:0-2", "g:payments:0:3-5", "g:payments:0:6-6"}; !slices.Equal(got, want) {
			t.Fatalf("tokens %v, want %v", got, want)
		}
	})
}

func TestDrainOnClose(t *testing.T) {
	e := newEnv(t)
	p := e.pipeline(pipeline.Options{MaxRows: 1000})
	r := startWorker(t, t.Context(), p.Worker(payments, 1))
	for i := int64(5); i < 11; i += 2 {
		r.send(t, rec(payments, 1, i, t0, payJSON(fmt.Sprint("e", i), t0, "m", i)), rec(payments, 1, i+1, t0, payJSON(fmt.Sprint("e", i+1), t0, "m", i+1)))
	}
	if _, calls := e.sink.snapshot(); len(calls) != 0 {
		t.Fatalf("stores before close: %v", calls)
	}
	err, marks := r.finish(t)
	if err != nil || !slices.Equal(marks, []int64{10}) {
		t.Fatalf("Run = %v, marks %v; want nil, [10]", err, marks)
	}
	stored, _ := e.sink.snapshot()
	if got := tokens(stored); !slices.Equal(got, []string{"g:payments:1:5-10"}) {
		t.Fatalf("tokens %v", got)
	}
	tot := e.sink.totals(t)
	var sum uint64
	for k, v := range tot {
		if strings.HasPrefix(k, "payments_1m") {
			sum += v[1]
		}
	}
	if sum != 5+6+7+8+9+10 {
		t.Fatalf("amount sum %d: %v", sum, tot)
	}
}

// An empty input closes without storing or marking anything.
func TestDrainEmpty(t *testing.T) {
	e := newEnv(t)
	p := e.pipeline(pipeline.Options{})
	r := startWorker(t, t.Context(), p.Worker(payments, 0))
	r.send(t) // an empty slice is ignored
	err, marks := r.finish(t)
	if err != nil || len(marks) != 0 || len(e.sink.calls) != 0 {
		t.Fatalf("Run = %v, marks %v, stores %v", err, marks, e.sink.calls)
	}
}

func TestUnknownTopicHasNoWorker(t *testing.T) {
	e := newEnv(t)
	if w := e.pipeline(pipeline.Options{}).Worker("orders", 0); w != nil {
		t.Fatal("worker for an unconfigured topic")
	}
}

var invalidValues = [][]byte{
	[]byte(`{"event_id":`),
	[]byte(`not json`),
	[]byte(`{"event_id":"x","event_type":"payment.captured","occurred_at":"2026-03-01T10:00:00Z","amount_minor":1,"currency":"INR"}`), // no merchant
	[]byte(`{"event_id":"y","event_type":"payment.nope","occurred_at":"2026-03-01T10:00:00Z","merchant_id":"m","amount_minor":1,"currency":"INR"}`),
	[]byte(`{"event_id":"z","event_type":"payment.captured","occurred_at":"2026-03-01T10:00:00Z","merchant_id":"m","amount_minor":-1,"currency":"INR"}`),
}

// Records with only invalid events are marked, without a store, once their dead
// letters are acknowledged.
func TestInvalidOnlyMarkedAfterDeadLettersAcked(t *testing.T) {
	e := newEnv(t)
	e.dlq.gate = make(chan struct{})
	p := e.pipeline(pipeline.Options{})
	var ackedAtMark []int
	w := p.Worker(payments, 0)
	in := make(chan []*kgo.Record)
	done := make(chan error, 1)
	go func() {
		done <- w.Run(t.Context(), in, func(r *kgo.Record) {
			_, acked := e.dlq.counts()
			ackedAtMark = append(ackedAtMark, acked, int(r.Offset))
		})
	}()
	var recs []*kgo.Record
	for i, v := range invalidValues {
		recs = append(recs, rec(payments, 0, int64(i), t0, v))
	}
	in <- recs[:2]
	in <- recs[2:]
	close(in)
	close(e.dlq.gate)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(guard):
		t.Fatal("Run did not return")
	}
	if want := []int{len(invalidValues), len(invalidValues) - 1}; !slices.Equal(ackedAtMark, want) {
		t.Fatalf("(acked, offset) at mark = %v, want %v", ackedAtMark, want)
	}
	if len(e.sink.calls) != 0 || len(e.ledger.all()) != 0 {
		t.Fatalf("stores %v, ledger %v for invalid records", e.sink.calls, e.ledger.all())
	}
	e.dlq.mu.Lock()
	reasons := make([]string, 0, len(e.dlq.sent))
	for _, d := range e.dlq.sent {
		reasons = append(reasons, fmt.Sprint(d.offset, " ", d.reason))
	}
	e.dlq.mu.Unlock()
	want := []string{"0 " + schemas.ReasonMalformed, "1 " + schemas.ReasonMalformed, "2 " + schemas.ReasonMissingField,
		"3 " + schemas.ReasonBadEnum, "4 " + schemas.ReasonOutOfRange}
	if !slices.Equal(reasons, want) {
		t.Fatalf("dead letters %v, want %v", reasons, want)
	}
	s := p.Stats()
	if s.Invalid.Load() != 5 || s.Valid.Load() != 0 || s.Committable.Load() != 5 || s.Flushes.Load() != 0 {
		t.Fatalf("stats invalid %d valid %d committable %d flushes %d", s.Invalid.Load(), s.Valid.Load(), s.Committable.Load(), s.Flushes.Load())
	}
}

// In a mixed batch the dead letters are acknowledged before the range is recorded and
// stored, and the timer flush waits for them too.
func TestMixedBatchDeadLettersBeforeStore(t *testing.T) {
	e := newEnv(t)
	e.dlq.gate = make(chan struct{})
	var ackedAtIntend []int
	e.ledger.intend = func(context.Context, pipeline.Range) (bool, error) {
		_, acked := e.dlq.counts()
		ackedAtIntend = append(ackedAtIntend, acked)
		return true, nil
	}
	p := e.pipeline(pipeline.Options{FlushInterval: time.Millisecond})
	r := startWorker(t, t.Context(), p.Worker(payments, 0))
	r.send(t, rec(payments, 0, 0, t0, payJSON("a", t0, "m", 1)), rec(payments, 0, 1, t0, invalidValues[0]),
		rec(payments, 0, 2, t0, payJSON("b", t0, "m", 2)), rec(payments, 0, 3, t0, invalidValues[3]))
	close(e.dlq.gate)
	if m := r.nextMark(t); m != 3 {
		t.Fatalf("mark %d, want 3", m)
	}
	if !slices.Equal(ackedAtIntend, []int{2}) {
		t.Fatalf("dead letters acked at Intend: %v, want [2]", ackedAtIntend)
	}
	if err, _ := r.finish(t); err != nil {
		t.Fatal(err)
	}
	if n := eventsTotal(e.sink.totals(t)); n != 2 {
		t.Fatalf("%d events stored, want 2", n)
	}
}

// A dead letter that fails is sent again with backoff until it is delivered: the
// partition is reported blocked meanwhile, nothing of its batch is stored or marked,
// and it resumes by itself; a dead letter that was delivered is not sent again.
func TestDeadLetterFailureBlocksUntilDelivered(t *testing.T) {
	e := newEnv(t)
	boom := errors.New("TOPIC_AUTHORIZATION_FAILED")
	e.dlq.setErr(boom)
	p := e.pipeline(pipeline.Options{RetryMin: time.Millisecond, RetryMax: 4 * time.Millisecond})
	r := startWorker(t, t.Context(), p.Worker(payments, 0))
	r.send(t, rec(payments, 0, 0, t0, payJSON("a", t0, "m", 1)), rec(payments, 0, 1, t0, invalidValues[1]), rec(payments, 0, 2, t0, invalidValues[2]))
	deadline := time.Now().Add(guard)
	for e.dlq.sentOffsets()[1] < 4 || len(p.Blocked()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("dead letters sent %v, blocked %v: want several retries of a blocked partition", e.dlq.sentOffsets(), p.Blocked())
		}
		time.Sleep(time.Millisecond)
	}
	b := p.Blocked()
	if len(b) != 1 || b[0].Topic != payments || b[0].Partition != 0 || b[0].Reason != pipeline.BlockedDeadLetter || !errors.Is(b[0].Err, boom) {
		t.Fatalf("Blocked = %+v", b)
	}
	if _, calls := e.sink.snapshot(); len(calls) != 0 || len(r.marks) != 0 {
		t.Fatalf("stores %v, %d marks while the dead letters are undelivered", calls, len(r.marks))
	}
	e.dlq.setErr(nil)
	if m := r.nextMark(t); m != 2 {
		t.Fatalf("first mark %d, want 2", m)
	}
	if err, _ := r.finish(t); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if b := p.Blocked(); len(b) != 0 {
		t.Fatalf("still blocked after delivery: %+v", b)
	}
	sent := e.dlq.sentOffsets()
	if sent[0] != 0 || sent[1] < 2 || sent[2] < 2 {
		t.Fatalf("sends by offset %v", sent)
	}
}

// A store that fails for good (here a panic in the sink) ends Run at once, although
// no further record arrives to trigger the next flush.
func TestFailedStoreEndsRunWithoutMoreInput(t *testing.T) {
	e := newEnv(t)
	e.sink.after = func(context.Context, int, string) error { panic("sink bug") }
	p := e.pipeline(pipeline.Options{FlushInterval: time.Millisecond})
	r := startWorker(t, t.Context(), p.Worker(payments, 0))
	r.send(t, rec(payments, 0, 0, t0, payJSON("a", t0, "m", 1)))
	err, marks := r.wait(t)
	if err == nil || !strings.Contains(err.Error(), "sink bug") || len(marks) != 0 {
		t.Fatalf("Run = %v, marks %v; want the store's panic and no mark", err, marks)
	}
}

// A store whose outcome is unknown is retried with the same token, so the sink keeps
// one copy; with AtLeastOnce every attempt has a fresh token and the rows double.
func TestRetryUnknownOutcome(t *testing.T) {
	for _, alo := range []bool{false, true} {
		t.Run(fmt.Sprint("atLeastOnce=", alo), func(t *testing.T) {
			e := newEnv(t)
			e.sink.after = func(_ context.Context, call int, _ string) error {
				if call == 0 {
					return errors.New("connection reset after insert")
				}
				return nil
			}
			p := e.pipeline(pipeline.Options{AtLeastOnce: alo})
			r := startWorker(t, t.Context(), p.Worker(payments, 0))
			r.send(t, rec(payments, 0, 7, t0, payJSON("a", t0, "m", 1)), rec(payments, 0, 8, t0, payJSON("b", t0, "m", 2)))
			err, marks := r.finish(t)
			if err != nil || !slices.Equal(marks, []int64{8}) {
				t.Fatalf("Run = %v, marks %v", err, marks)
			}
			_, calls := e.sink.snapshot()
			if len(calls) != 2 {
				t.Fatalf("store calls %v, want 2", calls)
			}
			if p.Stats().StoreRetries.Load() != 1 {
				t.Fatalf("StoreRetries %d", p.Stats().StoreRetries.Load())
			}
			n := eventsTotal(e.sink.totals(t))
			if !alo {
				if calls[0] != calls[1] || calls[0] != "g:payments:0:7-8" || n != 2 {
					t.Fatalf("tokens %v, %d events; want the same token twice and 2 events", calls, n)
				}
				return
			}
			if calls[0] == calls[1] || !strings.HasPrefix(calls[0], "g:payments:0:7-8@") || n != 4 {
				t.Fatalf("at-least-once tokens %v, %d events; want fresh tokens and 4 events", calls, n)
			}
			if len(e.ledger.all()) != 0 {
				t.Fatalf("at-least-once wrote the ledger: %v", e.ledger.all())
			}
		})
	}
}

// Cancelling ctx returns at once without flushing or marking.
func TestCancelDoesNotFlush(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	p := e.pipeline(pipeline.Options{})
	r := startWorker(t, ctx, p.Worker(payments, 0))
	r.send(t, rec(payments, 0, 0, t0, payJSON("a", t0, "m", 1)))
	cancel()
	err, marks := r.wait(t)
	if !errors.Is(err, context.Canceled) || len(marks) != 0 || len(e.sink.calls) != 0 {
		t.Fatalf("Run = %v, marks %v, stores %v; want Canceled and nothing stored", err, marks, e.sink.calls)
	}
}

func TestProducerDuplicatesWithinHorizon(t *testing.T) {
	e := newEnv(t)
	p := e.pipeline(pipeline.Options{DedupHorizon: time.Hour, MaxRows: 2})
	r := startWorker(t, t.Context(), p.Worker(payments, 0))
	// e1 again in the same batch, and again in a later batch, within the horizon.
	r.send(t, rec(payments, 0, 0, t0, payJSON("e1", t0, "m", 10)), rec(payments, 0, 1, t0.Add(time.Second), payJSON("e1", t0, "m", 10)))
	r.send(t, rec(payments, 0, 2, t0.Add(2*time.Second), payJSON("e2", t0, "m", 20)), rec(payments, 0, 3, t0.Add(time.Hour), payJSON("e1", t0, "m", 10)))
	err, marks := r.finish(t)
	if err != nil || marks[len(marks)-1] != 3 {
		t.Fatalf("Run = %v, marks %v", err, marks)
	}
	if d := p.Stats().Duplicates.Load(); d != 2 {
		t.Fatalf("Duplicates %d, want 2", d)
	}
	tot := e.sink.totals(t)
	if n := eventsTotal(tot); n != 2 {
		t.Fatalf("%d events stored, want 2: %v", n, tot)
	}
	ids := storedIDs(t, e.sink)
	if want := []string{"0 e1", "2 e2"}; !slices.Equal(ids, want) {
		t.Fatalf("stored ids %v, want %v", ids, want)
	}
}

func TestProducerDuplicatesBeyondHorizon(t *testing.T) {
	e := newEnv(t)
	const horizon = time.Hour
	p := e.pipeline(pipeline.Options{DedupHorizon: horizon, MaxRows: 1})
	r := startWorker(t, t.Context(), p.Worker(payments, 0))
	far := t0.Add(horizon + dedupSlack + time.Minute)
	r.send(t, rec(payments, 0, 0, t0, payJSON("e1", t0, "m", 10)), rec(payments, 0, 1, t0.Add(time.Minute), payJSON("e2", t0, "m", 1)))
	r.send(t, rec(payments, 0, 2, far, payJSON("e1", t0, "m", 10)))
	if err, _ := r.finish(t); err != nil {
		t.Fatal(err)
	}
	if d := p.Stats().Duplicates.Load(); d != 0 {
		t.Fatalf("Duplicates %d, want 0", d)
	}
	if n := eventsTotal(e.sink.totals(t)); n != 3 {
		t.Fatalf("%d events stored, want 3 (e1 twice)", n)
	}
}

// After a restart the filter is rebuilt from the ids stored before the first offset,
// so a duplicate across the restart boundary is dropped: from the event-id rows, or
// from the raw rows of a topic whose raw rows hold the ids (which then stores no
// event-id rows).
func TestProducerDuplicateAcrossRestart(t *testing.T) {
	for _, tc := range []struct{ withSeen, raw bool }{{true, false}, {false, false}, {true, true}, {false, true}} {
		withSeen := tc.withSeen
		t.Run(fmt.Sprint("seenIDs=", withSeen, ",raw=", tc.raw), func(t *testing.T) {
			e := newEnv(t)
			o := pipeline.Options{DedupHorizon: time.Hour}
			if tc.raw {
				o.RawIDs = map[string]pipeline.RawIDs{payments: {Table: "payments", Column: "event_id"}}
			}
			a := startWorker(t, t.Context(), e.pipeline(o).Worker(payments, 0))
			a.send(t, rec(payments, 0, 0, t0, payJSON("e0", t0, "m", 1)), rec(payments, 0, 1, t0.Add(time.Second), payJSON("e1", t0, "m", 2)))
			if err, _ := a.finish(t); err != nil {
				t.Fatal(err)
			}
			calls := &seenCalls{inner: e.seen}
			if !withSeen {
				calls.inner = nil // the control: nothing loaded, so the duplicate is stored
			}
			e.seen = calls
			pb := e.pipeline(o)
			b := startWorker(t, t.Context(), pb.Worker(payments, 0))
			first := t0.Add(time.Minute)
			b.send(t, rec(payments, 0, 2, first, payJSON("e1", t0, "m", 2)), rec(payments, 0, 3, first, payJSON("e2", t0, "m", 3)))
			if err, _ := b.finish(t); err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprint(testGroup, payments, 0, 2, first.Add(-time.Hour-dedupSlack).UnixNano()); calls.args != want {
				t.Errorf("SeenIDs args %q, want %q", calls.args, want)
			}
			n := eventsTotal(e.sink.totals(t))
			if withSeen && (n != 3 || pb.Stats().Duplicates.Load() != 1) {
				t.Fatalf("%d events, %d duplicates; want 3 and 1", n, pb.Stats().Duplicates.Load())
			}
			if !withSeen && n != 4 {
				t.Fatalf("control: %d events, want 4", n)
			}
			if ids := storedIDs(t, e.sink); tc.raw && len(ids) != 0 || !tc.raw && uint64(len(ids)) != n {
				t.Fatalf("event-id rows %v for %d events", ids, n)
			}
			if calls.raw != o.RawIDs[payments] {
				t.Errorf("SeenIDs read raw rows %+v, want %+v", calls.raw, o.RawIDs[payments])
			}
		})
	}
}

type seenCalls struct {
	inner pipeline.SeenIDs
	args  string
	raw   pipeline.RawIDs
}

func (s *seenCalls) SeenIDs(ctx context.Context, q pipeline.IDQuery, fn func(string, int64)) error {
	s.args = fmt.Sprint(q.Group, q.Topic, q.TopicID, q.Partition, q.Before, q.Since.UnixNano())
	s.raw = q.Raw
	if s.inner == nil {
		return nil
	}
	return s.inner.SeenIDs(ctx, q, fn)
}

// storedIDs lists "offset id" of every stored event-ids row.
func storedIDs(t *testing.T, s *memSink) []string {
	t.Helper()
	stored, _ := s.snapshot()
	var out []string
	for _, sc := range stored {
		for _, b := range sc.blocks {
			if b.Table != pipeline.EventIDsTable {
				continue
			}
			offs, ids := column[int64](t, b, "offset"), column[string](t, b, "event_id")
			for i := range b.Rows {
				out = append(out, fmt.Sprint(offs[i], " ", ids[i]))
			}
		}
	}
	return out
}

// TestAllInvalidPartitionWarnsOnce: a partition whose records are all invalid (the
// wrong topic wired to the type) gets one warning with the reasons, not one per
// batch, while every record is still dead-lettered.
func TestAllInvalidPartitionWarnsOnce(t *testing.T) {
	e := newEnv(t)
	var logs testsupport.SyncBuffer
	o := pipeline.Options{Group: testGroup, MaxRows: 100, RetryMin: time.Millisecond, RetryMax: 4 * time.Millisecond}
	o.Topics = map[string]func(schemas.Options) schemas.Batch{payments: schemas.NewPaymentBatch}
	o.FlushInterval = time.Hour
	p := pipeline.New(o, pipeline.Deps{Sink: e.sink, Ledger: e.ledger, SeenIDs: e.seen, DLQ: e.dlq,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	r := startWorker(t, t.Context(), p.Worker(payments, 0))
	// Shipments on the payments topic: 3,000 records in slices of 100.
	for off := int64(0); off < 3000; off += 100 {
		recs := make([]*kgo.Record, 100)
		for i := range recs {
			recs[i] = rec(payments, 0, off+int64(i), t0, shipJSON(fmt.Sprintf("s%d", off+int64(i)), t0, "hub1", 100))
		}
		r.send(t, recs...)
	}
	if err, _ := r.finish(t); err != nil {
		t.Fatal(err)
	}
	if got := p.Stats().Invalid.Load(); got != 3000 {
		t.Fatalf("%d dead-lettered, want 3000", got)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "top_reasons=") {
		t.Errorf("%d warnings, want one naming the top reasons:\n%s", n, logs.String())
	}
}

// Once the worker takes the next slice it is done with the previous one, whose
// records and buffers the client may then reuse (consumers.Worker): a batch still
// being stored marks its last record, and a dead letter that failed is sent again,
// with what they held before.
func TestRecordsReusableOnceTheNextSliceIsTaken(t *testing.T) {
	e := newEnv(t)
	e.dlq.setErr(errors.New("broker down"))
	p := e.pipeline(pipeline.Options{MaxRows: 2, RetryMin: time.Millisecond, RetryMax: 4 * time.Millisecond})
	r := startWorker(t, t.Context(), p.Worker(payments, 0))
	first := []*kgo.Record{rec(payments, 0, 0, t0, payJSON("a", t0, "m", 1)), rec(payments, 0, 1, t0, bytes.Clone(invalidValues[2])),
		rec(payments, 0, 2, t0, payJSON("b", t0, "m", 2))}
	r.send(t, first...) // a batch of two events, stored once its dead letter is delivered
	r.send(t, rec(payments, 0, 3, t0, payJSON("c", t0, "m", 3)))
	for _, rec := range first { // as the client reuses them
		for i := range rec.Value {
			rec.Value[i] = 'x'
		}
		*rec = kgo.Record{}
	}
	e.dlq.setErr(nil)
	err, marks := r.finish(t)
	if err != nil || !slices.Equal(marks, []int64{2, 3}) {
		t.Fatalf("Run = %v, marks %v; want marks [2 3]", err, marks)
	}
	if n := eventsTotal(e.sink.totals(t)); n != 3 {
		t.Fatalf("%d events stored, want 3", n)
	}
	e.dlq.wait()
	e.dlq.mu.Lock()
	defer e.dlq.mu.Unlock()
	if len(e.dlq.sent) < 2 {
		t.Fatalf("dead letter sent %d times, want a failure and a retry", len(e.dlq.sent))
	}
	for _, d := range e.dlq.sent {
		if d.offset != 1 || d.value != string(invalidValues[2]) {
			t.Fatalf("dead letter sent as offset %d value %q, want offset 1 value %q", d.offset, d.value, invalidValues[2])
		}
	}
}
