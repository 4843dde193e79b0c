package pipeline_test

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/dev/testenv"
	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/pipeline/clickhouse"
	"github.com/sluicehq/sluice/schemas"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// crashingSink stores through Sink and, after its crashAt-th accepted store,
// cancels the owner's context and reports an unknown outcome: the owner dies with
// the batch stored and its records unmarked.
type crashingSink struct {
	pipeline.Sink
	stores  atomic.Int64
	crashAt int64 // 0: never
	cancel  context.CancelFunc
}

func (s *crashingSink) Store(ctx context.Context, token string, blocks []schemas.Block) error {
	if err := s.Sink.Store(ctx, token, blocks); err != nil {
		return err
	}
	if s.stores.Add(1) == s.crashAt {
		s.cancel()
		return context.Canceled
	}
	return nil
}

// forgetful is a SeenIDs that finds nothing: a rebuild that lost the stored ids.
type forgetful struct{}

func (forgetful) SeenIDs(context.Context, pipeline.IDQuery, func(string, int64)) error { return nil }

// owner runs one owner of payments partition 0 over recs on the ClickHouse client c
// until it crashes (crashAt > 0) or drains; it returns the offsets it marked.
func owner(t *testing.T, c *clickhouse.Client, seen pipeline.SeenIDs, o pipeline.Options, recs []*kgo.Record, crashAt int64) []int64 {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	p := pipeline.New(o, pipeline.Deps{Sink: &crashingSink{Sink: c, crashAt: crashAt, cancel: cancel}, Ledger: c, SeenIDs: seen,
		DLQ: &asyncDLQ{}})
	w := p.Worker(payments, 0)
	w.SetTopicID([16]byte{1})
	r := startWorker(t, ctx, w)
	for _, s := range randomSlices(rand.New(rand.NewPCG(uint64(len(recs)), 1)), recs, 20) {
		select {
		case r.in <- s:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	var err error
	var marks []int64
	if ctx.Err() != nil {
		err, marks = r.wait(t)
	} else {
		err, marks = r.finish(t)
	}
	if crashAt == 0 && err != nil {
		t.Fatalf("draining owner: %v", err)
	}
	return marks
}

// paymentsOnClickHouse returns a test database with the payments tables and
// Sluice's own, and a client of it, closed when the test ends.
func paymentsOnClickHouse(t *testing.T) (*testenv.CH, *clickhouse.Client) {
	t.Helper()
	env := testenv.ClickHouse(t)
	c, err := clickhouse.Open(t.Context(), clickhouse.Options{Addrs: []string{env.Addr}, Database: env.Database})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	stmts := append(schemas.TypeDDL(schemas.DDLOptions{Database: env.Database}, schemas.BuiltinEventTypes()[0]),
		clickhouse.DDL(clickhouse.DDLOptions{Database: env.Database})...)
	if err := c.Migrate(t.Context(), stmts); err != nil {
		t.Fatal(err)
	}
	return env, c
}

// A partition with producer duplicates, stored on the embedded ClickHouse by an
// owner that dies after a store and before its mark and by the next owner, which
// replays and rebuilds its filter: every event is stored once whether the ids come
// from the raw rows (no sluice_event_ids rows) or from sluice_event_ids, and a
// rebuild that finds no ids stores duplicates (the check can fail).
func TestReplayOnClickHouse(t *testing.T) {
	pay := schemas.BuiltinEventTypes()[0]
	for _, tc := range []struct {
		name   string
		rawIDs bool
		forget bool
	}{{"raw ids", true, false}, {"event ids", false, false}, {"forgetful", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			env, c := paymentsOnClickHouse(t)
			recs, unique := genPartition(rand.New(rand.NewPCG(7, 7)), 400)
			// Recent timestamps: sluice_event_ids rows are kept a day past the horizon.
			now := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
			for _, r := range recs {
				r.Timestamp = now.Add(r.Timestamp.Sub(t0))
			}
			o := pipeline.Options{Group: testGroup, DedupHorizon: time.Hour, MaxRows: 9, FlushInterval: time.Hour,
				Topics:   map[string]func(schemas.Options) schemas.Batch{payments: pay.NewBatch},
				Batch:    schemas.Options{Raw: true},
				RetryMin: time.Millisecond, RetryMax: 4 * time.Millisecond}
			if tc.rawIDs {
				o.RawIDs = map[string]pipeline.RawIDs{payments: {Table: pay.Table(), Column: pay.EventID()}}
			}
			var seen pipeline.SeenIDs = c
			if tc.forget {
				seen = forgetful{}
			}
			from := int64(0)
			for gen, crashAt := range []int64{12, 5, 0} {
				o.MaxRows = 9 + 4*gen
				marks := owner(t, c, seen, o, recs[from:], crashAt)
				if len(marks) > 0 {
					from = marks[len(marks)-1] + 1
				}
			}
			if from != int64(len(recs)) {
				t.Fatalf("last mark %d, want %d", from-1, len(recs)-1)
			}
			rows := env.QueryUint64(t, "SELECT count() FROM payments")
			ids := env.QueryUint64(t, "SELECT uniqExact(event_id) FROM payments")
			idRows := env.QueryUint64(t, "SELECT count() FROM "+pipeline.EventIDsTable)
			t.Logf("%d raw rows, %d distinct ids, %d event-id rows; %d unique events", rows, ids, idRows, unique)
			if ids != uint64(unique) {
				t.Fatalf("%d distinct ids stored, generator made %d", ids, unique)
			}
			switch {
			case tc.forget:
				if rows <= ids {
					t.Fatalf("a rebuild without ids stored %d rows of %d ids: no duplicate crossed an owner change", rows, ids)
				}
			case rows != ids:
				t.Fatalf("%d raw rows of %d distinct ids: a producer duplicate was stored", rows, ids)
			}
			if want := map[bool]uint64{true: 0, false: uint64(unique)}[tc.rawIDs]; idRows != want {
				t.Fatalf("%d sluice_event_ids rows, want %d", idRows, want)
			}
		})
	}
}
