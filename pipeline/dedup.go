package pipeline

import (
	"hash/maphash"
	"time"

	"github.com/sluicehq/sluice/schemas"
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
// (keep), the ids admitted since the last flush as strings. The horizon is at
// least 0 (the configuration refuses less), so an id's remembered entries have
// increasing timestamps and an id is forgotten with its newest entry.
//
// The remembered ids are a ring of {hash, timestamp} entries in arrival (offset)
// order, pruned from its head, and an open-addressing index over it: linear probing
// in a power-of-two table of 8-byte slots, each the low 32 bits of the hash's first
// half (the slot's home and a tag that spares most probes a look at the ring) and
// the entry's sequence number (entries are numbered as they are remembered, mod
// 2^32). The index points at the newest entry of each id (whose timestamp is the
// one that decides). Forgetting an entry leaves its slot in place, stale: a slot
// counts only while its number is one of the ring's, so forgetting touches the
// ring alone, and the slot a lookup would have needed to find again (a cache miss
// per admitted id, in a full filter) is not read. Stale slots are dropped in one
// sequential pass (purge) when the index is three-quarters full, which doubles it
// instead if what is left is still almost that full; so it is between 47/128
// (about three-eighths) and three-quarters full, a lookup reads one or two
// cache lines of it and, on a tag match, one ring entry. An id costs about 24 bytes of ring and
// 11–22 of index (membudget.IDBytes). Slots hold 32-bit numbers and homes, so a
// filter holds fewer than 2^30 ids (the memory budget's share caps it far below).
type dedup struct {
	horizon int64 // nanoseconds
	max     int   // ids remembered at most; 0 = no limit

	// ring[head], ring[head+1], … (wrapping) are the n remembered ids, oldest
	// first; ring[head] is entry number first.
	ring    []seenHash
	head, n int
	first   uint32
	// slots is the index: 0 is empty, otherwise tag | entry number.
	slots []uint64
	mask  uint64 // len(slots)-1
	used  int    // slots not empty, stale ones included
	// numbered counts the entries remembered since the last purge: a stale slot
	// must be gone before the numbers wrap around to it.
	numbered int

	// pending are the ids admitted since the last flush, when keep; they travel
	// with the batch to its store, as the event-ids block's columns. Without keep
	// the batch's raw rows hold them.
	pending pendingIDs
	keep    bool

	// pre is the id Prefetch hashed last, copied (the id it is given points
	// into a record buffer that is recycled), and preH its hash: Admit, given
	// the same id once the record is validated, compares it instead of hashing
	// it again. preLen is its length, -1 when there is none.
	pre    [schemas.MaxEventIDBytes]byte
	preLen int
	preH   idHash
}

type seenHash struct {
	h  idHash
	ts int64
}

// dedupRenumber is how many entries remember numbers before it purges the index
// anyway. A stale slot's number is then behind the ring's first by at most the
// ids remembered at the last purge and the entries numbered since (only they can
// be forgotten), fewer than 2^31: it cannot come round into the ring's window of
// numbers (mod 2^32) before the next purge drops it.
const dedupRenumber = 1 << 30

// dedupMinSlots is the index's initial size (a power of two); the ring starts at
// three-quarters of it.
const dedupMinSlots = 64

func newDedup(horizon time.Duration, max int, keep bool) *dedup {
	d := &dedup{horizon: int64(horizon), max: max, keep: keep, preLen: -1}
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
	d.used, d.head, d.n, d.first, d.numbered = 0, 0, 0, 0, 0
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

// Prefetch starts loading the index slot where Admit(id, …) will begin its probe,
// so that the cache miss it costs in a large filter overlaps the rest of the
// record's decoding. It changes nothing Admit decides.
func (d *dedup) Prefetch(id string) {
	h := hashID(id)
	prefetch(&d.slots[d.start(h)])
	d.preLen = -1
	if len(id) <= len(d.pre) {
		d.preLen, d.preH = copy(d.pre[:], id), h
	}
}

// hash is hashID(id), from Prefetch when it was given id last.
func (d *dedup) hash(id string) idHash {
	if len(id) == d.preLen && id == string(d.pre[:len(id)]) {
		return d.preH
	}
	return hashID(id)
}

// Admit implements schemas.Dedup: ts is the record's Kafka timestamp in Unix
// nanoseconds.
func (d *dedup) Admit(id string, ts, offset int64) bool {
	h := d.hash(id)
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
// low bits are the slot's home, with the top bit set so that a full slot is
// never 0 (an index has fewer than 2^31 slots, so the home is below it).
func tag(h idHash) uint64 { return (uint64(uint32(h[0])) | 1<<31) << 32 }

// home is the slot where the probe for the slot s starts.
func (d *dedup) home(s uint64) uint64 { return (s >> 32) & d.mask }

// pos returns the ring position of the entry the slot s numbers, and whether it
// is still remembered (s is not stale).
func (d *dedup) pos(s uint64) (int, bool) {
	k := uint32(s) - d.first
	if k >= uint32(d.n) {
		return 0, false
	}
	p := d.head + int(k)
	if p >= len(d.ring) {
		p -= len(d.ring)
	}
	return p, true
}

// start is the slot where the probe for h starts.
func (d *dedup) start(h idHash) uint64 { return h[0] & d.mask }

// find returns the slot of h, or the empty slot where h would go.
func (d *dedup) find(h idHash) (uint64, bool) {
	t := tag(h)
	for i := d.start(h); ; i = (i + 1) & d.mask {
		s := d.slots[i]
		if s == 0 {
			return i, false
		}
		if s&^0xffffffff == t {
			if p, ok := d.pos(s); ok && d.ring[p].h == h {
				return i, true
			}
		}
	}
}

// at is the ring entry that the slot i, found by find, points at.
func (d *dedup) at(i uint64) *seenHash {
	p, _ := d.pos(d.slots[i])
	return &d.ring[p]
}

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
	k := d.first + uint32(d.n)
	d.n++
	if d.max > 0 && d.n > d.max {
		d.forget()
	}
	if d.numbered++; !ok && (d.used+1)*4 > len(d.slots)*3 || d.numbered == dedupRenumber {
		d.purge()
		if (d.used+1)*64 > len(d.slots)*47 {
			// Still almost three-quarters full: purging again soon would cost a
			// pass over the index every few ids.
			d.growIndex()
		}
		// The slots moved, and h's was dropped if the forget above made it
		// stale. The ring entry written above is not indexed yet.
		i, ok = d.find(h)
	}
	if !ok {
		d.used++
	}
	d.slots[i] = tag(h) | uint64(k)
}

// forget drops the oldest remembered id; its slot, if it is the id's newest
// entry, is stale from now on.
func (d *dedup) forget() {
	if d.head++; d.head == len(d.ring) {
		d.head = 0
	}
	d.first++
	d.n--
}

// purge empties the stale slots in place and moves each of the others to the
// first free slot from its home. The walk starts after an empty slot, so every
// slot's home lies between that start and the slot, and the slots before it in
// the walk are settled: the first free one from its home is at most where the
// slot was.
func (d *dedup) purge() {
	d.numbered = 0
	slots, mask, first, n := d.slots, d.mask, d.first, uint32(d.n) // locals: the stores below cannot change them
	start := uint64(0)
	for slots[start] != 0 {
		start++
	}
	used := d.used
	for k := uint64(1); k <= mask; k++ {
		i := (start + k) & mask
		s := slots[i]
		if s == 0 {
			continue
		}
		slots[i] = 0
		if uint32(s)-first >= n { // stale (see pos)
			used--
			continue
		}
		j := (s >> 32) & mask // its home
		for slots[j] != 0 {
			j = (j + 1) & mask
		}
		slots[j] = s
	}
	d.used = used
}

// growRing doubles the ring (up to the cap and one), moving its entries to the
// start; their numbers, and so the index, stay as they are.
func (d *dedup) growRing() {
	old, head := d.ring, d.head
	d.ring = make([]seenHash, d.ringCap(2*len(old)))
	copy(d.ring, old[head:])
	copy(d.ring[len(old)-head:], old[:head])
	d.head = 0
}

// growIndex doubles the index. A slot's tag holds its home in the larger table too,
// so the ring is not read.
func (d *dedup) growIndex() {
	old := d.slots
	d.slots, d.mask = make([]uint64, 2*len(old)), uint64(2*len(old)-1)
	for _, s := range old {
		if s != 0 {
			i := d.home(s)
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
