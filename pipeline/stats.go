package pipeline

import "sync/atomic"

// Stats counts what the workers did. Workers add to it once per fetched slice or per
// flush, never per event. All fields are safe to read at any time.
type Stats struct {
	Records      atomic.Int64 // records read from Kafka
	Valid        atomic.Int64 // valid events added to batches
	Invalid      atomic.Int64 // records sent to the dead-letter topic
	Duplicates   atomic.Int64 // valid events dropped as producer duplicates
	Flushes      atomic.Int64 // batches stored
	Committable  atomic.Int64 // records stored or dead-lettered and marked for commit
	Rows         atomic.Int64 // rows inserted, all tables
	StoreRetries atomic.Int64 // failed store attempts that were retried
	Replays      atomic.Int64 // flushes cut at a ledger range (replays after a crash or rebalance)
	StoreNanos   atomic.Int64 // time spent in successful stores
}
