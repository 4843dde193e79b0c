package pipeline_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/pipeline/clickhouse"
	"github.com/sluicehq/sluice/schemas"
)

// meeting is the Ledger and SeenIDs of a ClickHouse client whose Ranges and
// SeenIDs each wait, before they read, until the other has been called too (at
// most guard): of a worker that read one after the other, the first call finds
// the other not called.
type meeting struct {
	*clickhouse.Client
	ranges, ids         chan struct{} // closed once Ranges, SeenIDs was called
	rangesOnce, idsOnce sync.Once
	met                 atomic.Int32 // calls that found the other one called
}

func (m *meeting) arrive(ctx context.Context, once *sync.Once, mine, other chan struct{}) {
	once.Do(func() { close(mine) })
	select {
	case <-other:
		m.met.Add(1)
	case <-ctx.Done():
	case <-time.After(guard / 2): // before the test's own guard fails the worker
	}
}

func (m *meeting) Ranges(ctx context.Context, topic, topicID string, partition int32, from int64) ([]pipeline.Range, error) {
	m.arrive(ctx, &m.rangesOnce, m.ranges, m.ids)
	return m.Client.Ranges(ctx, topic, topicID, partition, from)
}

func (m *meeting) SeenIDs(ctx context.Context, q pipeline.IDQuery, fn func(id string, ts int64)) error {
	m.arrive(ctx, &m.idsOnce, m.ids, m.ranges)
	return m.Client.SeenIDs(ctx, q, fn)
}

// A new owner reads the ledger's ranges and the stored event ids at the same
// time, and still stores and marks its partition, its duplicates dropped.
func TestStartReadsLedgerAndIDsTogether(t *testing.T) {
	pay := schemas.BuiltinEventTypes()[0]
	env, c := paymentsOnClickHouse(t)
	o := pipeline.Options{Group: testGroup, DedupHorizon: time.Hour, MaxRows: 3, FlushInterval: time.Hour,
		Topics: map[string]func(schemas.Options) schemas.Batch{payments: pay.NewBatch},
		Batch:  schemas.Options{Raw: true},
		RawIDs: map[string]pipeline.RawIDs{payments: {Table: pay.Table(), Column: pay.EventID()}}}
	// Recent timestamps: the filter is rebuilt from ids within the horizon.
	now := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	ids := []string{"a", "b", "a", "c", "d", "b", "e"} // two producer duplicates
	for gen, from := range []int{0, 4} {
		m := &meeting{Client: c, ranges: make(chan struct{}), ids: make(chan struct{})}
		p := pipeline.New(o, pipeline.Deps{Sink: c, Ledger: m, SeenIDs: m, DLQ: &asyncDLQ{}})
		w := p.Worker(payments, 0)
		w.SetTopicID([16]byte{1})
		r := startWorker(t, t.Context(), w)
		for i := from; i < from+4 && i < len(ids); i++ {
			r.send(t, rec(payments, 0, int64(i), now.Add(time.Duration(i)*time.Second), payJSON(ids[i], now, "m1", 100)))
		}
		err, marks := r.finish(t)
		if err != nil {
			t.Fatalf("owner %d: %v", gen, err)
		}
		if want := int64(min(from+4, len(ids)) - 1); len(marks) == 0 || marks[len(marks)-1] != want {
			t.Fatalf("owner %d marked %v, want up to %d", gen, marks, want)
		}
		if n := m.met.Load(); n != 2 {
			t.Fatalf("owner %d: %d of the ledger and id reads found the other one called, want both: they ran one after the other", gen, n)
		}
	}
	if n := env.QueryUint64(t, "SELECT count() FROM payments"); n != 5 {
		t.Fatalf("%d raw rows stored, want 5 (a, b, c, d, e; the second owner's b is a duplicate of the first's)", n)
	}
}
