package metrics

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicehq/sluice/consumers"
	"github.com/sluicehq/sluice/internal/membudget"
	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/schemas"
)

func TestCollectorReadsStatsAtScrape(t *testing.T) {
	st := new(pipeline.Stats)
	queues := []consumers.QueueState{
		{Topic: "payments", Partition: 0, Queued: 3, Paused: true},
		{Topic: "payments", Partition: 1, Queued: 1},
		{Topic: "shipments", Partition: 0},
	}
	m := New(Sources{Stats: st, Queues: func() []consumers.QueueState { return queues }})
	pay, ship := st.Topic("payments"), st.Topic("shipments")
	pay.Records.Add(60)
	ship.Records.Add(40)
	pay.Valid.Add(55)
	ship.Valid.Add(35)
	pay.Invalid.Add(4)
	ship.Invalid.Add(3)
	ship.Duplicates.Add(3)
	st.Flushes.Add(4)
	st.StoreRetries.Add(2)

	want := `
# HELP sluice_records_consumed_total Records read from Kafka and handed to the pipeline, per source topic.
# TYPE sluice_records_consumed_total counter
sluice_records_consumed_total{topic="payments"} 60
sluice_records_consumed_total{topic="shipments"} 40
# HELP sluice_events_valid_total Valid events added to batches, per source topic.
# TYPE sluice_events_valid_total counter
sluice_events_valid_total{topic="payments"} 55
sluice_events_valid_total{topic="shipments"} 35
# HELP sluice_records_dead_lettered_total Records sent to the dead-letter topic, per source topic.
# TYPE sluice_records_dead_lettered_total counter
sluice_records_dead_lettered_total{topic="payments"} 4
sluice_records_dead_lettered_total{topic="shipments"} 3
# HELP sluice_duplicates_dropped_total Valid events dropped as producer duplicates (same event_id within the dedup horizon), per source topic.
# TYPE sluice_duplicates_dropped_total counter
sluice_duplicates_dropped_total{topic="payments"} 0
sluice_duplicates_dropped_total{topic="shipments"} 3
# HELP sluice_flushes_total Batches stored.
# TYPE sluice_flushes_total counter
sluice_flushes_total 4
# HELP sluice_store_retries_total Failed ClickHouse calls of the pipeline (ledger, store, reads) that were retried.
# TYPE sluice_store_retries_total counter
sluice_store_retries_total 2
# HELP sluice_assigned_partitions Partitions this instance owns.
# TYPE sluice_assigned_partitions gauge
sluice_assigned_partitions 3
# HELP sluice_paused_partitions Owned partitions whose fetching is paused because their queue is full.
# TYPE sluice_paused_partitions gauge
sluice_paused_partitions 1
# HELP sluice_queue_depth Fetched slices waiting for their partition's worker, summed over owned partitions.
# TYPE sluice_queue_depth gauge
sluice_queue_depth 4
`
	names := []string{"sluice_records_consumed_total", "sluice_events_valid_total", "sluice_records_dead_lettered_total",
		"sluice_duplicates_dropped_total", "sluice_flushes_total", "sluice_store_retries_total",
		"sluice_assigned_partitions", "sluice_paused_partitions", "sluice_queue_depth"}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	// Read at scrape time: a later change shows without any call into Metrics.
	pay.Records.Add(5)
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(strings.Replace(want, `sluice_records_consumed_total{topic="payments"} 60`, `sluice_records_consumed_total{topic="payments"} 65`, 1)), names...); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(m.Registry()); err != nil || n == 0 {
		t.Fatalf("gather: %d metrics, %v", n, err)
	}
}

func TestBuildInfo(t *testing.T) {
	m := New(Sources{})
	b := m.Build()
	if b.GoVersion != runtime.Version() || b.Version == "" || b.Commit() == "" {
		t.Fatalf("build %+v", b)
	}
	want := fmt.Sprintf(`
# HELP sluice_build_info Always 1; the labels identify the running binary.
# TYPE sluice_build_info gauge
sluice_build_info{commit=%q,go_version=%q,version=%q} 1
`, b.Commit(), b.GoVersion, b.Version)
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "sluice_build_info"); err != nil {
		t.Fatal(err)
	}
}

// sluice_partition_blocked has one series of value 1 per blocked partition and
// reason, and none once nothing is blocked.
func TestPartitionBlocked(t *testing.T) {
	var blocked []pipeline.Blocked
	m := New(Sources{Blocked: func() []pipeline.Blocked { return blocked }})
	blocked = []pipeline.Blocked{
		{Topic: "payments", Partition: 3, Reason: pipeline.BlockedDeadLetter, Err: errors.New("TOPIC_AUTHORIZATION_FAILED")},
		{Topic: "shipments", Partition: 0, Reason: pipeline.BlockedClickHouse},
	}
	want := `
# HELP sluice_partition_blocked 1 for each owned partition that makes no progress until something outside Sluice is fixed (reason: dead_letter = its dead letters cannot be written, clickhouse_permanent = ClickHouse refuses its stores until the schema or the grants are fixed); it retries and resumes by itself.
# TYPE sluice_partition_blocked gauge
sluice_partition_blocked{partition="3",reason="dead_letter",topic="payments"} 1
sluice_partition_blocked{partition="0",reason="clickhouse_permanent",topic="shipments"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "sluice_partition_blocked"); err != nil {
		t.Fatal(err)
	}
	blocked = nil
	if n, err := testutil.GatherAndCount(m.Registry(), "sluice_partition_blocked"); err != nil || n != 0 {
		t.Fatalf("%d series after recovery, %v", n, err)
	}
}

func TestCollectorWithoutSources(t *testing.T) {
	m := New(Sources{})
	if _, err := m.Registry().Gather(); err != nil {
		t.Fatal(err)
	}
}

type fakeSink struct{ err error }

func (f *fakeSink) Store(context.Context, string, []schemas.Block) error { return f.err }

func TestSinkCountsPerTable(t *testing.T) {
	m := New(Sources{})
	if !m.LastInsert().IsZero() {
		t.Fatal("LastInsert is set before any Store")
	}
	inner := &fakeSink{}
	s := m.Sink(inner, "payments_1m")
	blocks := []schemas.Block{
		{Table: "payments", Rows: 10},
		{Table: "payments_1m", Names: []string{"window_start", "events"}, Columns: []any{nil, []uint64{4, 6}}, Rows: 2},
	}
	for range 3 {
		if err := s.Store(t.Context(), "tok", blocks); err != nil {
			t.Fatal(err)
		}
	}
	last := m.LastInsert()
	if last.IsZero() {
		t.Fatal("LastInsert not set by a successful Store")
	}
	inner.err = errors.New("down")
	if err := s.Store(t.Context(), "tok", blocks); !errors.Is(err, inner.err) {
		t.Fatalf("Store returned %v, want the inner error", err)
	}
	want := `
# HELP sluice_rows_inserted_total Rows stored in ClickHouse, per table.
# TYPE sluice_rows_inserted_total counter
sluice_rows_inserted_total{table="payments"} 30
sluice_rows_inserted_total{table="payments_1m"} 6
# HELP sluice_batches_inserted_total Insert blocks stored in ClickHouse, per table (one per table per flush).
# TYPE sluice_batches_inserted_total counter
sluice_batches_inserted_total{table="payments"} 3
sluice_batches_inserted_total{table="payments_1m"} 3
# HELP sluice_rollup_events_total Events folded into the stored rows of a rollup table.
# TYPE sluice_rollup_events_total counter
sluice_rollup_events_total{table="payments_1m"} 30
# HELP sluice_rollup_compression_ratio Events per stored rollup row, over all rollup tables since start (0 before any).
# TYPE sluice_rollup_compression_ratio gauge
sluice_rollup_compression_ratio 5
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"sluice_rows_inserted_total", "sluice_batches_inserted_total", "sluice_rollup_events_total", "sluice_rollup_compression_ratio"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m.insertDur); n != 2 {
		t.Errorf("insert duration has %d series, want ok and error", n)
	}
	if m.LastInsert() != last {
		t.Error("a failed Store moved LastInsert")
	}
	if _, _, n := m.RecentInsertLatency(time.Minute); n != 3 {
		t.Errorf("recent insert latency covers %d calls, want the 3 successful ones", n)
	}
}

func TestLatencyQuantiles(t *testing.T) {
	var l latencies
	now := time.Now()
	l.add(now.Add(-time.Hour), time.Hour) // outside the window
	for i := 1; i <= 100; i++ {
		l.add(now, time.Duration(i)*time.Millisecond)
	}
	p50, p99, n := l.quantiles(now.Add(-time.Minute))
	if n != 100 || p50 != 50*time.Millisecond || p99 != 99*time.Millisecond {
		t.Fatalf("p50 %v p99 %v n %d, want 50ms 99ms 100", p50, p99, n)
	}
	for i := range 2000 { // wraps the ring
		l.add(now, time.Duration(i))
	}
	if _, _, n := l.quantiles(time.Time{}); n != len(l.d) {
		t.Fatalf("ring holds %d, want %d", n, len(l.d))
	}
}

func TestPollLag(t *testing.T) {
	m := New(Sources{})
	ctx, cancel := context.WithCancel(t.Context())
	calls := make(chan struct{}, 16)
	n := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.PollLag(ctx, time.Millisecond, func(context.Context) (map[TopicPartition]int64, error) {
			n++
			calls <- struct{}{}
			switch n {
			case 1:
				return map[TopicPartition]int64{{"p", 0}: 5, {"p", 1}: 7}, nil
			case 2:
				return nil, errors.New("broker down")
			default:
				cancel()
				return map[TopicPartition]int64{{"p", 1}: 2}, nil
			}
		}, nil)
	}()
	<-done
	if got := testutil.ToFloat64(m.lagErrs); got != 1 {
		t.Errorf("lag errors = %v, want 1", got)
	}
	// The third poll ended with a cancelled context: its result is dropped, and the
	// first poll's values stand.
	lag, at := m.Lag()
	if at.IsZero() || len(lag) != 2 || lag[TopicPartition{"p", 0}] != 5 {
		t.Errorf("lag = %v at %v", lag, at)
	}
	m.SetLag(map[TopicPartition]int64{{"p", 1}: 2})
	want := `
# HELP sluice_consumer_lag End offset minus committed offset of each partition this instance owns, refreshed periodically.
# TYPE sluice_consumer_lag gauge
sluice_consumer_lag{partition="1",topic="p"} 2
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "sluice_consumer_lag"); err != nil {
		t.Fatal(err)
	}
}

// TestPollLagRefresh checks that a refresh polls at once, long before the interval.
func TestPollLagRefresh(t *testing.T) {
	m := New(Sources{})
	ctx, cancel := context.WithCancel(t.Context())
	refresh := make(chan struct{}, 1)
	polled := make(chan int, 4)
	n := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.PollLag(ctx, time.Hour, func(context.Context) (map[TopicPartition]int64, error) {
			n++
			polled <- n
			if n == 3 { // held until the test has read the second poll's result
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return map[TopicPartition]int64{{"p", 0}: int64(10 - n)}, nil
		}, refresh)
	}()
	if got := <-polled; got != 1 {
		t.Fatalf("first poll %d", got)
	}
	refresh <- struct{}{}
	if got := <-polled; got != 2 {
		t.Fatalf("after a refresh: poll %d, want 2", got)
	}
	// Once the third poll has begun, the second one's result is published.
	refresh <- struct{}{}
	<-polled
	lag, _ := m.Lag()
	cancel()
	<-done
	if lag[TopicPartition{"p", 0}] != 8 {
		t.Errorf("lag %v, want the refreshed 8", lag)
	}
}

// The memory gauges show the budget, one partition's shares and what is held, read
// from the budget at scrape time.
func TestMemoryMetrics(t *testing.T) {
	b := membudget.New(256 << 20)
	b.Owned(8)
	b.Fetched(1000)
	b.Hold(300, 2)
	m := New(Sources{Memory: b.Usage})
	s := b.Split()
	want := fmt.Sprintf(`
# HELP sluice_memory_budget_bytes The process's memory budget (SLUICE_MEMORY_LIMIT, or 75%% of the cgroup memory limit, else 256 MiB).
# TYPE sluice_memory_budget_bytes gauge
sluice_memory_budget_bytes 2.68435456e+08
# HELP sluice_memory_held_bytes Bytes held against the budget now, all partitions: fetched = records waiting for the workers, batches = rows in batches, dedup = producer-duplicate filters.
# TYPE sluice_memory_held_bytes gauge
sluice_memory_held_bytes{held="batches"} %d
sluice_memory_held_bytes{held="dedup"} %d
sluice_memory_held_bytes{held="fetched"} 1000
# HELP sluice_memory_share_bytes One owned partition's share of the budget now: fetch = fetched records it may always hold before its fetching pauses, batch = what one batch may always grow to before it flushes (busy partitions grow beyond it into the shared pool).
# TYPE sluice_memory_share_bytes gauge
sluice_memory_share_bytes{share="batch"} %d
sluice_memory_share_bytes{share="fetch"} %d
`, 300*membudget.BatchOverheadPercent/100, 2*membudget.IDBytes, s.Batch, s.Fetch)
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"sluice_memory_budget_bytes", "sluice_memory_held_bytes", "sluice_memory_share_bytes"); err != nil {
		t.Fatal(err)
	}
}
