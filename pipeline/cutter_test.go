package pipeline

import (
	"fmt"
	"slices"
	"testing"
)

// tick, in a cutter test's offsets, is the flush timer firing.
const tick = -1

// cutBatches drives a cutter as Worker.process and Worker.Run do: the recorded
// ranges are loaded for a first record at from, the records at offs arrive in order
// (tick: the timer fires), a batch of maxRecs records is full (0: no limit), and the
// input ends after the last. It returns the flushed batches ("first-last", with
// " replay" for a recorded range) and the range load dropped ("" if none).
func cutBatches(ranges []Range, from int64, offs []int64, maxRecs int) (batches []string, dropped string) {
	c := newCutter("g", "t", 3)
	if d, ok := c.load(ranges, from); ok {
		dropped = fmt.Sprintf("%d-%d", d.First, d.Last)
	}
	n := 0
	flush := func() {
		r, replay := c.take()
		if r.Group != "g" || r.Topic != "t" || r.Partition != 3 {
			panic(fmt.Sprintf("take returned %+v for g/t/3", r))
		}
		b := fmt.Sprintf("%d-%d", r.First, r.Last)
		if replay {
			b += " replay"
		}
		batches = append(batches, b)
		n = 0
	}
	for _, off := range offs {
		if off == tick {
			if c.timerMayFlush() {
				flush()
			}
			continue
		}
		if c.before(off) {
			flush()
		}
		end, limits := c.add(off)
		n++
		if end || limits && maxRecs > 0 && n >= maxRecs {
			flush()
		}
	}
	if c.drainMayFlush() {
		flush()
	}
	return batches, dropped
}

// rs returns the recorded ranges of g/t/3 given as first, last pairs.
func rs(pairs ...int64) []Range {
	var out []Range
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, Range{Group: "g", Topic: "t", Partition: 3, First: pairs[i], Last: pairs[i+1]})
	}
	return out
}

// span returns the offsets first..last.
func span(first, last int64) []int64 {
	var out []int64
	for o := first; o <= last; o++ {
		out = append(out, o)
	}
	return out
}

// TestCutter pins the replay-cut rule: where a worker's batches end, given the ledger
// ranges recorded by the partition's earlier owners.
func TestCutter(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ranges  []Range
		from    int64 // offset of the first record read; offs[0] when zero
		offs    []int64
		max     int
		want    []string
		dropped string
	}{
		{name: "no recorded ranges: one batch until the input ends",
			offs: span(0, 9), want: []string{"0-9"}},
		{name: "no recorded ranges: the size limit cuts",
			offs: span(0, 9), max: 4, want: []string{"0-3", "4-7", "8-9"}},
		{name: "no recorded ranges: the timer cuts",
			offs: []int64{0, 1, tick, 2, tick, tick, 3}, want: []string{"0-1", "2-2", "3-3"}},
		{name: "inside a recorded range the size limit does not cut",
			ranges: rs(0, 9), offs: span(0, 9), max: 4, want: []string{"0-9 replay"}},
		{name: "inside a recorded range the timer does not cut",
			ranges: rs(0, 9), offs: []int64{0, 1, tick, 2, 3, 4, 5, 6, 7, 8, 9}, want: []string{"0-9 replay"}},
		{name: "range boundaries hit exactly, then free batching",
			ranges: rs(0, 4, 5, 9), offs: span(0, 12), want: []string{"0-4 replay", "5-9 replay", "10-12"}},
		{name: "a one-record range",
			ranges: rs(5, 5), offs: span(5, 6), want: []string{"5-5 replay", "6-6"}},
		{name: "records before a range are cut where the range starts",
			ranges: rs(5, 9), offs: span(0, 9), want: []string{"0-4", "5-9 replay"}},
		{name: "records before a range: the size limit still cuts them",
			ranges: rs(5, 9), offs: span(0, 9), max: 3, want: []string{"0-2", "3-4", "5-9 replay"}},
		{name: "records before a range: the timer waits while a range is ahead",
			ranges: rs(5, 9), offs: []int64{0, 1, tick, 2, 3, 4, 5, 6, 7, 8, 9, 10, tick, 11},
			want: []string{"0-4", "5-9 replay", "10-10", "11-11"}},
		{name: "records after the last range: the size limit cuts again",
			ranges: rs(0, 4), offs: span(0, 9), max: 3, want: []string{"0-4 replay", "5-7", "8-9"}},
		{name: "several ranges with a size limit smaller than each",
			ranges: rs(0, 2, 3, 7, 8, 8), offs: span(0, 10), max: 2,
			want: []string{"0-2 replay", "3-7 replay", "8-8 replay", "9-10"}},
		{name: "a range that starts before the first record is dropped, the next kept",
			ranges: rs(0, 9, 10, 14), from: 5, offs: span(5, 14),
			want: []string{"5-9", "10-14 replay"}, dropped: "0-9"},
		{name: "a range that starts before the first record: the size limit cuts its remainder",
			ranges: rs(0, 9), from: 5, offs: span(5, 12), max: 3,
			want: []string{"5-7", "8-10", "11-12"}, dropped: "0-9"},
		{name: "offsets that skip (transaction markers) inside and between ranges",
			ranges: rs(0, 3, 7, 9), offs: []int64{0, 1, 3, 7, 9, 12}, max: 2,
			want: []string{"0-3 replay", "7-9 replay", "12-12"}},
		{name: "a range whose last record is gone ends at its recorded last offset",
			ranges: rs(0, 4, 5, 9), offs: []int64{0, 1, 2, 3, 5, 6, 7, 8, 9},
			want: []string{"0-4 replay", "5-9 replay"}},
		{name: "a record past a whole range closes the batch before it; the range is forgotten",
			ranges: rs(5, 9), offs: []int64{0, 1, 12, 13}, want: []string{"0-1", "12-13"}},
		{name: "a batch starting inside a range (its first record gone) is a new range",
			ranges: rs(0, 4, 5, 9), offs: []int64{0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11},
			want: []string{"0-4 replay", "6-9", "10-11"}},
		{name: "input ending inside a replayed range flushes nothing of it",
			ranges: rs(0, 4, 5, 9), offs: span(0, 7), want: []string{"0-4 replay"}},
		{name: "input ending at a range's last record flushes it",
			ranges: rs(0, 4), offs: span(0, 4), want: []string{"0-4 replay"}},
		{name: "input ending after a range flushes the free batch",
			ranges: rs(0, 4), offs: span(0, 6), want: []string{"0-4 replay", "5-6"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := tc.from
			if from == 0 {
				from = tc.offs[0]
			}
			got, dropped := cutBatches(slices.Clone(tc.ranges), from, tc.offs, tc.max)
			if !slices.Equal(got, tc.want) || dropped != tc.dropped {
				t.Errorf("batches %q (dropped %q), want %q (dropped %q)", got, dropped, tc.want, tc.dropped)
			}
		})
	}
}

// TestCutterAhead: ahead lists the ranges still to replay, and an empty cutter has
// nothing to flush.
func TestCutterAhead(t *testing.T) {
	c := newCutter("g", "t", 3)
	if c.open() || c.timerMayFlush() || c.drainMayFlush() {
		t.Fatal("an empty cutter wants a flush")
	}
	c.load(rs(0, 1, 2, 3), 0)
	if got := c.ahead(); !slices.Equal(got, rs(0, 1, 2, 3)) {
		t.Fatalf("ahead = %v", got)
	}
	c.add(0)
	if end, _ := c.add(1); !end {
		t.Fatal("the last offset of a recorded range did not end the batch")
	}
	if _, replay := c.take(); !replay || c.open() {
		t.Fatalf("take: replay %v, open after %v", replay, c.open())
	}
	if got := c.ahead(); !slices.Equal(got, rs(2, 3)) {
		t.Fatalf("ahead after one replay = %v, want [2-3]", got)
	}
}
