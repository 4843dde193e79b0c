// Package metrics exposes what one Sluice instance does as Prometheus metrics, on
// its own registry (never the global one).
//
// It owns the registry, a collector that reads the pipeline's and the consumer's
// counters at scrape time (no work on the hot path), a timing decorator for the
// pipeline's Sink, a franz-go hook for commit latency, franz-go's own client metrics
// (kprom) and the consumer-lag gauge. It does not serve HTTP (package admin does) and
// does not decide what is counted: pipeline.Stats and the consumer group do.
//
// # Metrics
//
// From pipeline.Stats and the consumer group, read at scrape time:
//
//	sluice_records_consumed_total{topic}          counter  records read from Kafka
//	sluice_events_valid_total{topic}              counter  valid events added to batches
//	sluice_records_invalid_total{topic,reason}    counter  invalid records of flushed batches, by reason
//	sluice_records_dead_lettered_total{topic}     counter  records sent to the dead-letter topic
//	sluice_duplicates_dropped_total{topic}        counter  valid events dropped as producer duplicates
//	sluice_flushes_total                          counter  batches stored
//	sluice_records_committable_total{topic}       counter  records stored or dead-lettered and marked for commit
//	sluice_store_retries_total                    counter  failed ClickHouse calls (ledger, store, reads) that were retried
//	sluice_replays_total                          counter  flushes cut at a ledger range (replays)
//	sluice_assigned_partitions                    gauge    partitions this instance owns
//	sluice_paused_partitions                      gauge    owned partitions whose fetching is paused (backpressure)
//	sluice_queue_depth                            gauge    fetched slices waiting for their worker, all partitions
//	sluice_partition_blocked{topic,partition,reason}  gauge  1 while a partition makes no progress until something
//	                                                         outside Sluice is fixed (reason dead_letter: its dead
//	                                                         letters cannot be written; clickhouse_permanent:
//	                                                         ClickHouse refuses its stores, e.g. a missing table
//	                                                         or column, or a revoked grant); absent otherwise
//	sluice_memory_budget_bytes                    gauge    the memory budget (SLUICE_MEMORY_LIMIT resolved)
//	sluice_memory_share_bytes{share}              gauge    one partition's share now: fetch (before pausing), batch (one batch)
//	sluice_memory_held_bytes{held}                gauge    held now, all partitions: fetched, batches, dedup
//	sluice_build_info{version,commit,go_version}  gauge    always 1 (see internal/buildinfo)
//
// topic is the source topic. The workers keep one pipeline.TopicStats per topic
// (looked up once per worker), so the labels cost the hot path nothing: no map, no
// lock, just a second atomic add per fetched slice.
//
// From the Sink decorator (one observation per Store call, never per event):
//
//	sluice_insert_duration_seconds{result}        histogram  one Store call (all blocks of a flush); result ok|error
//	sluice_rows_inserted_total{table}             counter    rows stored, per table
//	sluice_batches_inserted_total{table}          counter    insert blocks stored, per table
//	sluice_rollup_events_total{table}             counter    events folded into the rows of a rollup table
//	sluice_rollup_compression_ratio               gauge      rollup events per rollup row, all rollup tables
//
// From the pipeline's Observer (Metrics.Stored; one lock and up to 64 observations per
// flush, never per event):
//
//	sluice_event_freshness_seconds{topic}         histogram  Kafka record timestamp → the insert that stored the event ended
//	sluice_event_time_lag_seconds{topic}          histogram  the event's occurred_at → stored (flushes with raw rows only)
//
// Both count stored events: a flush places its events in the buckets by a sample of
// up to 32 of them (pipeline.Flush.Published, spread evenly over the batch in offset
// order; for event time, evenly spaced raw rows), each sample standing for its share of
// the flush's events, so _count is the events stored and the quantiles are per event.
//
// From the Kafka clients:
//
//	sluice_kafka_commit_duration_seconds{result}  histogram  OffsetCommit round trips of the consumer; result ok|error
//	sluice_consumer_lag{topic,partition}          gauge      end offset minus committed offset of each owned partition,
//	                                                         refreshed by PollLag every few seconds and after each
//	                                                         commit; absent while unknown (not 0)
//	sluice_consumer_lag_errors_total              counter    failed lag polls
//	sluice_kafka_*                                           franz-go's kprom plugin (connects, bytes, buffered records)
//
// plus the standard go_* and process_* collectors.
//
// # Concurrency
//
// Every method is safe for concurrent use. PollLag runs until its context is done;
// its caller owns that goroutine.
//
// # Usage
//
//	m := metrics.New(metrics.Sources{Stats: stats, Queues: group.Queues})
//	sink := m.Sink(chClient, rollupTables...)            // pass to pipeline.Deps, with Observer: m
//	opts := append(opts, kgo.WithHooks(m.KafkaHooks()...)) // consumer client
//	go m.PollLag(ctx, 5*time.Second, lagFunc, refresh)
//	http.Handle("/metrics", m.Handler())
package metrics
