package schemas

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"time"
)

// arenaChunk is the size of the string arena chunks a Batch's decoder allocates. A
// string from a Batch keeps its whole chunk alive, so code that retains strings for
// long (a Dedup filter keeping ids) must copy them.
const arenaChunk = 16 << 10

// shrinkAfter is how many batches in a row must use under a quarter of the rows a
// batch once held before Reset gives the columns' memory back.
const shrinkAfter = 8

// shrinker watches a Batch's size across Resets so that the memory its columns grew
// to for a burst (a backlog being caught up) is released once the partition runs
// small batches again; Reset otherwise keeps it for reuse.
type shrinker struct{ high, small int }

// release records a batch of rows rows and reports whether its columns should be
// dropped now.
func (s *shrinker) release(rows int) bool {
	if rows > s.high {
		s.high = rows
	}
	if rows*4 >= s.high {
		s.small = 0
		return false
	}
	if s.small++; s.small < shrinkAfter {
		return false
	}
	*s = shrinker{}
	return true
}

// DefaultWindow is the rollup window used when Options.Window is zero.
const DefaultWindow = time.Minute

func (o Options) withDefaults() Options {
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	o.Limits = o.Limits.withDefaults()
	return o
}

// Validate reports whether o is usable: the window (after defaults) must be a positive
// whole number of seconds, since rollup window_start is a ClickHouse DateTime.
func (o Options) Validate() error {
	return validWindow(o.withDefaults().Window)
}

func validWindow(w time.Duration) error {
	if w < time.Second || w%time.Second != 0 {
		return errors.New("schemas: window " + w.String() + ": must be a positive whole number of seconds")
	}
	return nil
}

// RollupTable names the rollup table of base for a window: base + "_" + a compact
// suffix, e.g. payments_1m, payments_5m, payments_1h, payments_30s, payments_1d.
// The largest unit that divides the window exactly is used (90s gives "90s").
func RollupTable(base string, window time.Duration) string {
	if window == 0 {
		window = DefaultWindow
	}
	return base + "_" + windowText(window)
}

// windowText writes a window in the largest unit that divides it: 1m, 90s, 1h, 1d.
func windowText(window time.Duration) string {
	var n int64
	var unit string
	switch {
	case window%(24*time.Hour) == 0:
		n, unit = int64(window/(24*time.Hour)), "d"
	case window%time.Hour == 0:
		n, unit = int64(window/time.Hour), "h"
	case window%time.Minute == 0:
		n, unit = int64(window/time.Minute), "m"
	case window%time.Second == 0:
		n, unit = int64(window/time.Second), "s"
	default:
		n, unit = int64(window/time.Millisecond), "ms"
	}
	return strconv.FormatInt(n, 10) + unit
}

// windowStart returns the start, in Unix seconds, of the window of width w
// nanoseconds holding t; windows are aligned on the Unix epoch, in UTC.
func windowStart(t time.Time, w int64) int64 { return windowStartNs(t.UnixNano(), w) }

// windowStartNs is windowStart of the time ns nanoseconds after the Unix epoch.
func windowStartNs(ns, w int64) int64 {
	s := ns - ns%w
	if ns%w < 0 {
		s -= w
	}
	return s / int64(time.Second)
}

// sortedOrder fills order with 0..n-1 sorted by cmp (a total order on distinct keys,
// so the result is deterministic).
func sortedOrder(order []int, n int, cmp func(i, j int) int) []int {
	order = slices.Grow(order[:0], n)
	for i := range n {
		order = append(order, i)
	}
	slices.SortFunc(order, cmp)
	return order
}

// cmpKeys compares a rollup key: a window then pairs of strings (x1, y1, x2, y2, ...).
func cmpKeys(wx, wy int64, s ...string) int {
	if c := cmp.Compare(wx, wy); c != 0 {
		return c
	}
	for i := 0; i+1 < len(s); i += 2 {
		if c := cmp.Compare(s[i], s[i+1]); c != 0 {
			return c
		}
	}
	return 0
}
