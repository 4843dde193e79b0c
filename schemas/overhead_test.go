package schemas_test

import (
	"runtime"
	"testing"

	"github.com/sluicehq/sluice/internal/membudget"
	"github.com/sluicehq/sluice/producers/loadgen"
	"github.com/sluicehq/sluice/schemas"
)

// TestBatchOverhead measures what a batch of loadgen payments really holds (its
// columns, rollup groups, decoder arena and the blocks a flush builds, after a
// first batch of the same size grew them) against its Bytes(): the memory budget
// sizes batches by membudget.BatchOverheadPercent, which must cover it.
func TestBatchOverhead(t *testing.T) {
	g, err := loadgen.NewGenerator(loadgen.Config{Seed: 1, Payments: 200_000, Merchants: 20_000})
	if err != nil {
		t.Fatal(err)
	}
	var recs []loadgen.Record
	for r, ok := g.Next(); ok; r, ok = g.Next() {
		recs = append(recs, r)
	}
	pay := schemas.BuiltinType(t, "payment")
	for _, c := range []struct {
		name string
		o    schemas.Options
	}{
		{"raw", schemas.Options{Raw: true, SkipRollups: true}},
		{"raw+rollups", schemas.Options{Raw: true}},
		{"rollups", schemas.Options{}},
	} {
		for _, size := range []int{1 << 20, 3 << 19, 2 << 20, 5 << 19, 3 << 20, 7 << 19, 4 << 20, 6 << 20, 8 << 20, 12 << 20} {
			before := heapInUse()
			b := pay.NewBatch(c.o)
			next := 0
			fill := func() {
				b.Reset()
				for b.Bytes() < size {
					r := recs[next%len(recs)]
					m := schemas.Meta{Topic: "payments", Offset: int64(next), IngestedAt: r.Timestamp, Timestamp: r.Timestamp}
					next++
					_ = b.Add(r.Value, &m) // invalid records are the stream's, and take nothing
				}
				b.Blocks()
			}
			fill()
			fill()
			held := heapInUse() - before
			runtime.KeepAlive(b)
			pct := held * 100 / uint64(b.Bytes())
			t.Logf("%s, %d bytes, %d events: %d bytes held, %d%%", c.name, b.Bytes(), b.Events(), held, pct)
			if pct > membudget.BatchOverheadPercent {
				t.Errorf("%s batch of %d bytes (%d events) holds %d bytes: %d%% of its Bytes(), more than BatchOverheadPercent (%d)",
					c.name, b.Bytes(), b.Events(), held, pct, membudget.BatchOverheadPercent)
			}
		}
	}
}

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
