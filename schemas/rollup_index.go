package schemas

import (
	"cmp"
	"encoding/binary"
	"hash/maphash"
	"slices"
	"strings"
	"unsafe"
)

// groupIndex finds a rollup's group by its key: the window and the dimension
// values, encoded by appendKeyInt and appendKeyStr so that comparing two keys'
// bytes orders them as (window, dimension 1, dimension 2, …) compare. It is an
// open-addressing table with linear probing, sized for the groups it holds: a key
// is hashed once per event, a probe compares bytes only on a full hash match,
// growing rehashes from the kept hashes, and a new group's key is copied into an
// arena of chunks reused after Reset, so a batch whose events are almost all
// their own group costs a hash, one probe and a copy per event, not an allocation.
type groupIndex struct {
	seed   maphash.Seed
	slots  []int32  // group + 1; 0 is an empty slot; len is a power of two
	hashes []uint64 // per group
	keys   []string // per group: its key, in the arena

	chunks [][]byte // the arena; the strings in keys point into chunks[:used+1]
	used   int
}

// groupChunk is the size of a groupIndex arena chunk.
const groupChunk = 64 << 10

// lookup returns the group of key k, if any, and k's hash for add.
func (x *groupIndex) lookup(k []byte) (g int32, h uint64, ok bool) {
	if x.slots == nil {
		x.seed = maphash.MakeSeed()
		x.slots = make([]int32, 64)
	}
	h = maphash.Bytes(x.seed, k)
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return 0, h, false
		}
		if g := s - 1; x.hashes[g] == h && x.keys[g] == string(k) {
			return g, h, true
		}
	}
}

// add records key k, of hash h (from lookup, which did not find it), as group
// len(x.keys) and returns the copy of k the index keeps: it stays valid until
// reset.
func (x *groupIndex) add(k []byte, h uint64) string {
	g := int32(len(x.keys))
	key := x.copyKey(k)
	push(&x.keys, key)
	push(&x.hashes, h)
	if 2*len(x.keys) > len(x.slots) {
		x.rehash(2 * len(x.slots))
	} else {
		x.place(g)
	}
	return key
}

// place puts group g in the first free slot of its probe sequence.
func (x *groupIndex) place(g int32) {
	mask := uint64(len(x.slots) - 1)
	i := x.hashes[g] & mask
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = g + 1
}

func (x *groupIndex) rehash(size int) {
	if size > cap(x.slots) {
		x.slots = make([]int32, size)
	} else {
		x.slots = x.slots[:size]
		clear(x.slots)
	}
	for g := range x.keys {
		x.place(int32(g))
	}
}

// copyKey copies k into the arena.
func (x *groupIndex) copyKey(k []byte) string {
	if len(k) == 0 {
		return ""
	}
	if len(x.chunks) == 0 || cap(x.chunks[x.used])-len(x.chunks[x.used]) < len(k) {
		x.nextChunk(len(k))
	}
	c := x.chunks[x.used]
	start := len(c)
	c = append(c, k...) // in place: there is room
	x.chunks[x.used] = c
	return unsafe.String(&c[start], len(k))
}

// nextChunk moves the arena to a chunk with room for n bytes, reusing the chunks
// kept from before the last reset.
func (x *groupIndex) nextChunk(n int) {
	if len(x.chunks) > 0 {
		x.used++
	}
	for ; x.used < len(x.chunks); x.used++ {
		if cap(x.chunks[x.used]) >= n {
			return
		}
	}
	x.chunks = append(x.chunks, make([]byte, 0, max(n, groupChunk)))
	x.used = len(x.chunks) - 1
}

// len is the number of groups.
func (x *groupIndex) len() int { return len(x.keys) }

// reset forgets every group; the keys handed out are overwritten by the next
// adds. drop gives the memory back.
func (x *groupIndex) reset(drop bool) {
	if drop {
		*x = groupIndex{}
		return
	}
	clear(x.keys) // no pointers into the arena from slots not in use
	x.keys, x.hashes = x.keys[:0], x.hashes[:0]
	clear(x.slots)
	for i := range x.chunks {
		x.chunks[i] = x.chunks[i][:0]
	}
	x.used = 0
}

// appendKeyInt appends v to key k so that keys compare as their integers do
// (big-endian, sign bit flipped).
func appendKeyInt(k []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(k, uint64(v)^1<<63)
}

// appendKeyStr appends s to key k so that keys compare as their strings do: the
// bytes, a NUL escaped as 0x00 0xFF, then the terminator 0x00 0x01. It reports
// whether s was appended as it is (no NUL), so that the key holds s as a
// substring.
func appendKeyStr(k []byte, s string) ([]byte, bool) {
	plain := strings.IndexByte(s, 0) < 0
	if plain {
		k = append(k, s...)
	} else {
		for i := 0; i < len(s); i++ {
			if k = append(k, s[i]); s[i] == 0 {
				k = append(k, 0xFF)
			}
		}
	}
	return append(k, 0, 1), plain
}

// keyRef is a group in the sort of a rollup's keys: its window (the key's first 8
// bytes) and an abbreviation of the rest, compared as integers before the key's
// bytes are.
type keyRef struct {
	win, abbr uint64
	g         int32
}

// sortedGroups fills refs with the groups of x in key order. Past the window, the
// keys of a batch often share a prefix (the merchant ids' "merchant-00"): the
// abbreviation is the 8 bytes after the prefix every key shares, zero-padded, so
// that most comparisons are of two integers and only ties compare the keys.
func (x *groupIndex) sortedGroups(refs []keyRef) []keyRef {
	refs = slices.Grow(refs[:0], len(x.keys))
	keys := x.keys
	if len(keys) == 0 {
		return refs
	}
	lcp := len(keys[0]) - 8
	for _, k := range keys[1:] {
		lcp = min(lcp, commonPrefix(k[8:], keys[0][8:8+lcp]))
	}
	for g, k := range keys {
		var a [8]byte
		copy(a[:], k[8+lcp:])
		refs = append(refs, keyRef{binary.BigEndian.Uint64([]byte(k[:8])), binary.BigEndian.Uint64(a[:]), int32(g)})
	}
	slices.SortFunc(refs, func(p, q keyRef) int {
		if p.win != q.win {
			return cmp.Compare(p.win, q.win)
		}
		if p.abbr != q.abbr {
			return cmp.Compare(p.abbr, q.abbr)
		}
		return strings.Compare(keys[p.g], keys[q.g])
	})
	return refs
}

// commonPrefix is the length of the longest common prefix of a and b.
func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i+8 <= n && a[i:i+8] == b[i:i+8] {
		i += 8
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}
