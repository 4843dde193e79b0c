package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/app"
	"github.com/sluicehq/sluice/producers"
	"github.com/sluicehq/sluice/producers/loadgen"
	"github.com/sluicehq/sluice/producers/schemagen"
	"github.com/sluicehq/sluice/schemas"
)

// refundsSchema is an event type no Go code knows: a fintech refund with an exact
// decimal amount, a nested object, an array, a map, an enum, nullable fields and
// two rollups (1m and 1h).
const refundsSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "refunds",
  "type": "object",
  "required": ["refund_id", "requested_at", "reason", "amount", "currency", "payer"],
  "properties": {
    "refund_id": {"type": "string", "minLength": 1, "maxLength": 48},
    "requested_at": {"type": "string", "format": "date-time"},
    "reason": {"type": "string", "enum": ["duplicate", "fraud", "customer_request", "chargeback"]},
    "amount": {"type": "number", "x-clickhouse-type": "Decimal(18, 2)", "exclusiveMinimum": 0, "maximum": 250000},
    "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "x-clickhouse-type": "LowCardinality(String)"},
    "payer": {
      "type": "object",
      "required": ["id"],
      "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 24},
        "country": {"type": ["string", "null"], "pattern": "^[A-Z]{2}$", "x-clickhouse-type": "LowCardinality(String)"},
        "verified": {"type": "boolean"}
      }
    },
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 4},
    "attributes": {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 6},
    "note": {"type": ["string", "null"], "maxLength": 80},
    "fee_minor": {"type": ["integer", "null"], "minimum": 0, "maximum": 9999}
  },
  "x-sluice": {
    "event_id": "refund_id",
    "event_time": "requested_at",
    "rollups": [
      {"table": "refunds_1m", "window": "1m", "dimensions": ["payer_id", "currency", "reason"],
       "measures": {"refunds": "count()", "amount_sum": "sum(amount)", "amount_max": "max(amount)", "fees": "sum(fee_minor)"}},
      {"table": "refunds_by_country_1h", "window": "1h", "dimensions": ["payer_country", "reason"],
       "measures": {"refunds": "count()", "amount_sum": "sum(amount)", "amount_min": "min(amount)"}}
    ]
  }
}`

// writeSchema writes doc as dir/name.schema.json and compiles it as Sluice will.
func writeSchema(t *testing.T, dir, name, doc string) *schemas.EventType {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name+schemas.SchemaFileSuffix), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	et, err := schemas.ParseEventType(name+schemas.SchemaFileSuffix, []byte(doc))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return et
}

// recorder publishes records and remembers the reason each invalid one must be
// dead-lettered with, by value (every generated invalid record is distinct).
type recorder struct {
	pub *producers.Publisher
	mu  sync.Mutex
	why map[string]string
}

func (r *recorder) Produce(ctx context.Context, topic string, key, value []byte, done func(error)) {
	r.pub.Produce(ctx, topic, key, value, done)
}

func (r *recorder) ProduceAt(ctx context.Context, topic string, key, value []byte, ts time.Time, done func(error)) {
	r.pub.ProduceAt(ctx, topic, key, value, ts, done)
}

func (r *recorder) Flush(ctx context.Context) error { return r.pub.Flush(ctx) }

// source wraps gen so that the recorder sees each record's kind.
type source struct {
	gen *schemagen.Generator
	r   *recorder
}

func (s source) Next() (loadgen.Record, bool) {
	rec, ok := s.gen.Next()
	if ok && rec.Kind == loadgen.Invalid {
		s.r.mu.Lock()
		s.r.why[string(rec.Value)] = rec.InvalidKind
		s.r.mu.Unlock()
	}
	return rec, ok
}

func newRecorder(t *testing.T, s *stack) *recorder {
	t.Helper()
	pub, err := producers.NewPublisher(producers.Brokers(s.kafka.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	return &recorder{pub: pub, why: map[string]string{}}
}

// run publishes gen through r at rate (0: at once).
func (r *recorder) run(ctx context.Context, gen *schemagen.Generator, rate float64) error {
	_, err := loadgen.Run(ctx, r, source{gen, r}, loadgen.RunOptions{Rate: rate})
	if err == nil {
		err = gen.Err()
	}
	return err
}

// TestEventTypeEndToEnd: a type defined only by a schema file in a temporary
// directory is migrated, published (with invalid records and producer retries)
// and consumed by two `sluice run` processes, one of which is SIGKILLed mid-stream
// and restarted; the raw rows, every row of both rollups (exact decimals) and the
// dead letters with their reasons match the generator's truth exactly.
func TestEventTypeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	et := writeSchema(t, dir, "refunds", refundsSchema)
	s := newStack(t, 6, map[string]string{"SLUICE_SCHEMA_DIR": dir, "SLUICE_LOG_LEVEL": "warn"})
	s.kafka.CreateTopic(t, "refunds", 6)

	gen, err := schemagen.New(et, schemagen.Config{
		Seed: 11, Records: 12_000, InvalidRate: 0.06, DuplicateRate: 0.04,
		Start: time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Hour), EventRate: 2, Window: s.cfg.Pipeline.Window,
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(t, s)
	procs := []*proc{s.spawn(t, "sluice0"), s.spawn(t, "sluice1")}

	pubCtx, stopPub := context.WithCancel(t.Context())
	defer stopPub()
	published := make(chan error, 1)
	go func() { published <- rec.run(pubCtx, gen, 1500) }()

	// SIGKILL one instance mid-stream, once both share the partitions and part of
	// the stream is stored, and restart it.
	waitFor(t, 2*time.Minute, "both instances in the group", func() bool { return s.stableMembers(t) == 2 })
	raw := "SELECT count() FROM `" + s.ch.Database + "`.`refunds`"
	waitFor(t, 2*time.Minute, "a third of the stream stored", func() bool {
		var n uint64
		return s.ch.Conn(t).QueryRow(t.Context(), raw).Scan(&n) == nil && n > 4000
	})
	procs[0].kill()
	t.Log("sluice0 killed (SIGKILL); restarting")
	procs[0] = s.spawn(t, "sluice0")
	if err := <-published; err != nil {
		t.Fatalf("publish: %v", err)
	}
	waitFor(t, 3*time.Minute, "every offset committed", func() bool { return s.committedAll(t) })
	for _, p := range procs {
		p.term(t)
	}

	truth := gen.Truth()
	if truth.Invalid == 0 || truth.Duplicates == 0 || len(truth.InvalidByReason) < 8 {
		t.Fatalf("the stream lacks variety: %+v", truth)
	}
	s.checkRaw(t, "refunds", "refund_id", truth)
	for _, rt := range truth.Rollups {
		s.checkRollup(t, rt.Table, rt.Rows(), rt.Dimensions, rt.Measures, rt.Merge)
	}
	s.checkTypedDeadLetters(t, "refunds", rec.why)
	t.Logf("stored exactly: %d events (%d raw rows), %d invalid by reason %v, %d producer retries; rollups %s",
		truth.Stored, truth.RawRows, truth.Invalid, truth.InvalidByReason, truth.Duplicates, strings.Join(et.RollupTables(0), ", "))
}

// checkRaw compares the raw table with the truth: its row count, its distinct
// event ids, the exact sum of every numeric column and the entries of every map
// and array column, and that the amount over the raw rows equals the rollups'.
func (s *stack) checkRaw(t *testing.T, table, idColumn string, truth *schemagen.Truth) {
	t.Helper()
	var rows, ids uint64
	q := fmt.Sprintf("SELECT count(), uniqExact(`%s`) FROM `%s`.`%s`", idColumn, s.ch.Database, table)
	withCH(t, "read the raw table", func() error { return s.ch.Conn(t).QueryRow(t.Context(), q).Scan(&rows, &ids) })
	if int64(rows) != truth.RawRows || int64(ids) != truth.RawRows {
		t.Errorf("raw table %s: %d rows, %d distinct ids; want %d of each", table, rows, ids, truth.RawRows)
	}
	cols := s.columns(t, table)
	for col, want := range truth.RawTotals {
		expr := "toString(sum(`" + col + "`))"
		if strings.HasPrefix(cols[col], "Array(") || strings.HasPrefix(cols[col], "Map(") {
			expr = "toString(sum(length(`" + col + "`)))"
		}
		var got string
		q := fmt.Sprintf("SELECT %s FROM `%s`.`%s`", expr, s.ch.Database, table)
		withCH(t, "read the raw table", func() error { return s.ch.Conn(t).QueryRow(t.Context(), q).Scan(&got) })
		if schemagen.Canonical(got) != want {
			t.Errorf("raw table %s: %s = %s, want %s", table, expr, got, want)
		}
	}
	// The amount over every raw row equals the sum over any rollup's rows.
	for _, r := range truth.Rollups {
		if i := slices.Index(r.Measures, "amount_sum"); i >= 0 && sumColumn(r.Rows(), i) != truth.RawTotals["amount"] {
			t.Errorf("%s: amount_sum over the truth's rows is %s, the raw amount %s", r.Table, sumColumn(r.Rows(), i), truth.RawTotals["amount"])
		}
	}
	t.Logf("raw table %s: %d rows, totals %v", table, rows, truth.RawTotals)
}

// stableMembers is the number of members of the group once it is stable, else 0.
func (s *stack) stableMembers(t *testing.T) int {
	gs, err := kadm.NewClient(s.kafka.Client(t)).DescribeGroups(t.Context(), s.cfg.Kafka.Group)
	if err != nil {
		return 0
	}
	g, ok := gs[s.cfg.Kafka.Group]
	if !ok || g.Err != nil || g.State != "Stable" {
		return 0
	}
	return len(g.Members)
}

// sumColumn sums measure i over rows, exactly.
func sumColumn(rows []schemagen.Row, i int) string {
	var vals []string
	for _, r := range rows {
		vals = append(vals, r.Values[i])
	}
	return schemagen.Sum(vals...)
}

// checkRollup reads a rollup table merged per key and compares every row with
// want, exactly (numbers as canonical text).
func (s *stack) checkRollup(t *testing.T, table string, want []schemagen.Row, dims, measures, merge []string) {
	t.Helper()
	sel := []string{"toUnixTimestamp(`window_start`)"}
	for _, d := range dims {
		sel = append(sel, "toString(`"+d+"`)")
	}
	for i, m := range measures {
		sel = append(sel, "toString("+merge[i]+"(`"+m+"`))")
	}
	q := fmt.Sprintf("SELECT %s FROM `%s`.`%s` GROUP BY ALL", strings.Join(sel, ", "), s.ch.Database, table)
	var got []schemagen.Row
	withCH(t, "read rollup "+table, func() error {
		got = got[:0]
		rows, err := s.ch.Conn(t).Query(t.Context(), q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var ws uint32
			texts := make([]string, len(dims)+len(measures))
			dest := []any{&ws}
			for i := range texts {
				dest = append(dest, &texts[i])
			}
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			for i := len(dims); i < len(texts); i++ {
				texts[i] = schemagen.Canonical(texts[i])
			}
			got = append(got, schemagen.Row{WindowStart: time.Unix(int64(ws), 0).UTC(), Key: texts[:len(dims)], Values: texts[len(dims):]})
		}
		return rows.Err()
	})
	slices.SortFunc(got, schemagen.CompareRows)
	if d := schemagen.DiffRows(want, got, 20); len(d) > 0 {
		t.Errorf("rollup %s differs from the truth (%d rows wanted, %d stored):\n%s", table, len(want), len(got), strings.Join(d, "\n"))
	} else {
		t.Logf("rollup %s: all %d rows exact", table, len(want))
	}
}

// checkTypedDeadLetters checks that the dead-letter topic holds every invalid
// record of topic (at least once: a replay after a crash publishes them again),
// each with the reason the generator meant, and nothing else.
func (s *stack) checkTypedDeadLetters(t *testing.T, topic string, why map[string]string) {
	t.Helper()
	want := map[position]string{}
	s.consumeAll(t, []string{topic}, func(r *kgo.Record) {
		if reason, ok := why[string(r.Value)]; ok {
			want[position{r.Topic, r.Partition, r.Offset}] = reason
		}
	})
	if len(want) != len(why) {
		t.Fatalf("found %d of the %d invalid records in %s", len(want), len(why), topic)
	}
	got := map[position]string{}
	copies := 0
	s.consumeAll(t, []string{s.cfg.Kafka.DLQTopic}, func(r *kgo.Record) {
		dl, err := producers.ParseDeadLetter(r)
		if err != nil {
			t.Errorf("dead letter at offset %d: %v", r.Offset, err)
			return
		}
		p := position{dl.SourceTopic, dl.SourcePartition, dl.SourceOffset}
		if prev, ok := got[p]; ok {
			copies++
			if prev != dl.Reason {
				t.Errorf("dead letters for %v with reasons %s and %s", p, prev, dl.Reason)
			}
		}
		got[p] = dl.Reason
	})
	for p, reason := range got {
		switch w, ok := want[p]; {
		case !ok:
			t.Errorf("dead letter (%s) for %v, which is a valid record", reason, p)
		case w != reason:
			t.Errorf("dead letter for %v has reason %s, want %s", p, reason, w)
		}
	}
	for p, reason := range want {
		if _, ok := got[p]; !ok {
			t.Errorf("invalid record %v (%s) has no dead letter", p, reason)
		}
	}
	t.Logf("dead letters: %d invalid records, each with its reason; %d replayed copies", len(got), copies)
}

// The evolution test's type: v1, then v2 with an optional property and a measure
// more, then v3 with a column's type changed.
const (
	topupsV1 = `{
  "title": "topups", "type": "object",
  "required": ["topup_id", "at", "channel", "amount"],
  "properties": {
    "topup_id": {"type": "string", "minLength": 1, "maxLength": 40},
    "at": {"type": "string", "format": "date-time"},
    "channel": {"type": "string", "enum": ["card", "upi", "wallet"]},
    "amount": {"type": "number", "x-clickhouse-type": "Decimal(18, 2)", "minimum": 0, "maximum": 5000}%s
  },
  "x-sluice": {"event_id": "topup_id", "event_time": "at", "rollups": [
    {"table": "topups_1m", "window": "1m", "dimensions": ["channel"],
     "measures": {"topups": "count()", "amount_sum": "sum(amount)"%s}}]}
}`
	feeProperty = `,
    "fee_minor": {"type": ["integer", "null"], "minimum": 0, "maximum": 500}`
	feeMeasure = `, "fees": "sum(fee_minor)"`
)

// sluice runs the sluice binary with the stack's environment and returns its
// combined output.
func (s *stack) sluice(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, sluiceBinary(t), args...)
	cmd.Env = os.Environ()
	for k, v := range s.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// columns returns table's columns, name → type.
func (s *stack) columns(t *testing.T, table string) map[string]string {
	t.Helper()
	cols := map[string]string{}
	rows, err := s.ch.Conn(t).Query(t.Context(), "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", s.ch.Database, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n, typ string
		if err := rows.Scan(&n, &typ); err != nil {
			t.Fatal(err)
		}
		cols[n] = typ
	}
	return cols
}

// TestEventTypeEvolution: two `sluice run` processes run a type; the schema gains
// an optional property and a measure; `sluice migrate` widens the tables (its
// --dry-run shows the ALTERs first) while both keep running on the old schema;
// they are restarted one at a time, under traffic; events published before and
// after the change are all stored exactly. Then a changed column type is refused
// by migrate and by run, with the column, both types and the fix.
func TestEventTypeEvolution(t *testing.T) {
	dir := t.TempDir()
	v1 := writeSchema(t, dir, "topups", fmt.Sprintf(topupsV1, "", ""))
	s := newStack(t, 4, map[string]string{"SLUICE_SCHEMA_DIR": dir, "SLUICE_LOG_LEVEL": "warn"})
	s.kafka.CreateTopic(t, "topups", 4)
	rec := newRecorder(t, s)
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	var truths []*schemagen.Truth
	publish := func(et *schemas.EventType, seed int64, rate float64) error {
		gen, err := schemagen.New(et, schemagen.Config{Seed: seed, Records: 1500, InvalidRate: 0.03, DuplicateRate: 0.03,
			Start: start.Add(time.Duration(seed) * 10 * time.Minute), EventRate: 5})
		if err != nil {
			return err
		}
		truths = append(truths, gen.Truth())
		return rec.run(t.Context(), gen, rate)
	}
	committed := func(what string) {
		t.Helper()
		waitFor(t, 2*time.Minute, what+" committed", func() bool { return s.committedAll(t) })
	}

	a, b := s.spawn(t, "old-a"), s.spawn(t, "old-b")
	if err := publish(v1, 1, 0); err != nil {
		t.Fatal(err)
	}
	committed("the v1 events")

	v2 := writeSchema(t, dir, "topups", fmt.Sprintf(topupsV1, feeProperty, feeMeasure))
	out, err := s.sluice(t, "migrate", "--dry-run")
	if err != nil {
		t.Fatalf("migrate --dry-run: %v\n%s", err, out)
	}
	db := "`" + s.ch.Database + "`"
	for _, want := range []string{
		"ALTER TABLE " + db + ".`topups` ADD COLUMN IF NOT EXISTS `fee_minor` Int64 AFTER `amount`;",
		"ALTER TABLE " + db + ".`topups_1m` ADD COLUMN IF NOT EXISTS `fees` SimpleAggregateFunction(sum, UInt64) AFTER `amount_sum`;",
		"CREATE OR REPLACE VIEW " + db + ".`topups_1m_merged`",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate --dry-run lacks %q:\n%s", want, out)
		}
	}
	if _, ok := s.columns(t, "topups")["fee_minor"]; ok {
		t.Fatal("migrate --dry-run changed the table")
	}
	// Two migrations at once (instances starting together) both succeed.
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			if out, err := s.sluice(t, "migrate"); err != nil {
				t.Errorf("migrate %d: %v\n%s", i, err, out)
			}
		})
	}
	wg.Wait()
	if got := s.columns(t, "topups_1m")["fees"]; got != "SimpleAggregateFunction(sum, UInt64)" {
		t.Fatalf("after migrate, topups_1m.fees is %q", got)
	}
	// Migrating again changes nothing of the type's tables (Sluice's own ledger
	// migrations are idempotent ADD COLUMN IF NOT EXISTS, always listed).
	if out, err := s.sluice(t, "migrate", "--dry-run"); err != nil || strings.Contains(out, "ALTER TABLE `"+s.ch.Database+"`.`topups") {
		t.Errorf("migrate --dry-run after the migration: %v\n%s", err, out)
	}

	// The old instances keep working against the widened tables.
	if err := publish(v1, 2, 0); err != nil {
		t.Fatal(err)
	}
	committed("the v1 events after the migration")
	// They are restarted, one at a time, onto the new schema while v1 events keep
	// coming.
	pubDone := make(chan error, 1)
	go func() { pubDone <- publish(v1, 3, 300) }()
	a.term(t)
	a = s.spawn(t, "new-a")
	b.term(t)
	b = s.spawn(t, "new-b")
	if err := <-pubDone; err != nil {
		t.Fatal(err)
	}
	committed("the v1 events during the restarts")
	if err := publish(v2, 4, 0); err != nil {
		t.Fatal(err)
	}
	committed("the v2 events")

	var want schemagen.Truth
	for _, tr := range truths {
		want.RawRows += tr.RawRows
	}
	var rows, ids uint64
	var fees string
	q := "SELECT count(), uniqExact(topup_id), toString(sum(fee_minor)) FROM " + db + ".`topups`"
	withCH(t, "read topups", func() error { return s.ch.Conn(t).QueryRow(t.Context(), q).Scan(&rows, &ids, &fees) })
	if int64(rows) != want.RawRows || int64(ids) != want.RawRows {
		t.Errorf("raw topups: %d rows, %d ids; want %d", rows, ids, want.RawRows)
	}
	measures := []string{"topups", "amount_sum", "fees"}
	merged := mergeRollups("topups_1m", measures, truths...)
	if wantFees := sumColumn(merged, 2); fees != wantFees {
		t.Errorf("raw topups: sum(fee_minor) = %s, want %s", fees, wantFees)
	}
	s.checkRollup(t, "topups_1m", merged, []string{"channel"}, measures, []string{"sum", "sum", "sum"})
	s.checkTypedDeadLetters(t, "topups", rec.why)

	// A column's type cannot change in place: migrate and run refuse, naming the
	// column, both types and what to do instead.
	writeSchema(t, dir, "topups", strings.Replace(fmt.Sprintf(topupsV1, feeProperty, feeMeasure), "Decimal(18, 2)", "Decimal(18, 4)", 1))
	const refused = "table topups, column amount: type Decimal(18, 2) in the table, Decimal(18, 4) in the schema; " +
		"ClickHouse cannot change a column's type in place; add a new property (a new column) instead, or write the type to a new raw table (x-sluice.table)"
	for _, cmd := range []string{"migrate", "run"} {
		out, err := s.sluice(t, cmd)
		if err == nil || !strings.Contains(out, refused) || !strings.Contains(out, "schema change refused") {
			t.Errorf("sluice %s with a changed column type: %v, output:\n%s\nwant it refused with %q", cmd, err, out, refused)
		}
	}
	if err := app.Migrate(t.Context(), s.cfg); err == nil {
		t.Error("app.Migrate accepted a changed column type")
	}
	a.term(t)
	b.term(t)
}

// mergeRollups adds up the rows of table over several truths (streams of
// different schema versions) for measures; a measure a version lacks counts 0.
// Every measure must merge by sum.
func mergeRollups(table string, measures []string, truths ...*schemagen.Truth) []schemagen.Row {
	byKey := map[string]*schemagen.Row{}
	for _, tr := range truths {
		rt := tr.Rollup(table)
		for _, r := range rt.Rows() {
			k := r.WindowStart.String() + "\x00" + strings.Join(r.Key, "\x00")
			m := byKey[k]
			if m == nil {
				m = &schemagen.Row{WindowStart: r.WindowStart, Key: r.Key, Values: make([]string, len(measures))}
				for i := range m.Values {
					m.Values[i] = "0"
				}
				byKey[k] = m
			}
			for i, name := range measures {
				if j := slices.Index(rt.Measures, name); j >= 0 {
					m.Values[i] = schemagen.Sum(m.Values[i], r.Values[j])
				}
			}
		}
	}
	out := make([]schemagen.Row, 0, len(byKey))
	for _, r := range byKey {
		out = append(out, *r)
	}
	slices.SortFunc(out, schemagen.CompareRows)
	return out
}
