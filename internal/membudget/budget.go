package membudget

import "sync/atomic"

// Shares of the budget, in percent. Fetched records, the two batches of every
// partition and the duplicate filters together take at most 50%; the rest is
// headroom: the Go runtime's garbage between collections (the soft limit is at
// GoLimitPercent), the encoding buffer of every insert in flight, the Kafka and
// ClickHouse clients, goroutine stacks. The soft limit leaves the last 13% of the
// budget to what Go does not count: the binary's own resident pages (26–34 MB of RSS,
// the more when the binary was just written by the linker, as by go build); a lower
// one makes the collector run far more often once the batches fill their pool.
const (
	GoLimitPercent = 87
	FetchPercent   = 10
	BatchPercent   = 32
	DedupPercent   = 8
)

// PartitionOverhead is what an owned partition takes beyond its shares, as measured
// at 64 partitions through a ClickHouse hang (the encoded insert it has in flight,
// its goroutines, its batches' fixed structures and rollup maps, the client's
// per-partition state): the shares are divided from the budget less this for every
// partition owned (but at least a quarter of the budget).
const PartitionOverhead = 2 << 20

// IDBytes is what one remembered event id takes in a full duplicate filter, as
// measured on the heap: its 128-bit hash and timestamp in the ring (24 bytes) and
// its share of the index, which is between 47/128 and three-quarters full
// (11 to 22 bytes; 45 at MinDedupIDs).
const IDBytes = 46

// BatchOverheadPercent is the memory a batch holds per byte its Bytes() says, in
// percent, as measured on loadgen payments (schemas' TestBatchOverhead: raw,
// rollups and both, 1 to 12 MiB; 100-151%, the most in a raw batch whose columns
// have just grown): its columns grow by half when full and keep their capacity for
// reuse (a column is up to a third empty), and its rollup blocks are built beside
// the groups. A small batch's fixed structures are in PartitionOverhead; the event
// ids a worker keeps with a batch for the duplicate filter's table count in its
// size (pipeline).
const BatchOverheadPercent = 155

// MinBatchBytes is the smallest batch share (in Bytes()): with very many partitions
// a batch is still worth an insert. It is the one place the budget can be exceeded:
// beyond about 70 partitions with 256 MiB.
const MinBatchBytes = 128 << 10

// Split is how a budget divides among the partitions an instance owns.
type Split struct {
	Total      int64 // the whole budget, bytes
	Partitions int   // partitions owned; the shares assume at least one
	// Fetch is the fetched-record bytes one partition may hold before its fetching
	// pauses.
	Fetch int64
	// Batch is one batch's share (schemas.Batch.Bytes) of the memory, divided by
	// BatchOverheadPercent: the size a batch grows to at least before it is
	// flushed (BatchBytes). A partition has two batches (one filling while the
	// other is stored).
	Batch int64
	// DedupIDs is the most event ids one partition's duplicate filter remembers.
	DedupIDs int64
}

// shared is what the shares of a budget of total bytes divide among n owned
// partitions: the budget less their PartitionOverhead, but at least a quarter of it.
func shared(total, n int64) int64 { return max(total-n*PartitionOverhead, total/4) }

// SplitOf divides total among parts partitions (fewer than one count as one).
func SplitOf(total int64, parts int) Split {
	n := int64(max(parts, 1))
	base := shared(total, n)
	return Split{
		Total:      total,
		Partitions: parts,
		Fetch:      base * FetchPercent / 100 / n,
		Batch:      max(base*BatchPercent/BatchOverheadPercent/(2*n), MinBatchBytes),
		DedupIDs:   base * DedupPercent / 100 / n / IDBytes,
	}
}

// MinFetchBytes is the least memory FetchSize gives one fetch of a partition.
const MinFetchBytes = 16 << 10

// ResponsePercent is the part of the budget, in percent, that one fetch response
// may take once decoded (ResponseSize): the Kafka client buffers one per broker
// until it is polled, beside the fetch pool, in the headroom.
const ResponsePercent = 5

// FetchSize is the memory one fetch of one partition may take once decoded (its
// records' keys, values and bookkeeping, as the fetch pool counts them) when the
// source topics have partitions partitions in all (fewer than one count as one):
// half a partition's fetch share, so that two fetches of each of them fit in the
// fetch pool (a partition holds at most one fetch beyond its share, or two when its
// share is smaller than a fetch), and at least MinFetchBytes.
func FetchSize(total int64, partitions int) int64 {
	return max(SplitOf(total, partitions).Fetch/2, MinFetchBytes)
}

// ResponseSize is the memory one fetch response of all the partitions a broker
// leads may take once decoded: ResponsePercent of the budget, and at least one
// partition's FetchSize.
func ResponseSize(total int64, partitions int) int64 {
	return max(total*ResponsePercent/100, FetchSize(total, partitions))
}

// Budget is one process's memory budget and what is held against it now.
type Budget struct {
	total int64
	parts atomic.Int64
	// What the partitions hold now: for the operator (Usage), and for the pools
	// shared by need (FetchBytes, BatchBytes).
	fetched, batched, ids atomic.Int64
	dedupCap              atomic.Int64 // SetDedupCap
}

// New returns a budget of total bytes with no partitions owned.
func New(total int64) *Budget { return &Budget{total: total} }

// Total is the whole budget in bytes.
func (b *Budget) Total() int64 { return b.total }

// GoLimit is the Go runtime's soft memory limit that goes with the budget
// (debug.SetMemoryLimit).
func (b *Budget) GoLimit() int64 { return b.total * GoLimitPercent / 100 }

// Owned adds delta to the partitions owned (negative on revoke or loss).
func (b *Budget) Owned(delta int) { b.parts.Add(int64(delta)) }

// Split is the division at the partitions owned now.
func (b *Budget) Split() Split { return SplitOf(b.total, int(b.parts.Load())) }

// FetchBytes is the fetched-record bytes a partition that holds own of them may
// hold now before its fetching pauses.
//
// The owned partitions' fetch shares (Split.Fetch) form one pool, as the batches'
// do (BatchBytes): a partition may go on fetching beyond its share while the pool
// has room, into what idle partitions leave of it, and may always hold its share,
// whatever the others hold. A partition that pauses at this size (and resumes
// below it, as package consumers does at half of it) therefore holds at most the
// larger of its share and what the others leave of the pool, plus the one fetch
// that arrives after the check: the owned partitions together hold at most the
// pool plus one fetch each, and more only while partitions that were idle take
// back their shares from one that grew into them, until its worker takes it down
// to its share (the pool is full from then on, so it resumes only at half its
// share).
func (b *Budget) FetchBytes(own int64) int64 {
	s := b.Split()
	free := int64(max(s.Partitions, 1))*s.Fetch - b.fetched.Load()
	return max(s.Fetch, max(own, 0)+free)
}

// BatchBytes is the size (schemas.Batch.Bytes) at which a batch is flushed now,
// for a partition whose two batches hold own bytes (as reported with Hold).
//
// The owned partitions' batches share one pool, two batch shares (Split.Batch)
// per partition: partitions are unbalanced (a popular key's partition takes many
// times the events of another, and partitions that caught up sit idle), so memory
// an idle partition leaves serves the busy ones. A batch may grow to about its
// partition's last batch plus the partition's equal part (one in Partitions) of
// the pool left free, so that the partitions together never claim more than is
// free and a lone busy partition reaches most of the pool within a few batches.
// Memory the duplicate filters hold beyond their pool (their floor of MinDedupIDs
// can outweigh it) is taken from the free part of the batch pool. A batch is
// never below its share, which every partition has whatever the others hold: no
// partition is starved, and once the pool is full every batch is flushed at its
// share, so the memory a busy partition took is given back within two of its
// flushes (until then the pool is exceeded by what partitions that were idle take
// back of their shares).
func (b *Budget) BatchBytes(own int64) int {
	s := b.Split()
	n := int64(max(s.Partitions, 1))
	free := 2*n*s.Batch - b.dedupOver(s) - b.batched.Load()
	if free <= 0 {
		return int(s.Batch)
	}
	return int(max(s.Batch, max(own, 0)/2+free/(2*n)))
}

// dedupOver is how far the duplicate filters hold more than their pool (their
// MinDedupIDs floor can), in batch bytes: the batch pool gives it up, so that what
// the partitions hold stays within the pools while the filters fill.
func (b *Budget) dedupOver(s Split) int64 {
	pool := shared(s.Total, int64(max(s.Partitions, 1))) * DedupPercent / 100
	return max(b.ids.Load()*IDBytes-pool, 0) * 100 / BatchOverheadPercent
}

// MinDedupIDs is the fewest ids a partition's duplicate filter remembers, whatever
// the budget (~2.3 MB per partition): producers retry within seconds, and a filter
// that forgets sooner counts their retries twice. Many partitions on a small budget
// then exceed the budget rather than lose that.
const MinDedupIDs = 50_000

// DedupCap is the cap of every partition's duplicate filter: configured
// (SLUICE_DEDUP_MAX_IDS, 0 = none), lowered to the filter share of a budget of
// total bytes divided among every partition of the source topics (sources), but
// not below MinDedupIDs. Unlike the other shares it never follows the partitions
// owned: it is fixed for the life of the instance and the same on every instance
// with the same budget, because a replay must rebuild the filter with the cap its
// first attempt had, or the two decide differently. sources < 1 leaves configured.
func DedupCap(total int64, sources, configured int) int {
	if sources < 1 {
		return configured
	}
	share := int(max(SplitOf(total, sources).DedupIDs, MinDedupIDs))
	if configured == 0 {
		return share
	}
	return min(configured, share)
}

// SetDedupCap records the duplicate filters' cap (DedupCap) for Usage; it is set
// once, at start.
func (b *Budget) SetDedupCap(ids int) { b.dedupCap.Store(int64(ids)) }

// Fetched adds delta bytes to the fetched records the partitions hold.
func (b *Budget) Fetched(delta int64) { b.fetched.Add(delta) }

// Hold adds deltas to the batch bytes (schemas.Batch.Bytes) and the remembered ids
// the workers hold.
func (b *Budget) Hold(batchBytes, ids int64) {
	if batchBytes != 0 {
		b.batched.Add(batchBytes)
	}
	if ids != 0 {
		b.ids.Add(ids)
	}
}

// Usage is where the budget goes now.
type Usage struct {
	Split
	GoLimit int64 // the Go soft memory limit that goes with the budget
	// Fetched, Batched and Dedup are the bytes held now in fetched records, in
	// batches (their Bytes() × BatchOverheadPercent / 100), and in duplicate filters (ids ×
	// IDBytes).
	Fetched, Batched, Dedup int64
	// DedupCap is the most ids one partition's duplicate filter remembers
	// (SetDedupCap).
	DedupCap int64
}

// Usage reports the split and what is held now.
func (b *Budget) Usage() Usage {
	return Usage{Split: b.Split(), GoLimit: b.GoLimit(),
		Fetched: b.fetched.Load(), Batched: b.batched.Load() * BatchOverheadPercent / 100, Dedup: b.ids.Load() * IDBytes,
		DedupCap: b.dedupCap.Load()}
}
