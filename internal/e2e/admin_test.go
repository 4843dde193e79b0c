package e2e

import (
	"context"
	"html"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sluicehq/sluice/internal/buildinfo"
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
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "waiting to join the consumer group") {
		t.Fatalf("/readyz before joining: %d %q, want 503 waiting to join", code, body)
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
		`sluice_records_consumed_total{topic="payments"}`:                                      float64(pc.Records),
		`sluice_records_consumed_total{topic="shipments"}`:                                     float64(sc.Records),
		`sluice_events_valid_total{topic="shipments"}`:                                         float64(sc.Valid),
		`sluice_records_dead_lettered_total{topic="payments"}`:                                 float64(pc.Invalid),
		`sluice_records_invalid_total{topic="shipments"}`:                                      float64(sc.Invalid),
		`sluice_duplicates_dropped_total{topic="payments"}`:                                    float64(pc.Duplicates),
		`sluice_records_committable_total{topic="shipments"}`:                                  float64(sc.Records),
		"sluice_build_info":                                                                    1,
		`sluice_rows_inserted_total{table="payments"}`:                                         float64(pc.Valid),
		`sluice_rows_inserted_total{table="shipments"}`:                                        float64(sc.Valid),
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
	// Both types store raw rows, which hold the duplicate filter's ids: no
	// event-id rows.
	if got, ok := value(mf, `sluice_rows_inserted_total{table="sluice_event_ids"}`); ok && got != 0 {
		t.Errorf("%v sluice_event_ids rows inserted, want none: raw rows hold the ids", got)
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

	// The status page with scripts off, as drawn by the server, after a known stream.
	t.Run("status page without scripts", func(t *testing.T) {
		browser := chromium(t)
		shot := filepath.Join(t.ArtifactDir(), "status-no-js.png")
		page := browse(t, browser, base+"/", false, shot)
		t.Logf("screenshot of the status page without scripts: %s", shot)
		if fi, err := os.Stat(shot); err != nil || fi.Size() < 10_000 {
			t.Errorf("no screenshot: %v", err)
		}
		if strings.Contains(page, "data-polls") {
			t.Fatal("the page's script ran: scripts were meant to be off")
		}
		records := pc.Records + sc.Records
		for what, want := range map[string]string{
			"records consumed":   `id="records">` + thousands(records) + `<`,
			"valid events":       `id="valid">` + thousands(pc.Valid+sc.Valid) + `<`,
			"dead-lettered":      `id="invalid">` + thousands(pc.Invalid+sc.Invalid) + `<`,
			"ready badge":        `class="badge ok">ready<`,
			"consumer lag":       `id="lag">0<`,
			"ClickHouse address": s.ch.Addr + " database " + s.ch.Database,
			"Kafka brokers":      s.kafka.Brokers()[0],
			"version":            `id="version">` + html.EscapeString(buildinfo.Read().String()) + `<`,
			"this member":        "(this instance)",
			"payments topic row": "<tr><td>payments</td>",
		} {
			if !strings.Contains(page, want) {
				t.Errorf("%s: the page lacks %s", what, want)
			}
		}
		// Four partitions, each with its lag (0: all committed) and running.
		rows := regexp.MustCompile(`<tr><td>(payments|shipments)</td><td class="num">(\d+)</td><td class="num">0</td><td class="num">\d+</td><td>running</td></tr>`).FindAllString(page, -1)
		if len(rows) != 4 {
			t.Errorf("partitions table: %d rows with lag 0, want 4:\n%s", len(rows), page)
		}
		for _, bad := range []string{"loading", "–", "ZgotmplZ", "NaN"} {
			if strings.Contains(page, bad) {
				t.Errorf("the page shows %q", bad)
			}
		}
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
		first := browse(t, browser, base+"/", true, "")
		waitFor(t, time.Minute, "more traffic consumed", func() bool { return st.Records.Load() > before+4000 })
		second := browse(t, browser, base+"/", true, "")
		for i, dom := range []string{first, second} {
			if !strings.Contains(dom, `<title>Sluice status</title>`) || !strings.Contains(dom, `class="badge ok">ready`) {
				t.Fatalf("dump %d: the page did not load and render a ready instance:\n%s", i+1, dom)
			}
			// The script swapped in fresh views from the server (about one a second).
			if m := regexp.MustCompile(`data-polls="(\d+)"`).FindStringSubmatch(dom); m == nil || m[1] == "0" {
				t.Errorf("dump %d: the script did not refresh the page", i+1)
			}
			for _, chart := range []string{"chart-eps", "chart-lag", "chart-latency"} {
				if n := chartPoints(dom, chart); n < 2 {
					t.Errorf("dump %d: chart %s draws %d points, want ≥ 2", i+1, chart, n)
				}
			}
			if !strings.Contains(dom, "<td>payments</td>") || !strings.Contains(dom, "<td>shipments</td>") {
				t.Errorf("dump %d: the partitions table does not list both topics", i+1)
			}
			if strings.Contains(dom, `id="lost" class="banner lost">`) { // not hidden
				t.Errorf("dump %d: the page could not reach the instance", i+1)
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
	// The reason keeps the time the outage began: its age grows while it lasts.
	waitFor(t, time.Minute, "/readyz saying ClickHouse has not answered for 2s or more", func() bool {
		_, body := get(t, base+"/readyz")
		m := outageAge.FindStringSubmatch(body)
		if m == nil {
			return false
		}
		d, err := time.ParseDuration(m[1])
		return err == nil && d >= 2*time.Second
	})
	t.Run("status page during the outage", func(t *testing.T) {
		browser := chromium(t)
		// Records that cannot be stored now: every partition's worker retries.
		s.publish(t, generator(t, 63, 400, 200, 0, 0), 0)
		waitFor(t, time.Minute, "the status page shows the outage and the retries", func() bool {
			_, page := get(t, base+"/")
			return strings.Contains(page, `id="latency">ClickHouse unreachable<`) && strings.Contains(page, "ClickHouse calls are failing")
		})
		shot := filepath.Join(t.ArtifactDir(), "status-outage-no-js.png")
		page := browse(t, browser, base+"/", false, shot)
		t.Logf("screenshot of the status page during the outage: %s", shot)
		for _, want := range []string{`class="badge bad">not ready<`, "Not ready: ClickHouse at " + s.ch.Addr + " does not answer since ",
			`id="latency">ClickHouse unreachable<`} {
			if !strings.Contains(page, want) {
				t.Errorf("the page lacks %s", want)
			}
		}
		for _, bad := range []string{"intend ", "0.0 / 0.0", ">0 / 0<"} {
			if strings.Contains(page, bad) {
				t.Errorf("the page shows %q", bad)
			}
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "/readyz 200 after ClickHouse is back", func() bool { code, _ := get(t, base+"/readyz"); return code == http.StatusOK })
}

// outageAge finds the age of ClickHouse's outage in a /readyz reason.
var outageAge = regexp.MustCompile(`does not answer since [0-9:]+ \(([0-9hms.]+)\)`)

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

// browse loads url in headless chromium and returns the DOM after ~3 s of page
// time; with screenshot set it first saves a PNG of the page there. Without scripts,
// JavaScript is switched off in the browser profile's content settings (the
// --blink-settings switch stops --screenshot from writing anything).
func browse(t *testing.T, browser, url string, scripts bool, screenshot string) string {
	t.Helper()
	profile := t.TempDir()
	if !scripts {
		if err := os.MkdirAll(filepath.Join(profile, "Default"), 0o755); err != nil {
			t.Fatal(err)
		}
		prefs := `{"profile":{"default_content_setting_values":{"javascript":2}}}`
		if err := os.WriteFile(filepath.Join(profile, "Default", "Preferences"), []byte(prefs), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) string {
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, browser, append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
			"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir=" + profile, "--virtual-time-budget=3000"}, args...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("chromium: %v\n%s", err, stderr.String())
		}
		return string(out)
	}
	if screenshot != "" {
		run("--window-size=1280,1800", "--screenshot="+screenshot, url)
	}
	return run("--dump-dom", url)
}

// thousands writes n as the status page does: 1,234,567.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
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

// TestReadyWhileClickHouseIsDown starts `sluice run` while its ClickHouse is down:
// the admin endpoints answer from the first second (liveness 200, readiness 503
// saying what start-up waits for and since when, the status page the same), and
// readiness turns 200 by itself once ClickHouse is back.
func TestReadyWhileClickHouseIsDown(t *testing.T) {
	s := newStackOn(t, testenv.PrivateClickHouse(t), 2, nil)
	srv := s.ch.Server()
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	p := s.spawn(t, "a")
	base := "http://" + p.admin
	waitFor(t, 30*time.Second, "/healthz 200 while ClickHouse is down", func() bool { code, _ := get(t, base+"/healthz"); return code == http.StatusOK })
	want := "waiting for ClickHouse at " + s.ch.Addr + " since "
	var reason string
	waitFor(t, 30*time.Second, "/readyz 503 naming ClickHouse and the cause", func() bool {
		code, body := get(t, base+"/readyz")
		reason = body
		return code == http.StatusServiceUnavailable && strings.Contains(body, want) && strings.Contains(body, "connection refused")
	})
	t.Logf("/readyz: %s", strings.TrimSpace(reason))
	if m := regexp.MustCompile(`since \d\d:\d\d:\d\d \(\d+s\): dial tcp `).FindString(reason); m == "" {
		t.Errorf("/readyz does not say since when and why: %q", reason)
	}
	if code, page := get(t, base+"/"); code != http.StatusOK || !strings.Contains(page, "Not ready: "+want) || !strings.Contains(page, `class="badge bad">not ready<`) {
		t.Errorf("the status page does not say what start-up waits for: %d\n%s", code, page)
	}
	if code, body := get(t, base+"/metrics"); code != http.StatusOK || !strings.Contains(body, "sluice_build_info{") {
		t.Errorf("/metrics while waiting: %d", code)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "/readyz 200 once ClickHouse is back", func() bool { code, _ := get(t, base+"/readyz"); return code == http.StatusOK })
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	p.term(t)

	// Kafka unreachable: the same from the first second, naming the brokers.
	closed := freeAddr(t)
	s.env["SLUICE_KAFKA_BROKERS"] = closed
	k := s.spawn(t, "no-kafka")
	kbase := "http://" + k.admin
	waitFor(t, 30*time.Second, "/readyz 503 naming Kafka", func() bool {
		code, body := get(t, kbase+"/readyz")
		reason = body
		return code == http.StatusServiceUnavailable && strings.Contains(body, "waiting for Kafka at "+closed+" since ")
	})
	t.Logf("/readyz: %s", strings.TrimSpace(reason))
	if code, _ := get(t, kbase+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while Kafka is down: %d", code)
	}
	k.term(t)
}
