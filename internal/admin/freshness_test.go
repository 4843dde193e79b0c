package admin

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The freshness panel shows the quantiles in seconds and the events they cover, and
// says so when nothing was stored lately.
func TestPageShowsFreshness(t *testing.T) {
	for _, tc := range []struct {
		name string
		snap func(*Snapshot)
		want []string
	}{
		{"stored", func(s *Snapshot) {
			s.FreshnessP50, s.FreshnessP99, s.FreshEvents = 640*time.Millisecond, 1180*time.Millisecond, 45000
			s.FreshNowP50, s.FreshNowP99, s.FreshNowEvents = 600*time.Millisecond, time.Second, 900
		}, []string{`<span id="freshness">0.64 / 1.18</span>`, "over the 45,000 events stored in the last 5m00s",
			`aria-label="freshness in ms`}},
		{"idle", func(*Snapshot) {}, []string{`<span id="freshness">—</span>`, "no events stored in the last 5m00s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startPage(t, func() Snapshot {
				s := fixture()
				s.FreshnessWindow = 5 * time.Minute
				tc.snap(&s)
				return s
			}, nil, nil)
			code, body := do(t, srv.Handler(), "/")
			if code != http.StatusOK {
				t.Fatalf("/: %d", code)
			}
			for _, want := range tc.want {
				if !strings.Contains(body, want) {
					t.Errorf("the page lacks %s", want)
				}
			}
			// The chart draws the samples' freshness, or nothing when none was stored.
			m := regexp.MustCompile(`id="chart-freshness"[^>]*>.*?data-series="p99" data-points="(\d+)"`).FindStringSubmatch(body)
			if m == nil || (m[1] == "0") != (tc.name == "idle") {
				t.Errorf("freshness chart's p99 points: %v", m)
			}
		})
	}
}

// /api/status gives the freshness quantiles in milliseconds, like the insert latency.
func TestStatusFreshnessJSON(t *testing.T) {
	srv := startPage(t, func() Snapshot {
		s := fixture()
		s.FreshnessP50, s.FreshnessP99, s.FreshEvents, s.FreshnessWindow = 640*time.Millisecond, 1180*time.Millisecond, 45000, 5*time.Minute
		return s
	}, nil, nil)
	code, body := do(t, srv.Handler(), "/api/status")
	var st struct {
		P50    float64 `json:"freshness_p50_ms"`
		P99    float64 `json:"freshness_p99_ms"`
		Window float64 `json:"freshness_window_s"`
		Events int64   `json:"fresh_events"`
	}
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil || st.P50 != 640 || st.P99 != 1180 || st.Window != 300 || st.Events != 45000 {
		t.Errorf("/api/status: %d %v %+v", code, err, st)
	}
}
