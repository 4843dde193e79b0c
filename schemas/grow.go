package schemas

import "slices"

// A batch's columns fill from empty to a flush's worth of rows. append grows a
// large slice by only a quarter of its size, so a column that reaches n bytes
// has been copied about four times over (and each new backing array is memory
// the process touches and the collector frees); growing by at least half copies
// it about twice, and leaves less unused capacity than doubling would. push and
// appendBytes grow so; minGrow keeps the first steps from being tiny.

// minGrow is the smallest capacity, in elements, push and appendBytes give a
// slice they grow.
const minGrow = 1024

// push appends v to *s, growing its capacity by at least half when it is full.
// It takes the slice by pointer and, unless it grows, writes back only the
// length: a slice stored again whole in a heap object (s = f(s)) costs a GC
// write barrier per call while the collector runs, and a batch appends to its
// columns once per value.
func push[S ~[]T, T any](s *S, v T) {
	if len(*s) == cap(*s) {
		*s = slices.Grow(*s, max(cap(*s)/2, minGrow))
	}
	*s = append(*s, v) // in place: the length only
}

// appendBytes appends the bytes of v to *s, growing its capacity by at least half
// when they do not fit; like push, it writes back only the length unless it grows.
func appendBytes(s *[]byte, v string) {
	if cap(*s)-len(*s) < len(v) {
		*s = slices.Grow(*s, max(cap(*s)/2, len(v), minGrow))
	}
	*s = append(*s, v...) // in place: the length only
}

// pushN appends n copies of v to *s, growing it at most once (by at least half,
// as push does).
func pushN[S ~[]T, T any](s *S, v T, n int) {
	if cap(*s)-len(*s) < n {
		*s = slices.Grow(*s, max(cap(*s)/2, n, minGrow))
	}
	for range n {
		*s = append(*s, v) // in place: the length only
	}
}

// reserve makes room for n elements in *s, and an eighth more (a batch sized
// from the one before it may grow a little past it); it does nothing when *s
// has that room.
func reserve[S ~[]T, T any](s *S, n int) {
	if n += n / 8; cap(*s) < n {
		*s = slices.Grow(*s, n-len(*s))
	}
}

// Sizer is a Batch whose columns can be sized from another batch of its type:
// the worker's batches take turns, and a new one sized from the batch flushed
// before it does not grow its columns from empty (each growth copies them and
// leaves the old ones as garbage).
type Sizer interface {
	// Sizes appends what the batch's columns hold to dst and returns it.
	Sizes(dst []int) []int
	// Reserve makes room in the columns of a batch that has not held rows yet
	// (or gave their memory back) for what Sizes gave for a batch of the same
	// type, scaled; a batch whose columns grew already, or other sizes, are left
	// as they are.
	Reserve(sizes []int)
}
