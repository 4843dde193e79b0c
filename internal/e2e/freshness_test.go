package e2e

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/dev/bench"
)

// TestFreshnessAgreesWithOutside publishes payments at a constant rate to a running
// instance, measures publish → visible in ClickHouse from outside (the latency
// benchmark's probe) and checks Sluice's own sluice_event_freshness_seconds: it
// counts exactly the events stored, and its mean, median and p99 (and the status
// page's) are within one flush interval of what the probe saw (less the probe's
// own lateness).
func TestFreshnessAgreesWithOutside(t *testing.T) {
	const flush = 250 * time.Millisecond
	s := newStack(t, 2, map[string]string{"SLUICE_FLUSH_INTERVAL": flush.String()})
	in := s.start(t, "a")
	base := "http://" + in.in.HTTPAddr()
	waitFor(t, time.Minute, "/readyz 200", func() bool { code, _ := get(t, base+"/readyz"); return code == http.StatusOK })

	lat, err := bench.Probe{
		Brokers: s.kafka.Brokers(), Topic: s.cfg.Kafka.PaymentsTopic, Conn: s.ch.Conn(t), Database: s.ch.Database,
		Rate: 1000, Duration: 3 * time.Second, Seed: 15,
	}.Measure(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	h, err := bench.ScrapeHistogram(t.Context(), base+"/metrics", "sluice_event_freshness_seconds")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("from outside: %s", lat)
	t.Logf("sluice_event_freshness_seconds: %d events, p50 %s, p99 %s, mean %s", h.Count, h.Quantile(.5), h.Quantile(.99), h.Mean())
	if lat.Events != 3000 || h.Count != uint64(lat.Events) {
		t.Fatalf("the probe measured %d events and the histogram counts %d, want 3000 each", lat.Events, h.Count)
	}
	// The status page's panel reads the same events.
	code, body := get(t, base+"/api/status")
	var st struct {
		P50    float64 `json:"freshness_p50_ms"`
		P99    float64 `json:"freshness_p99_ms"`
		Events int64   `json:"fresh_events"`
	}
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil || st.Events != int64(lat.Events) {
		t.Fatalf("/api/status: %d %v: %d fresh events, want %d", code, err, st.Events, lat.Events)
	}
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	// The probe sees an event at the end of the first poll that starts after it is
	// visible: up to an interval and two polls late, which a loaded machine makes
	// hundreds of milliseconds. So what it measures may exceed Sluice's own figure
	// by that much more than the flush interval.
	late := lat.Poll + 2*lat.PollCost
	for _, c := range []struct {
		what            string
		inside, outside time.Duration
	}{
		{"mean", h.Mean(), lat.Mean()},
		{"p50", h.Quantile(.5), lat.Quantile(.5)},
		{"p99", h.Quantile(.99), lat.Quantile(.99)},
		{"status page p50", ms(st.P50), lat.Quantile(.5)},
		{"status page p99", ms(st.P99), lat.Quantile(.99)},
	} {
		if d := c.inside - c.outside; d > flush || d < -flush-late {
			t.Errorf("freshness %s %s, measured from outside %s: further apart than the flush interval %s (and the probe's lateness %s)", c.what, c.inside, c.outside, flush, late)
		}
	}
}
