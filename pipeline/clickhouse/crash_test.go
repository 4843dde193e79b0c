package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/schemas"
)

// crashingSink stores through the Client and then, while crashes lasts, deletes
// every row of the tables it was given (the test's tables hold that flush alone)
// and fails as a lost connection would: the flush's tokens stay in the
// deduplication logs while its rows are gone, as when the server dies between
// writing a token and activating its part. died, when set, is called then too
// (the worker's process dies with it).
type crashingSink struct {
	t       *testing.T
	c       *Client
	tables  []string
	crashes atomic.Int32
	died    func()
}

func (s *crashingSink) Store(ctx context.Context, token string, blocks []schemas.Block) error {
	if err := s.c.Store(ctx, token, blocks); err != nil {
		return err
	}
	if s.crashes.Add(-1) < 0 {
		return nil
	}
	for _, table := range s.tables {
		exec(s.t, s.c, "DELETE FROM "+qualified(s.c.db, table)+" WHERE 1 SETTINGS lightweight_deletes_sync = 2")
	}
	if s.died != nil {
		s.died()
	}
	return errors.New("clickhouse: insert: read tcp: connection reset by peer")
}

// countingRepairer counts the Repair calls it passes on.
type countingRepairer struct {
	next  pipeline.Repairer
	calls atomic.Int32
}

func (r *countingRepairer) Repair(ctx context.Context, rg pipeline.Range, blocks []schemas.Block) (int, int, error) {
	r.calls.Add(1)
	return r.next.Repair(ctx, rg, blocks)
}

const crashGroup = "g"

// crashPipeline is a pipeline of the built-in payments over c with sink.
func crashPipeline(c *Client, sink pipeline.Sink, repair pipeline.Repairer) *pipeline.Pipeline {
	pay := schemas.BuiltinEventTypes()[0]
	return pipeline.New(pipeline.Options{
		Group:         crashGroup,
		Topics:        map[string]func(schemas.Options) schemas.Batch{pay.Topic(): pay.NewBatch},
		Batch:         schemas.Options{Raw: true},
		FlushInterval: time.Hour,
		DedupHorizon:  time.Hour,
		RetryMin:      time.Millisecond, RetryMax: 4 * time.Millisecond,
	}, pipeline.Deps{Sink: sink, Repair: repair, Ledger: c, SeenIDs: c})
}

// crashRecords are n payments of partition 0, one merchant, amounts 1..n.
func crashRecords(n int) []*kgo.Record {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: "payments", Partition: 0, Offset: int64(i), Timestamp: at, Value: fmt.Appendf(nil,
			`{"event_id":"e%d","event_type":"payment.captured","occurred_at":%q,"merchant_id":"m","amount_minor":%d,"currency":"INR","method":"upi"}`,
			i, at.Add(time.Duration(i)*time.Second).Format(time.RFC3339), i+1)}
	}
	return recs
}

// runWorker feeds recs to a worker of p on partition 0 in one slice, closes its
// input and returns Run's error and the last offset it marked (-1: none).
func runWorker(ctx context.Context, p *pipeline.Pipeline, recs []*kgo.Record) (error, int64) {
	in := make(chan []*kgo.Record, 1)
	in <- recs
	close(in)
	var last atomic.Int64
	last.Store(-1)
	err := p.Worker("payments", 0).Run(ctx, in, func(r *kgo.Record) { last.Store(r.Offset) })
	return err, last.Load()
}

// checkPayments checks that c holds recs exactly once: raw rows, the rollup's
// events and amount, and the event ids.
func checkPayments(t *testing.T, c *Client, recs []*kgo.Record) {
	t.Helper()
	n := len(recs)
	got := queryStrings(t, c, "SELECT toString(count()), toString(uniqExact(_offset)), toString(sum(amount_minor)) FROM "+qualified(c.db, "payments")+
		" UNION ALL SELECT toString(sum(events)), toString(count()), toString(sum(amount_minor_sum)) FROM "+qualified(c.db, "payments_1m_merged")+
		" UNION ALL SELECT toString(count()), toString(uniqExact(offset)), '' FROM "+qualified(c.db, EventIDsTable))
	// raw: rows, offsets, amount; rollup: events, merged rows, amount; ids: rows, offsets.
	want := []string{fmt.Sprintf("%d|%d|%d", n, n, n*(n+1)/2), fmt.Sprintf("%d|%d|%d", n, 1, n*(n+1)/2), fmt.Sprintf("%d|%d|", n, n)}
	slices.Sort(got)
	slices.Sort(want)
	sameRows(t, "stored", got, want)
}

func paymentTables(t *testing.T, c *Client) []string {
	t.Helper()
	exec(t, c, schemas.TypeDDL(schemas.DDLOptions{Database: c.db}, schemas.BuiltinEventTypes()[0])...)
	return []string{"payments", "payments_1m", EventIDsTable}
}

// A store that loses its rows and its reply is retried (dropped: the token
// stayed), then verified and repaired before the range is marked: every table
// holds the range once.
func TestWorkerRepairsAfterUnknownOutcome(t *testing.T) {
	c := open(t)
	c.checkAll = true // the sink loses rows by DELETE, not by a crash
	sink := &crashingSink{t: t, c: c, tables: paymentTables(t, c)}
	sink.crashes.Store(1)
	rep := &countingRepairer{next: c}
	p := crashPipeline(c, sink, rep)
	recs := crashRecords(40)
	err, last := runWorker(t.Context(), p, recs)
	if err != nil || last != 39 {
		t.Fatalf("Run = %v, last mark %d", err, last)
	}
	checkPayments(t, c, recs)
	if s := p.Stats(); rep.calls.Load() != 1 || s.Verified.Load() != 1 || s.Repaired.Load() != 40+2+40 {
		t.Fatalf("Repair calls %d, Verified %d, Repaired %d rows; want 1, 1, 82 (raw, rollup and its marker, ids)",
			rep.calls.Load(), s.Verified.Load(), s.Repaired.Load())
	}
}

// A flush whose first attempt succeeds is never verified: the happy path costs
// no query.
func TestWorkerHappyPathDoesNotVerify(t *testing.T) {
	c := open(t)
	paymentTables(t, c)
	rep := &countingRepairer{next: c}
	p := crashPipeline(c, c, rep)
	recs := crashRecords(10)
	if err, last := runWorker(t.Context(), p, recs); err != nil || last != 9 {
		t.Fatalf("Run = %v, last mark %d", err, last)
	}
	checkPayments(t, c, recs)
	if rep.calls.Load() != 0 || p.Stats().Verified.Load() != 0 {
		t.Fatalf("Repair called %d times on the happy path", rep.calls.Load())
	}
}

// An owner that dies while its store lost the rows but kept the tokens leaves
// the range to the next owner, whose replay is dropped as a duplicate and then
// verified and repaired.
func TestReplayRepairsLostFlush(t *testing.T) {
	c := open(t)
	c.checkAll = true
	tables := paymentTables(t, c)
	ctx, die := context.WithCancel(t.Context())
	defer die()
	sink := &crashingSink{t: t, c: c, tables: tables, died: die}
	sink.crashes.Store(1)
	recs := crashRecords(25)
	if err, last := runWorker(ctx, crashPipeline(c, sink, c), recs); !errors.Is(err, context.Canceled) || last != -1 {
		t.Fatalf("first owner: Run = %v, last mark %d; want it cancelled before marking", err, last)
	}
	if n := count(t, c, "payments"); n != 0 {
		t.Fatalf("%d raw rows left by the crash, want 0", n)
	}
	rep := &countingRepairer{next: c}
	p := crashPipeline(c, c, rep)
	if err, last := runWorker(t.Context(), p, recs); err != nil || last != 24 {
		t.Fatalf("next owner: Run = %v, last mark %d", err, last)
	}
	checkPayments(t, c, recs)
	if s := p.Stats(); s.Replays.Load() != 1 || rep.calls.Load() != 1 || s.Repaired.Load() != 25+2+25 {
		t.Fatalf("Replays %d, Repair calls %d, Repaired %d; want 1, 1, 52", s.Replays.Load(), rep.calls.Load(), s.Repaired.Load())
	}
}
