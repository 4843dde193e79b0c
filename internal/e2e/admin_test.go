package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sluicehq/sluice/internal/dev/testenv"
	"github.com/sluicehq/sluice/producers"
	"github.com/sluicehq/sluice/producers/loadgen"
	"github.com/sluicehq/sluice/schemas"
)

// TestAdmin runs one instance with the admin listener on a free port and checks what
// an operator sees: readiness before the member joins, after it joins and while
// ClickHouse is down; /metrics counters equal to a known stream's ground truth; and
// the status page rendered by a real headless browser, twice, with charts drawn and
// numbers moving.
func TestAdmin(t *testing.T) {
	s := newStackOn(t, testenv.PrivateClickHouse(t), 2, map[string]string{"SLUICE_HTTP_ADDR": "127.0.0.1:0"})

	// Hold the member out of the group until the test lets it in.
	letIn, _ := holdJoins(s)

	truth := s.publish(t, generator(t, 61, 4000, 2000, 0.03, 0.02), 0)
	in := s.start(t, "a")
	base := "http://" + in.in.HTTPAddr()
	if code, body := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "not joined") {
		t.Fatalf("/readyz before joining: %d %q, want 503 not joined", code, body)
	}
	letIn()
	waitFor(t, time.Minute, "/readyz 200 after joining", func() bool { code, _ := get(t, base+"/readyz"); return code == http.StatusOK })
	waitFor(t, 2*time.Minute, "all offsets committed", func() bool { return s.committedAll(t) })

	// Every counter equals the ground truth (one instance, no replays).
	mf := scrape(t, base)
	pc, sc := truth.PaymentCounts, truth.ShipmentCounts
	window := s.cfg.Pipeline.Window
	want := map[string]float64{
		"sluice_records_consumed_total":                                                        float64(pc.Records + sc.Records),
		"sluice_events_valid_total":                                                            float64(pc.Valid + sc.Valid),
		"sluice_records_dead_lettered_total":                                                   float64(pc.Invalid + sc.Invalid),
		"sluice_records_invalid_total":                                                         float64(pc.Invalid + sc.Invalid), // summed over reasons
		"sluice_duplicates_dropped_total":                                                      float64(pc.Duplicates + sc.Duplicates),
		`sluice_rows_inserted_total{table="payments"}`:                                         float64(pc.Valid),
		`sluice_rows_inserted_total{table="shipments"}`:                                        float64(sc.Valid),
		`sluice_rows_inserted_total{table="sluice_event_ids"}`:                                 float64(pc.Valid + sc.Valid),
		`sluice_rollup_events_total{table="` + schemas.RollupTable("payments", window) + `"}`:  float64(pc.Valid),
		`sluice_rollup_events_total{table="` + schemas.RollupTable("shipments", window) + `"}`: float64(sc.Valid),
		"sluice_store_retries_total":                                                           0,
		"sluice_paused_partitions":                                                             0,
		"sluice_assigned_partitions":                                                           4,
	}
	for name, w := range want {
		if got, ok := value(mf, name); !ok || got != w {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, w)
		}
	}
	flushes, _ := value(mf, "sluice_flushes_total")
	for _, name := range []string{"sluice_insert_duration_seconds", "sluice_kafka_commit_duration_seconds"} {
		if n := histCount(mf, name); n == 0 {
			t.Errorf("%s has no observations", name)
		}
	}
	if n := histCount(mf, "sluice_insert_duration_seconds"); float64(n) < flushes {
		t.Errorf("sluice_insert_duration_seconds counted %d Store calls for %v flushes", n, flushes)
	}
	if r, _ := value(mf, "sluice_rollup_compression_ratio"); r < 1 {
		t.Errorf("sluice_rollup_compression_ratio = %v, want ≥ 1", r)
	}
	if _, ok := mf["sluice_kafka_connects_total"]; !ok {
		t.Errorf("kprom's client metrics are missing")
	}
	// Lag is polled every few seconds: it reaches zero for all four partitions.
	waitFor(t, time.Minute, "sluice_consumer_lag of 4 partitions, all 0", func() bool {
		f := scrape(t, base)["sluice_consumer_lag"]
		if f == nil || len(f.Metric) != 4 {
			return false
		}
		for _, m := range f.Metric {
			if m.GetGauge().GetValue() != 0 {
				return false
			}
		}
		return true
	})

	// The status page in a real browser while traffic flows.
	t.Run("status page", func(t *testing.T) {
		browser := chromium(t)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		pubDone := make(chan error, 1)
		go func() { pubDone <- s.publishFor(ctx, generator(t, 62, 200000, 100000, 0.01, 0.01), 1500) }()
		defer func() { cancel(); <-pubDone }()
		st := in.in.Stats()
		before := st.Records.Load()
		waitFor(t, time.Minute, "new traffic consumed", func() bool { return st.Records.Load() > before+1000 })
		first := dumpDOM(t, browser, base+"/")
		waitFor(t, time.Minute, "more traffic consumed", func() bool { return st.Records.Load() > before+4000 })
		second := dumpDOM(t, browser, base+"/")
		for i, dom := range []string{first, second} {
			if !strings.Contains(dom, `<title>Sluice status</title>`) || !strings.Contains(dom, `class="badge ok">ready`) {
				t.Fatalf("dump %d: the page did not load and render a ready instance:\n%s", i+1, dom)
			}
			for _, chart := range []string{"chart-eps", "chart-lag", "chart-latency"} {
				if n := chartPoints(dom, chart); n < 2 {
					t.Errorf("dump %d: chart %s draws %d points, want ≥ 2", i+1, chart, n)
				}
			}
			if !strings.Contains(dom, "<td>payments</td>") || !strings.Contains(dom, "<td>shipments</td>") {
				t.Errorf("dump %d: the partitions table does not list both topics", i+1)
			}
			if strings.Contains(dom, `badge bad">unreachable`) {
				t.Errorf("dump %d: the page could not reach /api/status", i+1)
			}
		}
		r1, r2 := field(first, "records"), field(second, "records")
		if r1 == "" || r1 == "–" || r1 == r2 {
			t.Errorf("records consumed did not move between the dumps: %q then %q", r1, r2)
		}
		t.Logf("status page: records %s then %s, events/s %s then %s", r1, r2, field(first, "eps"), field(second, "eps"))
	})

	// ClickHouse down: not ready, with the reason; back: ready again.
	srv := s.ch.Server()
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "/readyz 503 naming ClickHouse", func() bool {
		code, body := get(t, base+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "ClickHouse")
	})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "/readyz 200 after ClickHouse is back", func() bool { code, _ := get(t, base+"/readyz"); return code == http.StatusOK })
}

// get fetches url and returns the status code and body (0 on a transport error).
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Logf("GET %s: %v", url, err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// scrape parses /metrics.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mf
}

// value returns a counter or gauge: `name` sums every series of the family, and
// `name{label="v"}` picks the series with that one label value.
func value(mf map[string]*dto.MetricFamily, sel string) (float64, bool) {
	name, label, lv := sel, "", ""
	if i := strings.IndexByte(sel, '{'); i >= 0 {
		name = sel[:i]
		kv := strings.SplitN(strings.Trim(sel[i:], "{}"), "=", 2)
		label, lv = kv[0], strings.Trim(kv[1], `"`)
	}
	f := mf[name]
	if f == nil {
		return 0, false
	}
	sum, found := 0.0, false
	for _, m := range f.Metric {
		if label != "" {
			match := false
			for _, l := range m.Label {
				if l.GetName() == label && l.GetValue() == lv {
					match = true
				}
			}
			if !match {
				continue
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		}
	}
	return sum, found
}

// histCount is the number of observations of a histogram family, all series.
func histCount(mf map[string]*dto.MetricFamily, name string) uint64 {
	var n uint64
	if f := mf[name]; f != nil {
		for _, m := range f.Metric {
			n += m.GetHistogram().GetSampleCount()
		}
	}
	return n
}

// chromium returns the headless browser's path. Under CI a missing browser fails the
// test (.ci/run installs it); elsewhere it skips this part only.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found: the status page test needs it (apt-get install -y chromium; .ci/run does it)")
	}
	t.Skip("chromium not found; install it (apt-get install -y chromium) to test the status page")
	return ""
}

// dumpDOM loads url in headless chromium and returns the DOM after ~3 s of page time.
func dumpDOM(t *testing.T, browser, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=3000", "--dump-dom", url)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return string(out)
}

var pathPoints = regexp.MustCompile(`<path [^>]*data-points="(\d+)"`)

// chartPoints is the largest point count of the paths inside the svg with id.
func chartPoints(dom, id string) int {
	i := strings.Index(dom, `id="`+id+`"`)
	if i < 0 {
		return 0
	}
	end := strings.Index(dom[i:], "</svg>")
	if end < 0 {
		return 0
	}
	best := 0
	for _, m := range pathPoints.FindAllStringSubmatch(dom[i:i+end], -1) {
		if n, _ := strconv.Atoi(m[1]); n > best {
			best = n
		}
	}
	return best
}

// field is the text of the element with id (no nested tags).
func field(dom, id string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(dom)
	if m == nil {
		return ""
	}
	return m[1]
}

// publishFor publishes gen at rate until ctx is done or gen ends.
func (s *stack) publishFor(ctx context.Context, gen *loadgen.Generator, rate float64) error {
	pub, err := producers.NewPublisher(producers.Brokers(s.kafka.Brokers()...))
	if err != nil {
		return err
	}
	defer pub.Close()
	_, err = loadgen.Run(ctx, pub, gen, loadgen.RunOptions{Rate: rate})
	if ctx.Err() != nil {
		return nil
	}
	return err
}
