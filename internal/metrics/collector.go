package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/pipeline"
)

// collector reads pipeline.Stats and the consumer's queues at scrape time. The
// per-record counters are labelled with their source topic: each worker adds to its
// topic's pipeline.TopicStats (looked up once), and the collector reads them all here.
type collector struct{ m *Metrics }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
}

var (
	descRecords     = desc("records_consumed_total", "Records read from Kafka and handed to the pipeline, per source topic.", "topic")
	descValid       = desc("events_valid_total", "Valid events added to batches, per source topic.", "topic")
	descInvalid     = desc("records_invalid_total", "Invalid records of flushed batches, per source topic and reason (schemas.Invalid.Reason).", "topic", "reason")
	descDeadLetters = desc("records_dead_lettered_total", "Records sent to the dead-letter topic, per source topic.", "topic")
	descDuplicates  = desc("duplicates_dropped_total", "Valid events dropped as producer duplicates (same event_id within the dedup horizon), per source topic.", "topic")
	descFlushes     = desc("flushes_total", "Batches stored.")
	descCommittable = desc("records_committable_total", "Records stored or dead-lettered and marked for commit, per source topic.", "topic")
	descRetries     = desc("store_retries_total", "Failed ClickHouse calls of the pipeline (ledger, store, reads) that were retried.")
	descReplays     = desc("replays_total", "Flushes cut at a recorded ledger range (replays after a crash or rebalance).")
	descVerified    = desc("flushes_verified_total", "Flushes whose outcome was unknown (a failed store attempt, or a replay) that were checked in ClickHouse afterwards.")
	descRepaired    = desc("rows_repaired_total", "Rows those checks found missing (ClickHouse kept the flush's token but lost its part, e.g. killed mid-insert) and stored again.")
	descAssigned    = desc("assigned_partitions", "Partitions this instance owns.")
	descPaused      = desc("paused_partitions", "Owned partitions whose fetching is paused because their queue is full.")
	descQueue       = desc("queue_depth", "Fetched slices waiting for their partition's worker, summed over owned partitions.")
	descBlocked     = desc("partition_blocked", "1 for each owned partition that makes no progress until something outside Sluice is fixed (reason: dead_letter = its dead letters cannot be written, clickhouse_permanent = ClickHouse refuses its stores until the schema or the grants are fixed); it retries and resumes by itself.", "topic", "partition", "reason")
	descMemBudget   = desc("memory_budget_bytes", "The process's memory budget (SLUICE_MEMORY_LIMIT, or 75% of the cgroup memory limit, else 256 MiB).")
	descMemShare    = desc("memory_share_bytes", "One owned partition's share of the budget now: fetch = fetched records it may always hold before its fetching pauses, batch = what one batch may always grow to before it flushes (busy partitions grow beyond it into the shared pool).", "share")
	descMemHeld     = desc("memory_held_bytes", "Bytes held against the budget now, all partitions: fetched = records waiting for the workers, batches = rows in batches, dedup = producer-duplicate filters.", "held")
	descRatio       = desc("rollup_compression_ratio", "Events per stored rollup row, over all rollup tables since start (0 before any).")
	descBuild       = desc("build_info", "Always 1; the labels identify the running binary.", "version", "commit", "go_version")
)

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRecords, descValid, descInvalid, descDeadLetters, descDuplicates,
		descFlushes, descCommittable, descRetries, descReplays, descVerified, descRepaired, descAssigned, descPaused, descQueue, descBlocked, descMemBudget, descMemShare, descMemHeld, descRatio, descBuild} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	if s := c.m.src.Stats; s != nil {
		s.Topics(func(topic string, t *pipeline.TopicStats) {
			counter(descRecords, t.Records.Load(), topic)
			counter(descValid, t.Valid.Load(), topic)
			counter(descDeadLetters, t.Invalid.Load(), topic)
			counter(descDuplicates, t.Duplicates.Load(), topic)
			counter(descCommittable, t.Committable.Load(), topic)
			t.InvalidByReason(func(reason string, n int64) { counter(descInvalid, n, topic, reason) })
		})
		counter(descFlushes, s.Flushes.Load())
		counter(descRetries, s.StoreRetries.Load())
		counter(descReplays, s.Replays.Load())
		counter(descVerified, s.Verified.Load())
		counter(descRepaired, s.Repaired.Load())
	}
	if c.m.src.Queues != nil {
		qs := c.m.src.Queues()
		paused, queued := 0, 0
		for _, q := range qs {
			queued += q.Queued
			if q.Paused {
				paused++
			}
		}
		gauge(descAssigned, float64(len(qs)))
		gauge(descPaused, float64(paused))
		gauge(descQueue, float64(queued))
	}
	if c.m.src.Blocked != nil {
		for _, b := range c.m.src.Blocked() {
			ch <- prometheus.MustNewConstMetric(descBlocked, prometheus.GaugeValue, 1, b.Topic, strconv.Itoa(int(b.Partition)), b.Reason)
		}
	}
	if c.m.src.Memory != nil {
		u := c.m.src.Memory()
		gauge(descMemBudget, float64(u.Total))
		labelled := func(d *prometheus.Desc, v int64, label string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), label)
		}
		labelled(descMemShare, u.Fetch, "fetch")
		labelled(descMemShare, u.Batch, "batch")
		labelled(descMemHeld, u.Fetched, "fetched")
		labelled(descMemHeld, u.Batched, "batches")
		labelled(descMemHeld, u.Dedup, "dedup")
	}
	gauge(descRatio, c.m.RollupRatio())
	b := c.m.build
	ch <- prometheus.MustNewConstMetric(descBuild, prometheus.GaugeValue, 1, b.Version, b.Commit(), b.GoVersion)
}
