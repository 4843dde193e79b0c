package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/sluicehq/sluice/internal/app"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/dev/verify"
	"github.com/sluicehq/sluice/producers/loadgen"
	"github.com/sluicehq/sluice/schemas"
)

// logLines counts an instance's log lines and passes them on to the test log.
type logLines struct {
	t  *testing.T
	mu sync.Mutex
	n  map[string]int // lines containing each of the watched strings
	// all counts every line.
	all int
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		l.all++
		for k := range l.n {
			if strings.Contains(line, k) {
				l.n[k]++
			}
		}
	}
	l.mu.Unlock()
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (l *logLines) count(k string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[k]
}

// recreateTopics deletes the source topics and creates them again with the same
// partitions: new topic ids, offsets from 0, no committed offsets.
func (s *stack) recreateTopics(t *testing.T, partitions int32) {
	t.Helper()
	adm := kadm.NewClient(s.kafka.Client(t))
	before, err := adm.ListTopics(t.Context(), "payments", "shipments")
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"payments", "shipments"} {
		if err := s.kafka.Cluster().DeleteTopic(topic); err != nil {
			t.Fatalf("delete %s: %v", topic, err)
		}
		s.kafka.CreateTopic(t, topic, partitions)
	}
	// A new client: an admin client may answer from metadata it cached.
	after, err := kadm.NewClient(s.kafka.Client(t)).ListTopics(t.Context(), "payments", "shipments")
	if err != nil {
		t.Fatal(err)
	}
	for topic, d := range after {
		if d.ID == before[topic].ID {
			t.Fatalf("%s kept its topic id %s", topic, d.ID)
		}
	}
}

// sumTruths is the ground truth of two streams stored side by side.
func sumTruths(a, b *loadgen.Truth) *loadgen.Truth {
	out := loadgen.NewTruth(a.Window, a.PaymentCounts.Topic, a.ShipmentCounts.Topic)
	for _, tr := range []*loadgen.Truth{a, b} {
		for k, v := range tr.Payments {
			w, ok := out.Payments[k]
			if !ok {
				w.AmountMinorMin, w.AmountMinorMax = v.AmountMinorMin, v.AmountMinorMax
			}
			w.Events += v.Events
			w.AmountMinorSum += v.AmountMinorSum
			w.AmountMinorMin, w.AmountMinorMax = min(w.AmountMinorMin, v.AmountMinorMin), max(w.AmountMinorMax, v.AmountMinorMax)
			out.Payments[k] = w
		}
		for k, v := range tr.Shipments {
			w := out.Shipments[k]
			w.Events += v.Events
			w.WeightGramsSum += v.WeightGramsSum
			out.Shipments[k] = w
		}
		for _, c := range []struct{ to, from *loadgen.TopicCounts }{{&out.PaymentCounts, &tr.PaymentCounts}, {&out.ShipmentCounts, &tr.ShipmentCounts}} {
			c.to.Records += c.from.Records
			c.to.Valid += c.from.Valid
			c.to.Invalid += c.from.Invalid
			c.to.Duplicates += c.from.Duplicates
		}
	}
	return out
}

// TestTopicRecreated deletes both source topics while Sluice runs and creates them
// again, then publishes the same stream again (the same event ids at the same
// offsets from 0), half while the instance that saw the deletion runs and half after
// a restart. Nothing of the new incarnations may be lost or dropped as a duplicate of
// the old one, the old incarnation's rows stay, and the fetch errors are logged at
// most once per topic per minute.
func TestTopicRecreated(t *testing.T) {
	const partitions = 4
	s := newStack(t, partitions, nil)
	newGen := func() *loadgen.Generator { return generator(t, 61, 6000, 3000, 0.01, 0.01) }
	truthA := s.publish(t, newGen(), 0)
	logs := &logLines{t: t, n: map[string]int{"fetch error": 0, "topic deleted or re-created": 0}}
	a := s.startLogged(t, "a", logs)
	waitFor(t, 2*time.Minute, "first incarnation committed", func() bool { return s.committedAll(t) })
	s.checkStored(t, truthA)
	storedA := a.in.Stats().Valid.Load()

	s.recreateTopics(t, partitions)
	genB := newGen()
	s.publishSome(t, genB, 4000)
	// The running instance consumes the new incarnations by itself.
	waitFor(t, 2*time.Minute, "the running instance consumes the new incarnations", func() bool { return s.committedAll(t) })
	if a.in.Stats().Valid.Load() == storedA {
		t.Error("the running instance committed the new incarnations without storing any of their events")
	}
	a.stop(t)
	truthB := s.publish(t, genB, 0)
	b := s.start(t, "b")
	waitFor(t, 2*time.Minute, "second incarnation committed after a restart", func() bool { return s.committedAll(t) })
	b.stop(t)

	want := sumTruths(truthA, truthB)
	var st *verify.Stored
	withCH(t, "read what ClickHouse stored", func() (err error) {
		st, err = verify.Read(t.Context(), s.ch.Conn(t), s.ch.Database, s.cfg.Pipeline.Window, "payments", "shipments")
		return err
	})
	got := *st.Truth
	for _, c := range []struct{ g, w *loadgen.TopicCounts }{{&got.PaymentCounts, &want.PaymentCounts}, {&got.ShipmentCounts, &want.ShipmentCounts}} {
		valid := c.g.Valid
		*c.g = *c.w
		c.g.Valid = valid
	}
	if d := want.Diff(&got, 20); len(d) > 0 {
		t.Errorf("ClickHouse differs from both incarnations' ground truth:\n%s", strings.Join(d, "\n"))
	}
	// Each event id twice, once per incarnation.
	if st.RawPayments != uint64(2*truthA.PaymentCounts.Valid) || st.RawPaymentIDs != uint64(truthA.PaymentCounts.Valid) ||
		st.RawShipments != uint64(2*truthA.ShipmentCounts.Valid) || st.RawShipmentIDs != uint64(truthA.ShipmentCounts.Valid) {
		t.Errorf("raw rows: payments %d (%d ids), shipments %d (%d ids); want each valid event once per incarnation: %d, %d",
			st.RawPayments, st.RawPaymentIDs, st.RawShipments, st.RawShipmentIDs, truthA.PaymentCounts.Valid, truthA.ShipmentCounts.Valid)
	}
	if got := a.in.Stats().Duplicates.Load() + b.in.Stats().Duplicates.Load(); got != truthA.PaymentCounts.Duplicates+truthA.ShipmentCounts.Duplicates+truthB.PaymentCounts.Duplicates+truthB.ShipmentCounts.Duplicates {
		t.Errorf("dropped %d producer duplicates, want each incarnation's own", got)
	}
	fetchErrs, restarts := logs.count("fetch error"), logs.count("topic deleted or re-created")
	t.Logf("instance a: %d log lines, %d fetch-error lines, %d topic restarts", logs.all, fetchErrs, restarts)
	if restarts < 1 {
		t.Error("the running instance never restarted a re-created topic")
	}
	// One line per topic per minute; the test runs for less than a few minutes.
	if fetchErrs > 8 {
		t.Errorf("%d fetch-error log lines: not rate-limited", fetchErrs)
	}
}

// TestNewGroupRefused restarts Sluice under another consumer group over the same
// tables: it must refuse to store what the first group stored, naming that group and
// the variable that allows it, and store nothing; with SLUICE_ALLOW_REINGEST=true it
// re-ingests everything into emptied tables exactly.
func TestNewGroupRefused(t *testing.T) {
	s := newStack(t, 4, nil)
	truth := s.publish(t, generator(t, 71, 3000, 1500, 0.01, 0.01), 0)
	a := s.start(t, "a")
	waitFor(t, 2*time.Minute, "all offsets committed", func() bool { return s.committedAll(t) })
	a.stop(t)
	s.checkStored(t, truth)
	first := s.cfg.Kafka.Group

	renamed := s.withEnv(t, map[string]string{"SLUICE_KAFKA_GROUP": "renamed-" + first})
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})).With("instance", "renamed")
	in, err := app.New(t.Context(), renamed.cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	err = in.Run(ctx)
	if ctx.Err() != nil {
		t.Fatal("the renamed group did not stop by itself")
	}
	if err == nil {
		t.Fatal("the renamed group ran without complaint")
	}
	for _, want := range []string{`group "` + first + `" already stored offsets`, "SLUICE_ALLOW_REINGEST=true", "SLUICE_KAFKA_GROUP=" + first, "from offset 0", "every partition refused:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q lacks %q", err, want)
		}
	}
	// Each refused partition is named with the other group's offsets: those whose
	// worker had its first records before the run stopped (in this test, usually all).
	named := 0
	for _, topic := range []string{"payments", "shipments"} {
		for p := range 4 {
			if strings.Contains(err.Error(), fmt.Sprintf("\n  %s/%d: group %q stored offsets 0-", topic, p, first)) {
				named++
			}
		}
	}
	if named == 0 || strings.Count(err.Error(), "\n  ") != named {
		t.Errorf("refusal names %d partitions in %d lines: %v", named, strings.Count(err.Error(), "\n  "), err)
	}
	t.Logf("%d of 8 partitions named", named)
	t.Logf("refusal: %v", err)
	s.checkStored(t, truth)

	// A deliberate re-ingest into emptied tables.
	conn := s.ch.Conn(t)
	for _, table := range []string{"payments", "shipments", schemas.RollupTable("payments", s.cfg.Pipeline.Window), schemas.RollupTable("shipments", s.cfg.Pipeline.Window)} {
		withCH(t, "truncate "+table, func() error {
			return conn.Exec(t.Context(), "TRUNCATE TABLE `"+s.ch.Database+"`.`"+table+"`")
		})
	}
	again := s.withEnv(t, map[string]string{"SLUICE_KAFKA_GROUP": "renamed-" + first, "SLUICE_ALLOW_REINGEST": "true"})
	b := again.start(t, "reingest")
	waitFor(t, 2*time.Minute, "the re-ingest committed", func() bool { return again.committedAll(t) })
	b.stop(t)
	again.checkStored(t, truth)
}

// withEnv is a copy of s whose configuration has extra variables.
func (s *stack) withEnv(t *testing.T, extra map[string]string) *stack {
	t.Helper()
	c := *s
	c.env = map[string]string{}
	for k, v := range s.env {
		c.env[k] = v
	}
	for k, v := range extra {
		c.env[k] = v
	}
	cfg, err := config.Load(c.env)
	if err != nil {
		t.Fatal(err)
	}
	c.cfg = cfg
	return &c
}
