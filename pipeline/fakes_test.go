package pipeline_test

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/schemas"
)

// memSink is an in-memory pipeline.Sink that behaves like ClickHouse with
// insert_deduplication_token: a Store with a token it has already stored is dropped.
// Blocks are deep-copied, since the worker reuses their slices after a flush.
type memSink struct {
	mu     sync.Mutex
	seen   map[string]bool
	stored []storeCall // accepted stores, in order
	calls  []string    // every token passed to Store, accepted, dropped or failed
	// before, when non-nil, runs before a store; an error fails the store unstored.
	before func(ctx context.Context, call int, token string) error
	// after, when non-nil, runs after a store; an error makes its outcome unknown.
	after func(ctx context.Context, call int, token string) error
}

type storeCall struct {
	token  string
	blocks []schemas.Block
}

func newMemSink() *memSink { return &memSink{seen: make(map[string]bool)} }

func (s *memSink) Store(ctx context.Context, token string, blocks []schemas.Block) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	call := len(s.calls)
	s.calls = append(s.calls, token)
	if s.before != nil {
		if err := s.before(ctx, call, token); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.seen[token] {
		s.seen[token] = true
		cp := make([]schemas.Block, len(blocks))
		for i, b := range blocks {
			cp[i] = copyBlock(b)
		}
		s.stored = append(s.stored, storeCall{token: token, blocks: cp})
	}
	if s.after != nil {
		return s.after(ctx, call, token)
	}
	return nil
}

func copyBlock(b schemas.Block) schemas.Block {
	out := schemas.Block{Table: b.Table, Names: slices.Clone(b.Names), Rows: b.Rows, Columns: make([]any, len(b.Columns))}
	for i, c := range b.Columns {
		out.Columns[i] = schemas.PlainColumn(c)
	}
	return out
}

// snapshot returns the accepted stores and every token passed to Store.
func (s *memSink) snapshot() ([]storeCall, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.stored), slices.Clone(s.calls)
}

// totals sums, over every accepted store, the additive (UInt64) columns of each rollup
// row, keyed by table and the columns before "events"; raw tables are counted per
// (table, offset) under the "raw" prefix.
func (s *memSink) totals(t *testing.T) map[string][2]uint64 {
	t.Helper()
	stored, _ := s.snapshot()
	out := make(map[string][2]uint64)
	for _, sc := range stored {
		for _, b := range sc.blocks {
			checkShape(t, b)
			if b.Table == pipeline.EventIDsTable {
				continue
			}
			ev := slices.Index(b.Names, "events")
			if ev < 0 { // a raw table: one row per event, counted by offset
				offs := column[int64](t, b, "_offset")
				for _, o := range offs {
					k := fmt.Sprintf("raw %s offset=%d", b.Table, o)
					v := out[k]
					v[0]++
					out[k] = v
				}
				continue
			}
			for r := range b.Rows {
				k := b.Table
				for c := range ev {
					k += fmt.Sprintf(" %s=%v", b.Names[c], reflect.ValueOf(b.Columns[c]).Index(r).Interface())
				}
				v := out[k]
				v[0] += b.Columns[ev].([]uint64)[r]
				if ev+1 < len(b.Columns) {
					v[1] += b.Columns[ev+1].([]uint64)[r]
				}
				out[k] = v
			}
		}
	}
	return out
}

func checkShape(t *testing.T, b schemas.Block) {
	t.Helper()
	if len(b.Names) != len(b.Columns) {
		t.Fatalf("block %s: %d names, %d columns", b.Table, len(b.Names), len(b.Columns))
	}
	for i, c := range b.Columns {
		if n := schemas.ColumnLen(c); n != b.Rows {
			t.Fatalf("block %s column %s: %d values, Rows %d", b.Table, b.Names[i], n, b.Rows)
		}
	}
}

func column[T any](t *testing.T, b schemas.Block, name string) []T {
	t.Helper()
	i := slices.Index(b.Names, name)
	if i < 0 {
		t.Fatalf("block %s has no column %s (%v)", b.Table, name, b.Names)
	}
	v, ok := b.Columns[i].([]T)
	if !ok {
		t.Fatalf("block %s column %s is %T", b.Table, name, b.Columns[i])
	}
	return v
}

// eventsTotal is the number of events in every rollup row of totals.
func eventsTotal(tot map[string][2]uint64) (n uint64) {
	for k, v := range tot {
		if len(k) < 4 || k[:4] != "raw " {
			n += v[0]
		}
	}
	return n
}

// memLedger is an in-memory pipeline.Ledger.
type memLedger struct {
	mu     sync.Mutex
	ranges []pipeline.Range
	// intend, when non-nil, runs before recording; an error fails Intend unrecorded
	// unless record is true.
	intend func(ctx context.Context, r pipeline.Range) (record bool, err error)
}

func (l *memLedger) Intend(ctx context.Context, r pipeline.Range) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.First > r.Last {
		return fmt.Errorf("memLedger: bad range %+v", r)
	}
	var err error
	if l.intend != nil {
		var record bool
		record, err = l.intend(ctx, r)
		if err != nil && !record {
			return err
		}
	}
	if !slices.Contains(l.ranges, r) {
		l.ranges = append(l.ranges, r)
	}
	return err
}

func (l *memLedger) Ranges(_ context.Context, topic, topicID string, partition int32, from int64) ([]pipeline.Range, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []pipeline.Range
	for _, r := range l.ranges {
		if r.Topic == topic && r.TopicID == topicID && r.Partition == partition && r.Last >= from {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].First != out[j].First {
			return out[i].First < out[j].First
		}
		if out[i].Last != out[j].Last {
			return out[i].Last < out[j].Last
		}
		return out[i].Group < out[j].Group
	})
	return out, nil
}

func (l *memLedger) all() []pipeline.Range {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ranges)
}

// sinkSeen implements pipeline.SeenIDs from the blocks a memSink accepted, like the
// ClickHouse adapter reads them back: the event-ids blocks and, with q.Raw, the raw
// blocks of q.Raw.Table, one id per offset.
type sinkSeen struct{ s *memSink }

func (ss sinkSeen) SeenIDs(_ context.Context, q pipeline.IDQuery, fn func(id string, ts int64)) error {
	type row struct {
		off int64
		id  string
		ts  int64
	}
	byOffset := map[int64]row{}
	add := func(r row, ts time.Time) {
		if r.off < q.Before && !ts.Before(q.Since) {
			if _, ok := byOffset[r.off]; !ok {
				r.ts = ts.UnixNano()
				byOffset[r.off] = r
			}
		}
	}
	stored, _ := ss.s.snapshot()
	for _, sc := range stored {
		for _, b := range sc.blocks {
			switch {
			case b.Table == pipeline.EventIDsTable:
				if !slices.Equal(b.Names, pipeline.EventIDsColumns) {
					return fmt.Errorf("sinkSeen: event-ids block names %v", b.Names)
				}
				groups, topics, topicIDs := b.Columns[0].([]string), b.Columns[1].([]string), b.Columns[2].([]string)
				parts, offs := b.Columns[3].([]int32), b.Columns[4].([]int64)
				ids, ts := b.Columns[5].([]string), b.Columns[6].([]time.Time)
				for i := range b.Rows {
					if groups[i] == q.Group && topics[i] == q.Topic && topicIDs[i] == q.TopicID && parts[i] == q.Partition {
						add(row{off: offs[i], id: ids[i]}, ts[i])
					}
				}
			case q.Raw.Table != "" && b.Table == q.Raw.Table:
				col := func(name string) any { return b.Columns[slices.Index(b.Names, name)] }
				topics, topicIDs := col("_topic").([]string), col("_topic_id").([]string)
				parts, offs := col("_partition").([]int32), col("_offset").([]int64)
				ids, ts := col(q.Raw.Column).([]string), col("_timestamp").([]time.Time)
				for i := range b.Rows {
					if topics[i] == q.Topic && topicIDs[i] == q.TopicID && parts[i] == q.Partition {
						add(row{off: offs[i], id: ids[i]}, ts[i])
					}
				}
			}
		}
	}
	rows := slices.SortedFunc(maps.Values(byOffset), func(a, b row) int { return cmp.Compare(a.off, b.off) })
	if q.Limit > 0 && len(rows) > q.Limit {
		rows = rows[len(rows)-q.Limit:]
	}
	for _, r := range rows {
		fn(r.id, r.ts)
	}
	return nil
}

// asyncDLQ acknowledges every dead letter from its own goroutine, after gate is closed
// when gate is non-nil. Its goroutines are waited for by wait.
type asyncDLQ struct {
	mu    sync.Mutex
	sent  []deadLetter
	acked int
	gate  chan struct{}
	err   error // passed to done of the letters sent while it is set
	wg    sync.WaitGroup
}

type deadLetter struct {
	offset                int64
	reason, detail, value string
}

func (d *asyncDLQ) Send(_ context.Context, src *kgo.Record, reason, detail string, done func(error)) {
	d.mu.Lock()
	d.sent = append(d.sent, deadLetter{src.Offset, reason, detail, string(src.Value)})
	err := d.err // the outcome is decided when the letter is sent, as a broker's would be
	d.mu.Unlock()
	d.wg.Go(func() {
		if d.gate != nil {
			<-d.gate
		}
		d.mu.Lock()
		d.acked++
		d.mu.Unlock()
		done(err)
	})
}

func (d *asyncDLQ) counts() (sent, acked int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.sent), d.acked
}

func (d *asyncDLQ) wait() { d.wg.Wait() }

// setErr makes the dead letters sent from now on fail with err (nil: succeed).
func (d *asyncDLQ) setErr(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.err = err
}

// sentOffsets returns how many times each source offset was sent.
func (d *asyncDLQ) sentOffsets() map[int64]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := map[int64]int{}
	for _, l := range d.sent {
		m[l.offset]++
	}
	return m
}
