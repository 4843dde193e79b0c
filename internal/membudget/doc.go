// Package membudget divides one process-wide memory budget (SLUICE_MEMORY_LIMIT)
// among the things Sluice holds in proportion to its load: the fetched records
// waiting for the workers, the batches being filled and stored, and the
// producer-duplicate filters. It owns the budget's arithmetic and where its default
// comes from (the container's cgroup memory limit); it knows nothing of Kafka or
// ClickHouse.
//
// The budget is split into fixed pools (Split), and each pool is shared equally
// among the partitions the instance owns now: the consumer calls Owned as partitions
// are assigned and revoked, and reads FetchBytes to decide when a partition's
// fetching pauses; the workers read BatchBytes once per fetched slice, so a new
// assignment shrinks every partition's share at its next batch and a revoke grows
// them. The fetch and batch pools are shared by need: a busy partition's fetched
// records and batches grow into what idle partitions leave of them (FetchBytes,
// BatchBytes), never below its equal share. The duplicate filters' share is the
// exception: DedupCap fixes it at start
// from every partition of the source topics, so that replays decide as their
// first attempts did. The rest of the budget is headroom for the Go
// runtime's garbage, the inserts' encoding buffers and the clients; the Go soft
// memory limit is GoLimit.
//
// # Concurrency
//
// A *Budget is safe for concurrent use; every method is a few atomic operations, so
// it is called per fetch or per batch, never per event.
//
// Usage:
//
//	total, from := membudget.Resolve(0, "/") // auto: 75% of the cgroup limit, else 256 MiB
//	b := membudget.New(total)
//	debug.SetMemoryLimit(b.GoLimit())
//	b.Owned(+8)
//	b.Hold(+rowBytes, 0)       // a worker's batches grew
//	limit := b.BatchBytes(own) // flush its batch at this size
package membudget
