package schemas

import "slices"

// A batch's columns fill from empty to a flush's worth of rows. append grows a
// large slice by only a quarter of its size, so a column that reaches n bytes
// has been copied about four times over (and each new backing array is memory
// the process touches and the collector frees); doubling copies it once. push and
// appendBytes double; minGrow keeps the first steps from being tiny.

// minGrow is the smallest capacity, in elements, push and appendBytes give a
// slice they grow.
const minGrow = 1024

// push appends v to s, doubling s's capacity when it is full.
func push[T any](s []T, v T) []T {
	if len(s) == cap(s) {
		s = slices.Grow(s, max(cap(s), minGrow))
	}
	return append(s, v)
}

// appendBytes appends the bytes of v to s, at least doubling s's capacity when
// they do not fit.
func appendBytes(s []byte, v string) []byte {
	if cap(s)-len(s) < len(v) {
		s = slices.Grow(s, max(cap(s), len(v), minGrow))
	}
	return append(s, v...)
}
