package metrics

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/schemas"
)

// Sink wraps s so that every Store call is timed (sluice_insert_duration_seconds) and
// the rows and blocks of every successful one are counted per table. rollupTables
// names the rollup tables: their rows' events column feeds sluice_rollup_events_total
// and sluice_rollup_compression_ratio. The result is a pipeline.Sink with s's
// contract; the work per call is proportional to the blocks (and rollup rows), never
// to the events.
func (m *Metrics) Sink(s pipeline.Sink, rollupTables ...string) pipeline.Sink {
	return &timedSink{m: m, next: s, rollups: rollupTables}
}

type timedSink struct {
	m       *Metrics
	next    pipeline.Sink
	rollups []string
}

// Store implements pipeline.Sink.
func (t *timedSink) Store(ctx context.Context, token string, blocks []schemas.Block) error {
	start := time.Now()
	err := t.next.Store(ctx, token, blocks)
	d := time.Since(start)
	if err != nil {
		t.m.insertDur.WithLabelValues("error").Observe(d.Seconds())
		return err
	}
	t.m.insertDur.WithLabelValues("ok").Observe(d.Seconds())
	t.m.recent.add(start, d)
	t.m.lastOK.Store(start.UnixNano())
	var rollupRows, rollupEvents int64
	for i := range blocks {
		b := &blocks[i]
		t.m.rows.WithLabelValues(b.Table).Add(float64(b.Rows))
		t.m.batches.WithLabelValues(b.Table).Inc()
		if slices.Contains(t.rollups, b.Table) {
			n := eventsIn(b)
			rollupRows += int64(b.Rows)
			rollupEvents += n
			t.m.rollupEvts.WithLabelValues(b.Table).Add(float64(n))
		}
	}
	if rollupRows > 0 {
		t.m.mu.Lock()
		t.m.rollupRows += rollupRows
		t.m.rollupEvents += rollupEvents
		t.m.mu.Unlock()
	}
	return nil
}

// eventsIn sums a rollup block's events column (0 when it has none).
func eventsIn(b *schemas.Block) int64 {
	i := slices.Index(b.Names, "events")
	if i < 0 || i >= len(b.Columns) {
		return 0
	}
	var n int64
	switch col := b.Columns[i].(type) {
	case []uint64:
		for _, v := range col {
			n += int64(v)
		}
	case []uint32:
		for _, v := range col {
			n += int64(v)
		}
	case []int64:
		for _, v := range col {
			n += v
		}
	}
	return n
}

// latencies is a ring of the most recent Store durations.
type latencies struct {
	mu   sync.Mutex
	at   [1024]time.Time
	d    [1024]time.Duration
	next int
	n    int
}

func (l *latencies) add(at time.Time, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.at[l.next], l.d[l.next] = at, d
	l.next = (l.next + 1) % len(l.d)
	l.n = min(l.n+1, len(l.d))
}

// quantiles returns the median and p99 of the durations recorded at or after since.
func (l *latencies) quantiles(since time.Time) (p50, p99 time.Duration, n int) {
	l.mu.Lock()
	ds := make([]time.Duration, 0, l.n)
	for i := range l.n {
		if !l.at[i].Before(since) {
			ds = append(ds, l.d[i])
		}
	}
	l.mu.Unlock()
	if len(ds) == 0 {
		return 0, 0, 0
	}
	slices.Sort(ds)
	return ds[(len(ds)-1)/2], ds[(len(ds)*99-1)/100], len(ds)
}

func itoa(p int32) string { return strconv.FormatInt(int64(p), 10) }
