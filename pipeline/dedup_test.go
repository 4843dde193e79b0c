package pipeline

import (
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/sluicehq/sluice/internal/membudget"
)

// TestDedupCap checks that the filter forgets the oldest ids beyond its cap, so
// memory is bounded by configuration, and that ids are matched by value, not by the
// memory the batch lends them.
func TestDedupCap(t *testing.T) {
	d := newDedup(time.Hour, 3, true)
	admit := func(id string, ms int64) bool {
		buf := []byte(id) // the batch reuses its memory: Admit must not keep it
		ok := d.Admit(string(buf), ms*int64(time.Millisecond), 100+ms)
		clear(buf)
		return ok
	}
	for i, id := range []string{"a", "b", "c", "d"} {
		if !admit(id, int64(i)) {
			t.Fatalf("%s: first sighting not admitted", id)
		}
	}
	if admit("d", 10) || admit("c", 10) || admit("b", 10) {
		t.Fatal("a remembered id was admitted again")
	}
	if !admit("a", 11) {
		t.Fatal("the oldest id beyond the cap of 3 is still remembered")
	}
	if n := d.len(); n > 3 {
		t.Fatalf("%d ids remembered, cap 3", n)
	}
	if got := string(d.pending.ids.Bytes(0)); got != "a" {
		t.Fatalf("pending id %q, want a copy of \"a\"", got)
	}
	// Each admitted id is pending with its record's offset and timestamp (ms).
	if n := d.pending.len(); n != 5 || d.pending.offset[4] != 111 || d.pending.ts[4] != 11 {
		t.Fatalf("pending: %d ids, last at offset %d ts %d; want 5, 111, 11", n, d.pending.offset[4], d.pending.ts[4])
	}
}

// TestDedupHorizon checks that an id is a duplicate only within the horizon.
func TestDedupHorizon(t *testing.T) {
	h := time.Hour
	d := newDedup(h, 0, true)
	if !d.Admit("x", 0, 0) {
		t.Fatal("first sighting not admitted")
	}
	if d.Admit("x", int64(h), 1) {
		t.Fatal("a repeat at the horizon was admitted")
	}
	if !d.Admit("x", int64(h)+1, 2) {
		t.Fatal("a repeat past the horizon was dropped")
	}
}

// mapDedup is the filter as a Go map of hashes beside an arrival-order queue: the
// oracle dedup must decide exactly as, for every sequence of calls, because a
// replay rebuilds the filter and must decide as the first attempt did.
type mapDedup struct {
	horizon int64
	max     int
	seen    map[idHash]int64
	order   []seenHash
	head    int
}

func newMapDedup(horizon time.Duration, max int) *mapDedup {
	return &mapDedup{horizon: int64(horizon), max: max, seen: make(map[idHash]int64)}
}

func (d *mapDedup) reset() {
	clear(d.seen)
	d.order, d.head = d.order[:0], 0
}

func (d *mapDedup) load(id string, ts int64) {
	h := hashID(id)
	if prev, ok := d.seen[h]; ok && prev >= ts {
		return
	}
	d.remember(h, ts)
}

func (d *mapDedup) Admit(id string, ts, _ int64) bool {
	h := hashID(id)
	if prev, ok := d.seen[h]; ok && prev >= ts-d.horizon {
		return false
	}
	d.remember(h, ts)
	return true
}

func (d *mapDedup) remember(h idHash, ts int64) {
	d.seen[h] = ts
	d.order = append(d.order, seenHash{h: h, ts: ts})
	if d.max > 0 && len(d.order)-d.head > d.max {
		d.forget()
	}
}

func (d *mapDedup) forget() {
	s := d.order[d.head]
	if d.seen[s.h] == s.ts {
		delete(d.seen, s.h)
	}
	d.order[d.head] = seenHash{}
	d.head++
}

func (d *mapDedup) len() int { return len(d.order) - d.head }

func (d *mapDedup) prune(now int64) {
	limit := now - d.horizon - int64(dedupSlack)
	for d.head < len(d.order) && d.order[d.head].ts < limit {
		d.forget()
	}
	if d.head > 1024 && d.head*2 > len(d.order) {
		n := copy(d.order, d.order[d.head:])
		clear(d.order[n:])
		d.order = d.order[:n]
		d.head = 0
	}
}

// checkSame fails unless d remembers exactly what the oracle o does: the same
// count, and a live index slot (one numbering a ring entry) for every hash of o's
// map, reachable from its home and pointing at a ring entry with o's timestamp,
// and no other live slot (stale ones wait for the next purge).
func checkSame(t testing.TB, d *dedup, o *mapDedup) {
	t.Helper()
	if d.len() != o.len() {
		t.Fatalf("%d ids remembered, oracle %d", d.len(), o.len())
	}
	full, live := 0, 0
	for i, s := range d.slots {
		if s == 0 {
			continue
		}
		full++
		p, ok := d.pos(s)
		if !ok {
			continue
		}
		live++
		e := d.ring[p]
		if s>>32 != tag(e.h)>>32 {
			t.Fatalf("slot %d: tag %x, its entry's %x", i, s>>32, tag(e.h)>>32)
		}
		if ts, ok := o.seen[e.h]; !ok || ts != e.ts {
			t.Fatalf("slot %d: entry at %d, which the oracle has at %d (%v)", i, e.ts, ts, ok)
		}
		if j, ok := d.find(e.h); !ok || j != uint64(i) {
			t.Fatalf("slot %d is not found from its home (found %d, %v)", i, j, ok)
		}
	}
	if live != len(o.seen) {
		t.Fatalf("%d live index slots, oracle has %d ids", live, len(o.seen))
	}
	if full != d.used {
		t.Fatalf("%d slots full, used says %d", full, d.used)
	}
}

// driveDedup reads a sequence of calls from data and makes each on a dedup and the
// oracle, failing at the first decision or state they differ in. The first bytes
// choose the horizon, the cap, keep and how many distinct ids the calls use; then
// each call takes three bytes: the call (mostly Admit; load, prune, reset), the id,
// and how far the clock moves forward and the call's timestamp lags behind it (so
// timestamps go out of order, repeat and cross the horizon and the prune limit).
func driveDedup(t testing.TB, data []byte) {
	if len(data) < 4 {
		return
	}
	const u = int64(7 * time.Minute) // dedupSlack is about 8.6 units
	horizon := []time.Duration{0, time.Duration(u), time.Duration(5 * u), time.Duration(30 * u), time.Duration(2 * u), 1}[int(data[0])%6]
	max := []int{0, 1, 2, 3, 5, 17, 100, 1000}[data[1]%8]
	keep := data[2]&1 == 1
	pool := []int{3, 40, 700, 20000}[data[3]%4]
	d, o := newDedup(horizon, max, keep), newMapDedup(horizon, max)
	var clock int64
	ids := make(map[int]string)
	for k, data := 0, data[4:]; len(data) >= 3; k, data = k+1, data[3:] {
		op, b, c := data[0], int(data[1]), data[2]
		n := (b<<8 | int(op)) % pool
		id, ok := ids[n]
		if !ok {
			id = "01J9Z3K7Q4W8X2YF5T6R" + strconv.Itoa(n)
			ids[n] = id
		}
		clock += int64(c&15) * u / 8
		ts := clock - int64(c>>4)*u/4
		switch {
		case op%16 == 13:
			d.load(id, ts)
			o.load(id, ts)
		case op%16 == 14:
			d.prune(ts)
			o.prune(ts)
		case op%16 == 15 && b < 16:
			d.reset()
			o.reset()
		default:
			if got, want := d.Admit(prefetchFor(d, id, op>>4&3, ids), ts, int64(k)), o.Admit(id, ts, int64(k)); got != want {
				t.Fatalf("call %d: Admit(%q, %d) = %v, oracle %v (horizon %v, cap %d)", k, id, ts, got, want, horizon, max)
			}
		}
		if d.len() != o.len() {
			t.Fatalf("call %d: %d ids remembered, oracle %d", k, d.len(), o.len())
		}
		if len(o.seen) < 200 || k%512 == 0 {
			checkSame(t, d, o)
		}
	}
	checkSame(t, d, o)
}

// prefetchFor makes the Prefetch call how says before Admit(id): none, of id,
// of another id, or of another id of id's length in a buffer that id's bytes
// then overwrite (as a recycled record buffer is), and returns id for Admit (in
// the last case, the overwritten buffer). None of them may change what Admit
// decides.
func prefetchFor(d *dedup, id string, how byte, ids map[int]string) string {
	switch how {
	case 1:
		d.Prefetch(id)
	case 2, 3:
		other := "x"
		for _, o := range ids {
			if o != id && (how == 2 || len(o) == len(id)) {
				other = o
				break
			}
		}
		if how == 2 || len(other) != len(id) {
			d.Prefetch(other)
			return id
		}
		buf := []byte(other)
		view := unsafe.String(&buf[0], len(buf))
		d.Prefetch(view)
		copy(buf, id) // view is id now, at the address Prefetch saw
		return view
	}
	return id
}

// TestDedupOracle drives the filter and the oracle with random call sequences and
// checks that every decision and the state after every call are the same.
func TestDedupOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for run := range 200 {
		data := make([]byte, 4+3*r.IntN(10_000))
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		t.Run(strconv.Itoa(run), func(t *testing.T) { driveDedup(t, data) })
	}
}

// FuzzDedup is TestDedupOracle on the fuzzer's call sequences.
func FuzzDedup(f *testing.F) {
	f.Add([]byte{1, 3, 1, 0, 0, 1, 2, 0, 1, 2, 0, 1, 200, 14, 0, 255})
	f.Add([]byte{4, 1, 0, 1, 5, 0, 0x31, 5, 0, 0x01, 13, 0, 0x10, 5, 0, 0})
	f.Add([]byte{2, 0, 1, 2, 0, 0, 3, 1, 0, 3, 2, 0, 3, 15, 0, 3, 2, 0, 3})
	f.Fuzz(func(t *testing.T, data []byte) { driveDedup(t, data) })
}

// TestDedupGrowth fills a filter without a cap past several index and ring
// doublings, with its ring wrapped by pruning, and checks it against the oracle.
func TestDedupGrowth(t *testing.T) {
	d, o := newDedup(time.Hour, 0, false), newMapDedup(time.Hour, 0)
	for i := range 100_000 {
		id, ts := strconv.Itoa(i%70_000), int64(i)*int64(time.Second)
		if got, want := d.Admit(id, ts, 0), o.Admit(id, ts, 0); got != want {
			t.Fatalf("Admit(%s) = %v, oracle %v", id, got, want)
		}
		if i%1000 == 999 {
			d.prune(ts)
			o.prune(ts)
		}
	}
	checkSame(t, d, o)
	if len(d.slots) < 8192 || d.head == 0 {
		t.Fatalf("index of %d slots, ring head at %d: the test no longer grows or wraps the filter", len(d.slots), d.head)
	}
}

// TestDedupRenumber makes the filter purge its index on the count of numbered
// entries (as it does every dedupRenumber of them) at every admit: of new ids,
// of remembered ones beyond the horizon, and of the id the same admit forgets.
func TestDedupRenumber(t *testing.T) {
	for _, cycle := range []int{3, 4, 5, 6} {
		const max = 5
		d, o := newDedup(time.Second, max, false), newMapDedup(time.Second, max)
		for i := range 100 {
			id, ts := strconv.Itoa(i%cycle), int64(i)*int64(2*time.Second)
			d.numbered = dedupRenumber - 1
			if got, want := d.Admit(id, ts, 0), o.Admit(id, ts, 0); got != want {
				t.Fatalf("ids cycling by %d, admit %d: Admit(%s) = %v, oracle %v", cycle, i, id, got, want)
			}
			if d.numbered != 0 {
				t.Fatalf("ids cycling by %d, admit %d: no purge", cycle, i)
			}
			checkSame(t, d, o)
		}
	}
}

// dedupHeap fills a filter with a cap of max and returns what its ring and index
// take and the heap it holds (HeapAlloc after a collection), per id.
func dedupHeap(max int) (footprint, heap float64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	d := newDedup(time.Hour, max, false)
	buf := []byte("01J9Z3K7Q4W8X2YF5T6R")
	for i := range max + max/2 {
		d.Admit(string(strconv.AppendInt(buf[:20], int64(i), 10)), int64(i), 0)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	n := float64(d.len())
	footprint = float64(cap(d.ring)*int(unsafe.Sizeof(seenHash{}))+cap(d.slots)*8) / n
	runtime.KeepAlive(d)
	return footprint, float64(after.HeapAlloc-before.HeapAlloc) / n
}

// TestDedupIDBytes checks membudget.IDBytes against what a full filter's ring and
// index take per id, and that it holds no more on the heap (but for 10%: other
// tests' goroutines may still be allocating or freeing): at the floor of the cap, at the share 8 partitions get from
// the default budget and at a cap that leaves the index as empty as it gets (47/128
// full: a purge that leaves it more than that full doubles it).
func TestDedupIDBytes(t *testing.T) {
	for _, max := range []int{membudget.MinDedupIDs, int(membudget.SplitOf(256<<20, 8).DedupIDs), 47<<13 + 1} {
		footprint, heap := dedupHeap(max)
		t.Logf("cap %d: %.1f bytes per id, %.1f on the heap", max, footprint, heap)
		if footprint > membudget.IDBytes {
			t.Errorf("a full filter with a cap of %d takes %.1f bytes per id; membudget.IDBytes is %d", max, footprint, membudget.IDBytes)
		}
		if heap > footprint*1.1 {
			t.Errorf("a full filter with a cap of %d holds %.1f bytes per id on the heap, more than its ring and index's %.1f", max, heap, footprint)
		}
	}
}

// TestDedupAdmitAllocs checks that a full filter admits, rejects and forgets
// without allocating.
func TestDedupAdmitAllocs(t *testing.T) {
	const max = 1000
	d := newDedup(time.Hour, max, false)
	ids := make([]string, 4*max)
	for i := range ids {
		ids[i] = strconv.Itoa(i)
	}
	i := 0
	admit := func() {
		id := ids[i%len(ids)]
		if i%3 == 0 {
			id = ids[(i+len(ids)-1)%len(ids)] // the previous id: a duplicate
		}
		d.Admit(id, int64(i), 0)
		i++
	}
	for range 2 * len(ids) {
		admit()
	}
	if n := testing.AllocsPerRun(10_000, admit); n != 0 {
		t.Fatalf("%v allocations per Admit", n)
	}
	if d.len() != max {
		t.Fatalf("%d ids remembered, want the cap %d", d.len(), max)
	}
}
