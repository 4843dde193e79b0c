package bench

import (
	"testing"
	"time"
)

func TestLatencyQuantiles(t *testing.T) {
	var l Latency
	for i := 1; i <= 100; i++ {
		l.sorted = append(l.sorted, time.Duration(i)*time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{0.5: 50 * time.Millisecond, 0.9: 90 * time.Millisecond, 0.99: 99 * time.Millisecond, 1: 100 * time.Millisecond} {
		if got := l.Quantile(q); got != want {
			t.Errorf("Quantile(%v) = %v, want %v", q, got, want)
		}
	}
	if got := l.Mean(); got != 50500*time.Microsecond {
		t.Errorf("Mean = %v", got)
	}
}

// Histogram quantiles interpolate within the bucket as PromQL's histogram_quantile,
// and Sub takes an earlier scrape away.
func TestHistogramQuantile(t *testing.T) {
	h := Histogram{Count: 100, Sum: 40, Bounds: []float64{.25, .5, 1}, Counts: []uint64{20, 60, 100}}
	if got := h.Quantile(.5); got != 437500*time.Microsecond { // 0.25 + 0.25 × (50-20)/40
		t.Errorf("p50 %v", got)
	}
	if got := h.Quantile(.99); got != 987500*time.Microsecond { // 0.5 + 0.5 × (99-60)/40
		t.Errorf("p99 %v", got)
	}
	if got := h.Mean(); got != 400*time.Millisecond {
		t.Errorf("mean %v", got)
	}
	d := h.Sub(Histogram{Count: 20, Sum: 2, Bounds: h.Bounds, Counts: []uint64{20, 20, 20}})
	if d.Count != 80 || d.Sum != 38 || d.Counts[0] != 0 || d.Counts[2] != 80 {
		t.Errorf("Sub = %+v", d)
	}
}
