package pipeline_test

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/pipeline"
)

// Raw rows keep the filter's ids unless their TTL can delete them while a rebuild
// may still ask for them: within the horizon and its slack of a Kafka timestamp, for
// an event time up to the lateness limit before it.
func TestRawRowsKeepIDs(t *testing.T) {
	const day = 24 * time.Hour
	for _, tc := range []struct {
		ttl, horizon, lateness time.Duration
		want                   bool
	}{
		{0, day, 7 * day, true},
		{0, day, 0, true},
		{30 * day, day, 7 * day, true},
		{day + dedupSlack + 7*day, day, 7 * day, true},
		{day + dedupSlack + 7*day - time.Second, day, 7 * day, false},
		{30 * day, day, 0, false}, // any lateness: an old event's row may be gone at once
		{time.Hour, day, time.Minute, false},
	} {
		if got := pipeline.RawRowsKeepIDs(tc.ttl, tc.horizon, tc.lateness); got != tc.want {
			t.Errorf("RawRowsKeepIDs(ttl %v, horizon %v, lateness %v) = %v, want %v", tc.ttl, tc.horizon, tc.lateness, got, tc.want)
		}
	}
}
