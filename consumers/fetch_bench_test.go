package consumers_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/sluicehq/sluice/consumers"
	"github.com/sluicehq/sluice/internal/membudget"
	"github.com/sluicehq/sluice/producers/loadgen"
)

// fetchBench is the backlog the fetch benchmarks consume: benchRecords payments
// from the load generator over benchPartitions partitions of an in-process
// Kafka, keyed and snappy-compressed as the benchmark command preloads them,
// once per test binary. The producer flushes every benchBatch records, so the
// record batches are the same in every run (the benchmark command's batches
// depend on its timing; about 225 records each).
var fetchBench struct {
	once  sync.Once
	addrs []string
	err   error
}

const (
	benchTopic      = "payments"
	benchPartitions = 8
	benchRecords    = 200_000
	benchBatch      = benchPartitions * 225
)

func fetchBacklog(b *testing.B) []string {
	b.Helper()
	fetchBench.once.Do(func() { fetchBench.addrs, fetchBench.err = preloadBacklog() })
	if fetchBench.err != nil {
		b.Fatal(fetchBench.err)
	}
	return fetchBench.addrs
}

// preloadBacklog starts the cluster, which lives as long as the test binary
// (every benchmark of it reads the same backlog), and publishes the backlog.
func preloadBacklog() ([]string, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(benchPartitions, benchTopic))
	if err != nil {
		return nil, err
	}
	addrs := c.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ManualFlushing(), kgo.MaxBufferedRecords(benchBatch))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	gen, err := loadgen.NewGenerator(loadgen.Config{Seed: 1, Payments: benchRecords, PaymentsTopic: benchTopic})
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	var failed atomic.Pointer[error]
	for n := 1; ; n++ {
		rec, ok := gen.Next()
		if !ok {
			break
		}
		cl.Produce(ctx, &kgo.Record{Topic: rec.Topic, Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.CompareAndSwap(nil, &err)
			}
		})
		if n%benchBatch == 0 {
			if err := cl.Flush(ctx); err != nil {
				return nil, err
			}
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return nil, err
	}
	if err := failed.Load(); err != nil {
		return nil, *err
	}
	return addrs, nil
}

// BenchmarkGroupFetch is what consuming costs per record up to the worker: the
// client's fetching, decompressing and decoding, the poll loop, the feeder and
// the memory budget, with the options and hooks `sluice run` gives the client.
// Its worker only recycles the records and marks the last of each slice. Each
// iteration consumes the whole backlog in a new group. The broker runs in the
// same process, so time and allocations include its serving of the fetches
// (most of the allocated bytes); instruction counts per function
// (valgrind --tool=cachegrind, -benchtime 1x against 3x) separate the two.
func BenchmarkGroupFetch(b *testing.B) {
	addrs := fetchBacklog(b)
	b.ReportAllocs()
	b.ResetTimer()
	var records int64
	for i := range b.N {
		records += consumeBacklog(b, addrs, fmt.Sprintf("fetch-bench-%d-%d", b.N, i))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(records), "ns/record")
}

// consumeBacklog consumes the whole backlog in group and returns the records
// its workers received.
func consumeBacklog(b *testing.B, addrs []string, group string) int64 {
	reg := prometheus.NewRegistry()
	metrics := kprom.NewMetrics("bench", kprom.Subsystem("kafka"), kprom.Registry(reg))
	budget := membudget.New(256 << 20)
	o := consumers.Options{
		Brokers:    addrs,
		Group:      group,
		Topics:     []string{benchTopic},
		QueueDepth: 4,
		Memory:     budget,
		Fetch: consumers.FetchSizes{ // as Sluice sizes them by default
			Response:     membudget.ResponseSize(budget.Total(), benchPartitions),
			Partition:    membudget.FetchSize(budget.Total(), benchPartitions),
			MaxPartition: 256 << 10,
		},
		ClientOpts: []kgo.Opt{
			kgo.WithHooks(metrics),
			kgo.FetchMaxWait(250 * time.Millisecond),
		},
	}
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	var got atomic.Int64
	g, err := consumers.New(o, func(string, int32) consumers.Worker {
		return recycler{got: &got, all: benchRecords, done: cancel}
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := g.Run(ctx); err != nil {
		b.Fatal(err)
	}
	if n := got.Load(); n != benchRecords {
		b.Fatalf("consumed %d records, want %d", n, benchRecords)
	}
	return got.Load()
}

// recycler is a worker that only marks and recycles what it receives; done is
// called once every worker together has received all records.
type recycler struct {
	got  *atomic.Int64
	all  int64
	done func()
}

func (w recycler) Run(ctx context.Context, in <-chan []*kgo.Record, mark func(*kgo.Record)) error {
	for recs := range in {
		mark(recs[len(recs)-1])
		for _, r := range recs {
			r.Recycle()
		}
		if w.got.Add(int64(len(recs))) == w.all {
			w.done()
		}
	}
	return nil
}
