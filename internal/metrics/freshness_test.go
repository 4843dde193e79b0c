package metrics

import (
	"math"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/schemas"
)

// histogram returns the freshness histogram name{topic} from m's registry.
func histogram(t *testing.T, m *Metrics, name, topic string) *dto.Histogram {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "topic" && l.GetValue() == topic {
					return mt.GetHistogram()
				}
			}
		}
	}
	return nil
}

func bucketCount(h *dto.Histogram, le float64) uint64 {
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() == le {
			return b.GetCumulativeCount()
		}
	}
	return math.MaxUint64
}

// A flush of 100 events sampled by 4 Kafka timestamps counts 100 events, 25 for each
// sample; its raw rows' occurred_at feed the event-time histogram the same way.
func TestFreshnessCountsEventsBySample(t *testing.T) {
	m := New(Sources{})
	stored := time.Now()
	ago := func(d time.Duration) int64 { return stored.Add(-d).UnixNano() }
	occ := make(schemas.MillisColumn, 100)
	for i := range occ {
		occ[i] = stored.Add(-59 * time.Minute).UnixMilli() // every event 59 minutes old
	}
	m.Stored(&pipeline.Flush{
		Range:     pipeline.Range{Topic: "payments", First: 0, Last: 99},
		Events:    100,
		Stored:    stored,
		Published: []int64{ago(80 * time.Millisecond), ago(150 * time.Millisecond), ago(450 * time.Millisecond), ago(1800 * time.Millisecond)},
		Blocks:    []schemas.Block{{Table: "payments", Names: []string{"event_id", "occurred_at"}, Columns: []any{[]string{}, occ}, Rows: 100}},
	})
	h := histogram(t, m, "sluice_event_freshness_seconds", "payments")
	if h == nil {
		t.Fatal("no sluice_event_freshness_seconds{topic=payments}")
	}
	if h.GetSampleCount() != 100 {
		t.Errorf("count %d, want 100", h.GetSampleCount())
	}
	if want := 25 * (0.08 + 0.15 + 0.45 + 1.8); math.Abs(h.GetSampleSum()-want) > 1e-6 {
		t.Errorf("sum %v, want %v", h.GetSampleSum(), want)
	}
	for le, want := range map[float64]uint64{.05: 0, .1: 25, .2: 50, .5: 75, 1.5: 75, 2: 100} {
		if got := bucketCount(h, le); got != want {
			t.Errorf("bucket le=%v: %d, want %d", le, got, want)
		}
	}
	lag := histogram(t, m, "sluice_event_time_lag_seconds", "payments")
	if lag == nil || lag.GetSampleCount() != 100 || bucketCount(lag, 3600) != 100 || bucketCount(lag, 900) != 0 {
		t.Errorf("event time lag histogram %v, want 100 events in (900, 3600]", lag)
	}

	p50, p99, n := m.RecentFreshness(time.Minute)
	if n != 100 {
		t.Fatalf("recent freshness over %d events, want 100", n)
	}
	// 5% resolution: p50 is the second sample's 150 ms, p99 the last one's 1.8 s.
	if p50 < 150*time.Millisecond || p50 > 158*time.Millisecond || p99 < 1800*time.Millisecond || p99 > 1890*time.Millisecond {
		t.Errorf("recent p50 %v p99 %v, want ~150ms and ~1.8s", p50, p99)
	}
}

// A flush without raw rows observes freshness but not event-time lag; a flush of
// more events than samples spreads the remainder so the count stays exact.
func TestFreshnessWithoutRawRows(t *testing.T) {
	m := New(Sources{})
	now := time.Now()
	m.Stored(&pipeline.Flush{Range: pipeline.Range{Topic: "shipments"}, Events: 7, Stored: now,
		Published: []int64{now.UnixNano(), now.UnixNano(), now.UnixNano()}})
	if h := histogram(t, m, "sluice_event_freshness_seconds", "shipments"); h == nil || h.GetSampleCount() != 7 {
		t.Errorf("freshness %v, want 7 events", h)
	}
	if h := histogram(t, m, "sluice_event_time_lag_seconds", "shipments"); h != nil {
		t.Errorf("event time lag observed without raw rows: %v", h)
	}
}
