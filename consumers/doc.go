// Package consumers owns Kafka consumer-group membership for Sluice: it joins the group
// (cooperative-sticky), fetches the configured topics, hands each assigned partition's
// records to that partition's Worker, pauses fetching a partition whose worker falls
// behind (its queue at Options.QueueDepth, or its records at what the memory budget,
// Options.Memory, lets it hold) and, while every partition with records left to
// fetch is paused so, the partitions that have caught up too (a fetch of theirs
// alone would be held at the broker, and a busy partition resumed meanwhile
// would wait behind it), and commits the offsets the workers mark. With
// Options.Fetch it sizes fetches by the memory their records take once decoded, the
// unit the memory budget counts, learning from the fetched batches how far they
// expand (fetchsize.go).
//
// It knows nothing of decoding or ClickHouse: a Worker (declared here, implemented by
// package pipeline) does the work and marks the records whose effects are stored.
//
// # Concurrency and lifecycle
//
// Group.Run polls in the calling goroutine and owns one goroutine pair per assigned
// partition (a feeder and the worker); it stops and waits for all of them before it
// returns. On revoke, the partition's input is closed, the worker flushes, and marked
// offsets are committed before the partition is given up. On lost (the member was
// fenced), the worker is cancelled and nothing is committed: the next owner replays.
// When Run's context is done: fetching stops, every worker flushes (bounded by
// Options.DrainTimeout), marked offsets are committed, and the member leaves the group.
//
// A topic deleted and created again (fetches fail with UNKNOWN_TOPIC_ID) is flushed
// without marking, purged from the client and added back, so its new incarnation is
// assigned afresh; workers that implement TopicIDSetter learn the topic id of their
// records before the first of them, those that implement BacklogSetter can ask how
// many fetched slices wait for them, and those that implement HighWatermarkSetter
// where their partition ended at the latest fetch. Fetch errors are logged at most once per topic
// per minute, and a poll that brings only errors is followed by a short backoff.
//
// Usage:
//
//	g, err := consumers.New(consumers.Options{Brokers: b, Group: "sluice", Topics: t}, factory)
//	err = g.Run(ctx) // returns after a clean leave when ctx is done
package consumers
