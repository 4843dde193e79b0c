package pipeline

import (
	"slices"
	"testing"
)

// The sample is an even spread: for n events, the indices kept are the multiples of
// the smallest power of two that fits them in SampleSize, starting at the first.
func TestSamplerSpread(t *testing.T) {
	for _, n := range []int64{0, 1, 5, 31, 32, 33, 64, 65, 1000, 100_000} {
		var s sampler
		for i := range n {
			s.add(i)
		}
		step := int64(1)
		for (n+step-1)/step > SampleSize {
			step *= 2
		}
		var want []int64
		for i := int64(0); i < n; i += step {
			want = append(want, i)
		}
		if got := s.sample(); !slices.Equal(got, want) {
			t.Errorf("n=%d: sample %v, want %v", n, got, want)
		}
		if s.seen != n {
			t.Errorf("n=%d: seen %d", n, s.seen)
		}
		s.reset()
		if len(s.sample()) != 0 || s.seen != 0 {
			t.Errorf("n=%d: reset left %v", n, s.sample())
		}
	}
}

func BenchmarkSamplerAdd(b *testing.B) {
	var s sampler
	b.ReportAllocs()
	for i := range b.N {
		if i&(1<<16-1) == 0 {
			s.reset()
		}
		s.add(int64(i))
	}
}
