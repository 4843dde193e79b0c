package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/sluicehq/sluice/consumers"
	"github.com/sluicehq/sluice/internal/buildinfo"
	"github.com/sluicehq/sluice/internal/membudget"
	"github.com/sluicehq/sluice/pipeline"
)

// Namespace prefixes every metric of this package.
const Namespace = "sluice"

// Sources are what the collector reads at scrape time. Nil fields are skipped.
type Sources struct {
	// Stats are the pipeline's counters.
	Stats *pipeline.Stats
	// Queues reports the owned partitions' input queues (consumers.Group.Queues).
	Queues func() []consumers.QueueState
	// Blocked reports the partitions that make no progress (pipeline.Pipeline.Blocked).
	Blocked func() []pipeline.Blocked
	// Memory reports the memory budget and what is held against it.
	Memory func() membudget.Usage
	// Logger receives failed lag polls (one line per failure, at debug level).
	Logger *slog.Logger
}

// Metrics is one instance's registry and the instruments that feed it.
type Metrics struct {
	reg *prometheus.Registry
	src Sources
	log *slog.Logger

	insertDur  *prometheus.HistogramVec
	rows       *prometheus.CounterVec
	batches    *prometheus.CounterVec
	rollupEvts *prometheus.CounterVec
	commitDur  *prometheus.HistogramVec
	lag        *prometheus.GaugeVec
	lagErrs    prometheus.Counter
	kprom      *kprom.Metrics

	recent latencies    // recent Store durations for the status page
	fresh  freshness    // freshness of stored events (freshness.go)
	lastOK atomic.Int64 // unix nanoseconds of the last successful Store, 0 before any
	build  buildinfo.Build

	mu           sync.Mutex // guards the fields below
	rollupRows   int64
	rollupEvents int64
	lagNow       map[TopicPartition]int64
	lagAt        time.Time
}

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// New returns Metrics on a new registry that already holds the Go and process
// collectors and the collector over src.
func New(src Sources) *Metrics {
	if src.Logger == nil {
		src.Logger = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg:   reg,
		src:   src,
		log:   src.Logger,
		build: buildinfo.Read(),
		insertDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "insert_duration_seconds",
			Help:    "Duration of one Store call: every insert block of one flush. result is ok or error.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"result"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "rows_inserted_total",
			Help: "Rows stored in ClickHouse, per table.",
		}, []string{"table"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "batches_inserted_total",
			Help: "Insert blocks stored in ClickHouse, per table (one per table per flush).",
		}, []string{"table"}),
		rollupEvts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "rollup_events_total",
			Help: "Events folded into the stored rows of a rollup table.",
		}, []string{"table"}),
		commitDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "kafka", Name: "commit_duration_seconds",
			Help:    "Round trip of the consumer's OffsetCommit requests. result is ok or error (transport errors).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"result"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "consumer_lag",
			Help: "End offset minus committed offset of each partition this instance owns, refreshed periodically.",
		}, []string{"topic", "partition"}),
		lagErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "consumer_lag_errors_total",
			Help: "Lag polls that failed.",
		}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.insertDur, m.rows, m.batches, m.rollupEvts, m.commitDur, m.lag, m.lagErrs,
		&collector{m: m}, freshnessCollector{&m.fresh},
	)
	m.kprom = kprom.NewMetrics(Namespace, kprom.Subsystem("kafka"), kprom.Registry(reg))
	return m
}

// Registry is the registry every metric of m is on.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text (or OpenMetrics) format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, EnableOpenMetrics: true})
}

// KafkaHooks are the franz-go hooks to install on the consumer client (kgo.WithHooks):
// kprom's client metrics and the commit-latency hook. Install them on one client
// only: kprom registers its metrics when the client is created.
func (m *Metrics) KafkaHooks() []kgo.Hook { return []kgo.Hook{m.kprom, commitHook{m}} }

// commitHook observes OffsetCommit round trips.
type commitHook struct{ m *Metrics }

// offsetCommitKey is the Kafka protocol key of OffsetCommit.
const offsetCommitKey = 8

// OnBrokerE2E implements kgo.HookBrokerE2E.
func (h commitHook) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	if key != offsetCommitKey {
		return
	}
	result := "ok"
	if e2e.Err() != nil {
		result = "error"
	}
	h.m.commitDur.WithLabelValues(result).Observe(e2e.DurationE2E().Seconds())
}

// RollupRatio is the number of events per stored rollup row so far (0 before any).
func (m *Metrics) RollupRatio() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rollupRows == 0 {
		return 0
	}
	return float64(m.rollupEvents) / float64(m.rollupRows)
}

// RecentInsertLatency returns the median and 99th percentile of the Store calls of
// the last window (at most the last 1024 calls), and how many calls that is.
func (m *Metrics) RecentInsertLatency(window time.Duration) (p50, p99 time.Duration, n int) {
	return m.recent.quantiles(time.Now().Add(-window))
}

// LastInsert is when the last successful Store call started (zero before any).
func (m *Metrics) LastInsert() time.Time {
	if n := m.lastOK.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Build is the running binary's identity, as sluice_build_info shows it.
func (m *Metrics) Build() buildinfo.Build { return m.build }

// Lag returns the lag of each owned partition at the last successful poll, and when
// that poll was (zero before any).
func (m *Metrics) Lag() (map[TopicPartition]int64, time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[TopicPartition]int64, len(m.lagNow))
	for k, v := range m.lagNow {
		out[k] = v
	}
	return out, m.lagAt
}

// LagFunc returns the current lag of each partition this instance owns.
type LagFunc func(ctx context.Context) (map[TopicPartition]int64, error)

// PollLag calls lag at once, then every interval and whenever refresh receives (e.g.
// after each offset commit; sends arriving during a poll make one more), until ctx is
// done, and publishes the result as sluice_consumer_lag: a partition whose lag is
// unknown (not polled since it was assigned) has no series rather than 0, and
// partitions no longer owned disappear. A failed poll keeps the previous values and
// counts sluice_consumer_lag_errors_total. Each poll is bounded by interval.
func (m *Metrics) PollLag(ctx context.Context, interval time.Duration, lag LagFunc, refresh <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, interval)
		l, err := lag(pctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			m.lagErrs.Inc()
			m.log.Debug("consumer lag poll failed", "err", err)
		default:
			m.SetLag(l)
		}
		select {
		case <-t.C:
		case <-refresh:
		case <-ctx.Done():
			return
		}
	}
}

// SetLag replaces the published lag with l.
func (m *Metrics) SetLag(l map[TopicPartition]int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lag.Reset()
	for tp, n := range l {
		m.lag.WithLabelValues(tp.Topic, itoa(tp.Partition)).Set(float64(n))
	}
	m.lagNow = l
	m.lagAt = time.Now()
}
