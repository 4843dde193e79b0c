package pipeline

import (
	"hash/maphash"
	"time"
)

// dedupSlack widens the horizon when the filter is rebuilt or pruned, so that Kafka
// timestamps that are slightly out of order within a partition still find their
// earlier copy.
const dedupSlack = time.Hour

// idHash is a 128-bit hash of an event id: two independently seeded 64-bit maphash
// values. The seeds are per process, which is enough: the filter is rebuilt from the
// ids stored as strings, never from hashes. A false match (two ids with the same
// 128 bits) is about as likely as 10^-20 over a billion ids.
type idHash [2]uint64

var hashSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

func hashID(id string) idHash {
	return idHash{maphash.String(hashSeeds[0], id), maphash.String(hashSeeds[1], id)}
}

// dedup is one partition's producer-duplicate filter. An event is a duplicate when an
// earlier admitted event of the partition had the same id and a Kafka timestamp no
// more than horizon before the current record's. It remembers at most max ids (the
// most recently admitted), as 128-bit hashes (about 60 bytes each), and, when the
// flush stores them as EventIDsTable rows (keep), the ids admitted since the last
// flush as strings.
type dedup struct {
	horizon int64 // nanoseconds
	max     int   // ids remembered at most; 0 = no limit
	seen    map[idHash]int64
	// order holds admitted ids in arrival (offset) order, for pruning.
	order []seenHash
	head  int
	// pending are the ids admitted since the last flush, when keep; they travel
	// with the batch to its store, as the event-ids block's columns. Without keep
	// the batch's raw rows hold them.
	pending pendingIDs
	keep    bool
}

type seenHash struct {
	h  idHash
	ts int64
}

func newDedup(horizon time.Duration, max int, keep bool) *dedup {
	return &dedup{horizon: int64(horizon), max: max, seen: make(map[idHash]int64), keep: keep}
}

// reset empties the filter in place (the batches keep pointing at it).
func (d *dedup) reset() {
	clear(d.seen)
	d.order, d.head = d.order[:0], 0
	d.pending.reset()
}

// load adds an id stored before the worker started; ids come in offset order.
func (d *dedup) load(id string, ts int64) {
	h := hashID(id)
	if prev, ok := d.seen[h]; ok && prev >= ts {
		return
	}
	d.remember(h, ts)
}

// Admit implements schemas.Dedup: ts is the record's Kafka timestamp in Unix
// nanoseconds.
func (d *dedup) Admit(id string, ts, offset int64) bool {
	h := hashID(id)
	if prev, ok := d.seen[h]; ok && prev >= ts-d.horizon {
		return false
	}
	d.remember(h, ts)
	if d.keep {
		// The batch's id is transient: copy it for the event-ids block.
		d.pending.add(id, ts, offset)
	}
	return true
}

func (d *dedup) remember(h idHash, ts int64) {
	d.seen[h] = ts
	d.order = append(d.order, seenHash{h: h, ts: ts})
	if d.max > 0 && len(d.order)-d.head > d.max {
		d.forget()
	}
}

// forget drops the oldest remembered id.
func (d *dedup) forget() {
	s := d.order[d.head]
	if d.seen[s.h] == s.ts {
		delete(d.seen, s.h)
	}
	d.order[d.head] = seenHash{}
	d.head++
}

// prune forgets ids too old to match a record at or after now.
func (d *dedup) prune(now int64) {
	limit := now - d.horizon - int64(dedupSlack)
	for d.head < len(d.order) && d.order[d.head].ts < limit {
		d.forget()
	}
	// Compact when more than half of the queue is spent.
	if d.head > 1024 && d.head*2 > len(d.order) {
		n := copy(d.order, d.order[d.head:])
		clear(d.order[n:])
		d.order = d.order[:n]
		d.head = 0
	}
}
