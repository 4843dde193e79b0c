package pipeline

import (
	"strings"
	"time"
)

// dedupSlack widens the horizon when the filter is rebuilt or pruned, so that Kafka
// timestamps that are slightly out of order within a partition still find their
// earlier copy.
const dedupSlack = time.Hour

// dedup is one partition's producer-duplicate filter. An event is a duplicate when an
// earlier admitted event of the partition had the same id and a Kafka timestamp no
// more than horizon before the current record's. It remembers the ids admitted since
// the last flush so the flush can store them.
type dedup struct {
	horizon int64 // nanoseconds
	seen    map[string]int64
	// order holds admitted ids in arrival order, for pruning.
	order []seenID
	head  int
	// ts and offset describe the record being added (set by the worker before Add).
	ts     int64
	offset int64
	// pending are the ids admitted since the last flush.
	pending []seenID
}

type seenID struct {
	id     string
	ts     int64
	offset int64
}

func newDedup(horizon time.Duration) *dedup {
	return &dedup{horizon: int64(horizon), seen: make(map[string]int64)}
}

// reset empties the filter in place (the batch keeps pointing at it).
func (d *dedup) reset() {
	clear(d.seen)
	d.order, d.head, d.pending = d.order[:0], 0, d.pending[:0]
}

// load adds an id stored before the worker started.
func (d *dedup) load(id string, ts int64) {
	if prev, ok := d.seen[id]; ok && prev >= ts {
		return
	}
	d.seen[id] = ts
	d.order = append(d.order, seenID{id: id, ts: ts})
}

// Admit implements schemas.Dedup.
func (d *dedup) Admit(id string, _ int64, _ int64) bool {
	if prev, ok := d.seen[id]; ok && prev >= d.ts-d.horizon {
		return false
	}
	// The batch's id shares memory it reuses after a flush: keep a copy.
	id = strings.Clone(id)
	d.seen[id] = d.ts
	s := seenID{id: id, ts: d.ts, offset: d.offset}
	d.order = append(d.order, s)
	d.pending = append(d.pending, s)
	return true
}

// prune forgets ids too old to match a record at or after now.
func (d *dedup) prune(now int64) {
	limit := now - d.horizon - int64(dedupSlack)
	for d.head < len(d.order) && d.order[d.head].ts < limit {
		s := d.order[d.head]
		if d.seen[s.id] == s.ts {
			delete(d.seen, s.id)
		}
		d.order[d.head] = seenID{}
		d.head++
	}
	// Compact when more than half of the queue is spent.
	if d.head > 1024 && d.head*2 > len(d.order) {
		n := copy(d.order, d.order[d.head:])
		clear(d.order[n:])
		d.order = d.order[:n]
		d.head = 0
	}
}
