package e2e

import (
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/app"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/dev/testenv"
	"github.com/sluicehq/sluice/internal/dev/testsupport"
)

// startFailsLogged is startFails that also returns the instance's log.
func startFailsLogged(t *testing.T, cfg config.Config) (logs string, err error) {
	t.Helper()
	var buf testsupport.SyncBuffer
	err = startFails(t, cfg, slog.New(slog.NewTextHandler(io.MultiWriter(&buf, testWriter{t}), nil)))
	return buf.String(), err
}

// TestStartupClickHouseHTTPPort: ClickHouse's HTTP port given as the native
// address stops start-up at once, naming the variable and the native ports.
func TestStartupClickHouseHTTPPort(t *testing.T) {
	ch := testenv.ClickHouse(t)
	s := buildStack(t, testenv.Kafka(t), ch, 1, map[string]string{"SLUICE_CLICKHOUSE_ADDR": ch.HTTPAddr})
	logs, err := startFailsLogged(t, s.cfg)
	for _, want := range []string{"SLUICE_CLICKHOUSE_ADDR=" + ch.HTTPAddr, "HTTP port", "native port (9000, or 9440"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(logs, "level=WARN") {
		t.Errorf("start-up retried:\n%s", logs)
	}
	// `sluice migrate` says the same.
	if err := app.Migrate(t.Context(), s.cfg); err == nil || !strings.Contains(err.Error(), "native port") {
		t.Errorf("migrate on the HTTP port: %v", err)
	}
}

// TestStartupNotMigrated: with SLUICE_MIGRATE=false, a missing database or missing
// tables stop start-up once with "run `sluice migrate`", not a stream of warnings;
// once migrated, the same configuration starts.
func TestStartupNotMigrated(t *testing.T) {
	ch := testenv.ClickHouse(t)
	// The database does not exist.
	s := buildStack(t, testenv.Kafka(t), &testenv.CH{Addr: ch.Addr, Database: ch.Database + "_absent"}, 1, map[string]string{"SLUICE_MIGRATE": "false"})
	logs, err := startFailsLogged(t, s.cfg)
	if !strings.Contains(err.Error(), "database "+ch.Database+"_absent does not exist") || !strings.Contains(err.Error(), "run `sluice migrate`") {
		t.Errorf("missing database: %v", err)
	}
	if strings.Contains(logs, "level=WARN") {
		t.Errorf("start-up retried:\n%s", logs)
	}

	// The database exists (testenv made it), its tables do not.
	s = buildStack(t, testenv.Kafka(t), ch, 1, map[string]string{"SLUICE_MIGRATE": "false"})
	_, err = startFailsLogged(t, s.cfg)
	if !strings.Contains(err.Error(), "lacks") || !strings.Contains(err.Error(), "run `sluice migrate`") {
		t.Errorf("missing tables: %v", err)
	}

	if err := app.Migrate(t.Context(), s.cfg); err != nil {
		t.Fatal(err)
	}
	s.start(t, "migrated").stop(t)
}

// checkOutageLogged checks the log of an instance that lived through ClickHouse
// outages: each outage is one warning when it starts and one summary when it ends,
// naming the partitions that waited, and nothing else is logged per partition or
// per attempt. wantPartitions is how many partitions the (first) outage paused, or
// 0 when that depends on the timing.
func checkOutageLogged(t *testing.T, logs string, wantPartitions int) {
	t.Helper()
	var starts, ends, warns []string
	for line := range strings.Lines(logs) {
		switch {
		case strings.Contains(line, "ClickHouse calls are failing"):
			starts = append(starts, line)
		case strings.Contains(line, "the outage is over"):
			ends = append(ends, line)
		case strings.Contains(line, "level=WARN"), strings.Contains(line, "level=ERROR"):
			warns = append(warns, line)
		}
	}
	t.Logf("outage log: %d start(s), %d end(s), %d other warning(s)", len(starts), len(ends), len(warns))
	if len(starts) == 0 || len(starts) != len(ends) {
		t.Errorf("%d outage start lines and %d end lines, want one of each per outage:\n%s", len(starts), len(ends), logs)
	}
	if len(ends) > 0 && wantPartitions > 0 && !strings.Contains(ends[0], "partitions_paused="+strconv.Itoa(wantPartitions)) {
		t.Errorf("the first outage's summary does not say %d partitions paused: %s", wantPartitions, ends[0])
	}
	if len(warns) > 0 {
		t.Errorf("%d other warnings during the outage:\n%s", len(warns), strings.Join(warns, ""))
	}
}

// TestStartupMissingTopic: a mistyped source topic is waited for, but not in
// silence: it is logged at once, /readyz is 503 naming it and the
// existing topic it was probably meant to be, and once it is created the instance
// is ready and says so.
func TestStartupMissingTopic(t *testing.T) {
	s := newStack(t, 2, map[string]string{"SLUICE_TOPIC_PAYMENTS": "paymnets"})
	var logs testsupport.SyncBuffer
	in := s.startLogged(t, "a", &logs)
	base := "http://" + in.in.HTTPAddr()
	waitFor(t, time.Minute, "/readyz 503 naming the missing topic", func() bool {
		code, body := get(t, base+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, `"paymnets" does not exist (did you mean "payments"?)`)
	})
	if m := in.in.MissingTopics(); len(m) != 1 || m[0].Name != "paymnets" || m[0].Closest != "payments" || m[0].Since.IsZero() {
		t.Errorf("MissingTopics() = %+v", m)
	}
	// Logged once (and then once a minute: TestTopicWatch).
	if n := strings.Count(logs.String(), `msg="source topic \"paymnets\" does not exist`); n != 1 {
		t.Errorf("the missing topic was logged %d times, want once:\n%s", n, logs.String())
	}

	s.kafka.CreateTopic(t, "paymnets", 2)
	waitFor(t, time.Minute, "/readyz 200 once the topic exists", func() bool { code, _ := get(t, base+"/readyz"); return code == http.StatusOK })
	if len(in.in.MissingTopics()) != 0 {
		t.Errorf("MissingTopics() after creation = %+v", in.in.MissingTopics())
	}
	if !strings.Contains(logs.String(), "source topic exists now") {
		t.Errorf("the topic's creation was not logged:\n%s", logs.String())
	}
}

// TestSwappedTopicsWarn: the payments and shipments topics swapped in the
// configuration make every record invalid; each partition warns once, naming the
// reasons, instead of dead-lettering everything in silence.
func TestSwappedTopicsWarn(t *testing.T) {
	s := newStack(t, 2, map[string]string{"SLUICE_TOPIC_PAYMENTS": "shipments", "SLUICE_TOPIC_SHIPMENTS": "payments"})
	truth := s.publish(t, generator(t, 41, 4000, 4000, 0, 0), 0)
	total := truth.PaymentCounts.Records + truth.ShipmentCounts.Records
	var logs testsupport.SyncBuffer
	in := s.startLogged(t, "a", &logs)
	waitFor(t, 2*time.Minute, "every record dead-lettered and committed", func() bool { return s.committedAll(t) })
	in.stop(t)
	if got := in.in.Stats().Invalid.Load(); got != total {
		t.Errorf("%d of %d records dead-lettered", got, total)
	}
	var warns []string
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "almost every record of this partition is invalid") {
			warns = append(warns, line)
		}
	}
	if len(warns) != 4 {
		t.Fatalf("%d warnings for 4 all-invalid partitions, want one each:\n%s", len(warns), logs.String())
	}
	for _, w := range warns {
		if !strings.Contains(w, "top_reasons=") || !strings.Contains(w, "partition=") {
			t.Errorf("the warning names no partition or reasons: %s", w)
		}
	}
}

// TestTableDroppedAtRunTime: a table that disappears while Sluice runs (the ledger,
// which every partition writes) blocks every partition with one warning each that
// says to run `sluice migrate`, not an outage retried in the dark, and /readyz says
// so; once migrated, the stores resume by themselves.
func TestTableDroppedAtRunTime(t *testing.T) {
	s := newStack(t, 2, nil)
	gen := generator(t, 43, 4000, 2000, 0, 0)
	s.publishSome(t, gen, 1000)
	var logs testsupport.SyncBuffer
	in := s.startLogged(t, "a", &logs)
	base := "http://" + in.in.HTTPAddr()
	waitFor(t, time.Minute, "first batches stored", func() bool { return in.in.Stats().Flushes.Load() > 0 })
	// The ledger: the first table a flush writes, and the one /readyz reads.
	s.ch.Exec(t, "DROP TABLE "+s.ch.Database+".sluice_ledger SYNC")
	s.publish(t, gen, 0)
	waitFor(t, time.Minute, "/readyz 503 saying to run `sluice migrate`", func() bool {
		code, body := get(t, base+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "blocked (clickhouse_permanent)") && strings.Contains(body, "sluice migrate")
	})
	waitFor(t, time.Minute, "every partition blocked", func() bool { return s.blockedPartitions(t, base, "") == 4 })
	if err := app.Migrate(t.Context(), s.cfg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "all offsets committed after the migration", func() bool { return s.committedAll(t) })
	in.stop(t)
	var blocked, other []string
	for line := range strings.Lines(logs.String()) {
		switch {
		case strings.Contains(line, "level=WARN msg=\"ClickHouse refuses the partition's"):
			blocked = append(blocked, line)
			if !strings.Contains(line, "run `sluice migrate`") {
				t.Errorf("the warning does not say to run `sluice migrate`: %s", line)
			}
		case strings.Contains(line, "level=WARN"), strings.Contains(line, "level=ERROR"):
			other = append(other, line)
		}
	}
	if len(blocked) != 4 || len(other) > 0 {
		t.Errorf("%d blocked-partition warnings (want one per partition, 4) and other warnings:\n%s", len(blocked), strings.Join(append(blocked, other...), ""))
	}
}
