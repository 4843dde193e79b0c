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
// most recently admitted) and, when the flush stores them as EventIDsTable rows
// (keep), the ids admitted since the last flush as strings.
//
// The remembered ids are a ring of {hash, timestamp} entries in arrival (offset)
// order, pruned from its head, and an open-addressing index over it: linear probing
// in a power-of-two table of 8-byte slots, each the low 32 bits of the hash's first
// half (the slot's home and a tag that spares most probes a look at the ring) and
// the entry's ring position. The index points at the newest entry of each id
// (whose timestamp is the one that decides); it is at most three-quarters full and
// deletes by shifting back, so a lookup reads one or two cache lines of it and, on a
// tag match, one ring entry. An id costs about 24 bytes of ring and 11–21 of index
// (membudget.IDBytes). Slots hold 32-bit positions and homes, so a filter holds
// fewer than 2^31 ids (the memory budget's share caps it far below).
type dedup struct {
	horizon int64 // nanoseconds
	max     int   // ids remembered at most; 0 = no limit

	// ring[head], ring[head+1], … (wrapping) are the n remembered ids, oldest first.
	ring    []seenHash
	head, n int
	// slots is the index: 0 is empty, otherwise tag<<32 | ring position+1.
	slots []uint64
	mask  uint64 // len(slots)-1
	used  int    // slots not empty

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

// dedupMinSlots is the index's initial size (a power of two); the ring starts at
// three-quarters of it.
const dedupMinSlots = 64

func newDedup(horizon time.Duration, max int, keep bool) *dedup {
	d := &dedup{horizon: int64(horizon), max: max, keep: keep}
	d.ring = make([]seenHash, d.ringCap(dedupMinSlots*3/4))
	d.slots, d.mask = make([]uint64, dedupMinSlots), dedupMinSlots-1
	return d
}

// ringCap is want entries, or the cap and the one entry remember holds beyond it.
func (d *dedup) ringCap(want int) int {
	if d.max > 0 {
		return min(want, d.max+1)
	}
	return want
}

// reset empties the filter in place (the batches keep pointing at it).
func (d *dedup) reset() {
	clear(d.slots)
	d.used, d.head, d.n = 0, 0, 0
	d.pending.reset()
}

// load adds an id stored before the worker started; ids come in offset order.
func (d *dedup) load(id string, ts int64) {
	h := hashID(id)
	i, ok := d.find(h)
	if ok && d.at(i).ts >= ts {
		return
	}
	d.remember(h, ts, i, ok)
}

// Admit implements schemas.Dedup: ts is the record's Kafka timestamp in Unix
// nanoseconds.
func (d *dedup) Admit(id string, ts, offset int64) bool {
	h := hashID(id)
	i, ok := d.find(h)
	if ok && d.at(i).ts >= ts-d.horizon {
		return false
	}
	d.remember(h, ts, i, ok)
	if d.keep {
		// The batch's id is transient: copy it for the event-ids block.
		d.pending.add(id, ts, offset)
	}
	return true
}

// tag is what a slot keeps of h: the low 32 bits of its first half, of which the
// low bits are the slot's home.
func tag(h idHash) uint64 { return uint64(uint32(h[0])) << 32 }

// find returns the slot of h, or the empty slot where h would go.
func (d *dedup) find(h idHash) (uint64, bool) {
	t := tag(h)
	for i := h[0] & d.mask; ; i = (i + 1) & d.mask {
		s := d.slots[i]
		if s == 0 {
			return i, false
		}
		if s&^0xffffffff == t && d.ring[uint32(s)-1].h == h {
			return i, true
		}
	}
}

// at is the ring entry that the full slot i points at.
func (d *dedup) at(i uint64) *seenHash { return &d.ring[uint32(d.slots[i])-1] }

// remember appends h to the ring and points the index at it: at slot i, which is
// h's when ok and otherwise the empty slot find returned for it.
func (d *dedup) remember(h idHash, ts int64, i uint64, ok bool) {
	if d.n == len(d.ring) {
		d.growRing()
	}
	p := d.head + d.n
	if p >= len(d.ring) {
		p -= len(d.ring)
	}
	d.ring[p] = seenHash{h: h, ts: ts}
	d.n++
	if !ok && (d.used+1)*4 > len(d.slots)*3 {
		d.growIndex()
		i, _ = d.find(h) // the empty slot: the ring entry written above is not indexed yet
	}
	if !ok {
		d.used++
	}
	d.slots[i] = tag(h) | uint64(p+1)
	if d.max > 0 && d.n > d.max {
		d.forget()
	}
}

// forget drops the oldest remembered id, and its slot if it is the id's newest entry.
func (d *dedup) forget() {
	s := &d.ring[d.head]
	if i, ok := d.find(s.h); ok && d.at(i).ts == s.ts {
		d.remove(i)
	}
	if d.head++; d.head == len(d.ring) {
		d.head = 0
	}
	d.n--
}

// remove empties slot i and shifts back the slots after it that would no longer
// be found past the hole.
func (d *dedup) remove(i uint64) {
	d.used--
	for j := (i + 1) & d.mask; ; j = (j + 1) & d.mask {
		s := d.slots[j]
		if s == 0 {
			break
		}
		// The slot at j stays unless its home is cyclically outside (i, j].
		if home := (s >> 32) & d.mask; (j-home)&d.mask < (j-i)&d.mask {
			continue
		}
		d.slots[i] = s
		i = j
	}
	d.slots[i] = 0
}

// growRing doubles the ring (up to the cap and one), moving its entries to the
// start and the index's positions with them.
func (d *dedup) growRing() {
	old, head := d.ring, uint64(d.head)
	d.ring = make([]seenHash, d.ringCap(2*len(old)))
	copy(d.ring, old[head:])
	copy(d.ring[len(old)-int(head):], old[:head])
	size := uint64(len(old))
	for i, s := range d.slots {
		if s != 0 {
			p := (uint64(uint32(s)-1) + size - head) % size
			d.slots[i] = s&^0xffffffff | (p + 1)
		}
	}
	d.head = 0
}

// growIndex doubles the index. A slot's tag holds its home in the larger table too,
// so the ring is not read.
func (d *dedup) growIndex() {
	old := d.slots
	d.slots, d.mask = make([]uint64, 2*len(old)), uint64(2*len(old)-1)
	for _, s := range old {
		if s != 0 {
			i := (s >> 32) & d.mask
			for d.slots[i] != 0 {
				i = (i + 1) & d.mask
			}
			d.slots[i] = s
		}
	}
}

// len is the number of ids remembered.
func (d *dedup) len() int { return d.n }

// prune forgets ids too old to match a record at or after now.
func (d *dedup) prune(now int64) {
	limit := now - d.horizon - int64(dedupSlack)
	for d.n > 0 && d.ring[d.head].ts < limit {
		d.forget()
	}
}
