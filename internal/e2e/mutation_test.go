package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/producers"
	"github.com/sluicehq/sluice/producers/loadgen"
	"github.com/sluicehq/sluice/schemas"
)

// mutationRecords is how many mutated records TestMutations sends.
const mutationRecords = 100_000

// TestMutations feeds 100,000 seeded random mutations of valid events (byte flips,
// truncation, deleted fields, swapped types, huge numbers, NaN-like tokens, duplicate
// keys, invalid UTF-8, deep nesting, long strings, oversized, empty and binary
// records) through Kafka, one Sluice and ClickHouse, and checks that nothing crashes,
// that every record is accounted for exactly once by its offset (a raw row or a dead
// letter, never both, never neither), that a record is stored exactly when the
// schemas' decoders accept it, and that the rollups equal the truth computed by
// decoding each record here.
//
// Every record gets its own event_id before it is mutated and producer-duplicate
// filtering is off (SLUICE_DEDUP_HORIZON=0), so dedup cannot hide a record; the
// lateness policy is off too (the events' times are the generator's, the records'
// timestamps are now), so only the decoders decide.
func TestMutations(t *testing.T) {
	s := newStack(t, 4, map[string]string{
		"SLUICE_DEDUP_HORIZON":  "0",
		"SLUICE_MAX_LATENESS":   "0",
		"SLUICE_MAX_CLOCK_SKEW": "0",
		"SLUICE_FLUSH_INTERVAL": "500ms",
	})
	start := time.Now()
	recs, kinds := mutatedRecords(t, 20260407, mutationRecords)

	// Publish, learning each record's partition and offset.
	cl := s.kafka.Client(t, kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(10_000))
	for i := 0; i < len(recs); i += 5000 {
		if err := cl.ProduceSync(t.Context(), recs[i:min(i+5000, len(recs))]...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	t.Logf("published %d mutated records in %s; mutations: %v", len(recs), time.Since(start).Round(time.Millisecond), kinds)

	// The truth, by decoding each record as Sluice's decoders do.
	truth := loadgen.NewTruth(s.cfg.Pipeline.Window, "payments", "shipments")
	valid := map[position]bool{}
	sent := map[position]bool{}
	lim := schemas.Limits{
		MaxRecordBytes:     s.cfg.Pipeline.MaxRecordBytes,
		MaxStringBytes:     s.cfg.Pipeline.MaxStringBytes,
		MaxMetadataEntries: s.cfg.Pipeline.MaxMetadataEntries,
	}
	for _, r := range recs {
		pos := position{r.Topic, r.Partition, r.Offset}
		if sent[pos] {
			t.Fatalf("two records at %v", pos)
		}
		sent[pos] = true
		c := &truth.ShipmentCounts
		if r.Topic == "payments" {
			c = &truth.PaymentCounts
		}
		c.Records++
		var p schemas.Payment
		var sh schemas.Shipment
		var err error
		if r.Topic == "payments" {
			if err = schemas.DecodePayment(r.Value, &p, lim); err == nil {
				truth.AddPayment(&p)
			}
		} else {
			if err = schemas.DecodeShipment(r.Value, &sh, lim); err == nil {
				truth.AddShipment(&sh)
			}
		}
		if err != nil {
			c.Invalid++
		} else {
			valid[pos] = true
		}
	}
	t.Logf("decoders accept %d payments and %d shipments of %d records", truth.PaymentCounts.Valid, truth.ShipmentCounts.Valid, len(recs))

	in := s.start(t, "a")
	waitFor(t, 3*time.Minute, "all offsets committed", func() bool { return s.committedAll(t) })
	in.stop(t) // fails the test if Run ended with an error
	t.Logf("consumed and stored in %s (since the start of the test)", time.Since(start).Round(time.Millisecond))

	// Raw rows by offset.
	stored := map[position]int{}
	withCH(t, "read raw rows", func() error {
		clear(stored)
		rows, err := s.ch.Conn(t).Query(t.Context(), fmt.Sprintf(
			"SELECT _topic, _partition, _offset FROM `%[1]s`.payments UNION ALL SELECT _topic, _partition, _offset FROM `%[1]s`.shipments", s.ch.Database))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var topic string
			var part int32
			var off int64
			if err := rows.Scan(&topic, &part, &off); err != nil {
				return err
			}
			stored[position{topic, part, off}]++
		}
		return rows.Err()
	})

	// Dead letters by source position.
	dead := map[position]int{}
	s.consumeAll(t, []string{s.cfg.Kafka.DLQTopic}, func(r *kgo.Record) {
		dl, err := producers.ParseDeadLetter(r)
		if err != nil {
			t.Errorf("dead letter at offset %d: %v", r.Offset, err)
			return
		}
		dead[position{dl.SourceTopic, dl.SourcePartition, dl.SourceOffset}]++
	})

	// Every record exactly once, on the side its decoding says.
	var problems []string
	report := func(format string, args ...any) {
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	for pos := range sent {
		n, d := stored[pos], dead[pos]
		switch {
		case n+d != 1:
			report("%v: %d raw rows and %d dead letters, want exactly one of them", pos, n, d)
		case valid[pos] && n != 1:
			report("%v: the decoders accept it, but it was dead-lettered", pos)
		case !valid[pos] && d != 1:
			report("%v: the decoders reject it, but it was stored", pos)
		}
	}
	for pos := range stored {
		if !sent[pos] {
			report("raw row for %v, which was never sent", pos)
		}
	}
	for pos := range dead {
		if !sent[pos] {
			report("dead letter for %v, which was never sent", pos)
		}
	}
	if len(problems) > 0 {
		t.Errorf("records not accounted for exactly once (first %d):\n%s", len(problems), strings.Join(problems, "\n"))
	}
	if got := len(stored) + len(dead); got != len(recs) {
		t.Errorf("raw rows (%d) + dead letters (%d) = %d, want the %d records sent", len(stored), len(dead), got, len(recs))
	}
	s.checkStored(t, truth)
	st := in.in.Stats()
	t.Logf("records %d, valid %d, dead-lettered %d, rows %d, flushes %d; %s in all",
		st.Records.Load(), st.Valid.Load(), st.Invalid.Load(), st.Rows.Load(), st.Flushes.Load(), time.Since(start).Round(time.Millisecond))
}

// mutatedRecords returns n records, each a valid generated event with its own
// event_id, mutated by one or two random mutations (a few are left intact), and how
// many times each mutation was applied. The same seed gives the same records.
func mutatedRecords(t *testing.T, seed uint64, n int) ([]*kgo.Record, map[string]int) {
	t.Helper()
	gen, err := loadgen.NewGenerator(loadgen.Config{Seed: int64(seed), Payments: n * 2 / 3, Shipments: n - n*2/3, LateRate: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	kinds := map[string]int{}
	now := time.Now()
	recs := make([]*kgo.Record, 0, n)
	for i := 0; ; i++ {
		g, ok := gen.Next()
		if !ok {
			break
		}
		m := &mutator{rng: rng}
		if err := m.parse(g.Value); err != nil {
			t.Fatalf("generated record %d is not a JSON object: %v", i, err)
		}
		m.set("event_id", strconv.Quote(fmt.Sprintf("mut-%d-%016x", i, rng.Uint64())))
		value := m.bytes()
		if rng.IntN(20) == 0 {
			kinds["none"]++
		} else {
			for range 1 + rng.IntN(2) {
				name, mutate := m.pick()
				kinds[name]++
				value = mutate(value)
			}
		}
		recs = append(recs, &kgo.Record{Topic: g.Topic, Key: g.Key, Value: value, Timestamp: now})
	}
	if len(recs) != n {
		t.Fatalf("generated %d records, want %d", len(recs), n)
	}
	return recs, kinds
}

// mutator edits one JSON object. Field-level mutations work on its top-level fields
// (kept in order, so duplicate keys are possible); byte-level ones on its encoding.
type mutator struct {
	rng    *rand.Rand
	keys   []string
	values []string // raw JSON, parallel to keys
}

func (m *mutator) parse(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("not an object: %v", err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		m.keys = append(m.keys, tok.(string))
		m.values = append(m.values, string(raw))
	}
	return nil
}

// set replaces the field's value, or adds the field.
func (m *mutator) set(key, raw string) {
	if i := slices.Index(m.keys, key); i >= 0 {
		m.values[i] = raw
		return
	}
	m.keys, m.values = append(m.keys, key), append(m.values, raw)
}

func (m *mutator) bytes() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range m.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(k))
		b.WriteByte(':')
		b.WriteString(m.values[i])
	}
	b.WriteByte('}')
	return b.Bytes()
}

// field returns a random field's index.
func (m *mutator) field() int { return m.rng.IntN(len(m.keys)) }

// pick returns a random mutation of an encoded record. Field-level mutations
// re-encode the fields (undoing earlier byte-level ones), which is fine: each
// record still ends up mutated.
func (m *mutator) pick() (string, func([]byte) []byte) {
	type mutation struct {
		name   string
		weight int
		f      func([]byte) []byte
	}
	r := m.rng
	withField := func(edit func(i int)) func([]byte) []byte {
		return func([]byte) []byte { edit(m.field()); return m.bytes() }
	}
	ms := []mutation{
		{"byte_flip", 48, func(b []byte) []byte {
			b = slices.Clone(b)
			for range 1 + r.IntN(3) {
				if len(b) > 0 {
					b[r.IntN(len(b))] ^= byte(1 << r.IntN(8))
				}
			}
			return b
		}},
		{"truncate", 32, func(b []byte) []byte { return b[:r.IntN(len(b)+1)] }},
		{"delete_field", 40, withField(func(i int) {
			m.keys, m.values = slices.Delete(m.keys, i, i+1), slices.Delete(m.values, i, i+1)
			if len(m.keys) == 0 {
				m.keys, m.values = []string{"x"}, []string{"1"}
			}
		})},
		{"type_swap", 40, withField(func(i int) {
			swaps := []string{`12345`, `-1`, `true`, `null`, `[]`, `{}`, `["a",1]`, `{"a":"b"}`, `1.5`, `"12345"`, `""`, `"2026-01-01T00:00:00Z"`}
			if m.keys[i] == "event_id" {
				// Not another string: every event keeps a distinct event_id.
				swaps = swaps[:9]
			}
			m.values[i] = swaps[r.IntN(len(swaps))]
		})},
		{"huge_number", 32, withField(func(i int) {
			m.values[i] = []string{`1e309`, `184467440737095516160000`, `9223372036854775808`, `18446744073709551616`, `-9223372036854775809`,
				`1e20`, `-0`, `0.0000000000000000000001`, `99999999999999999999999999999999999999`, `1E400`}[r.IntN(10)]
		})},
		{"nan_token", 24, withField(func(i int) {
			tokens := []string{`NaN`, `Infinity`, `-Infinity`, `nan`, `+1`, `01`, `.5`, `1.`, `0x10`, `"NaN"`, `"Infinity"`}
			if m.keys[i] == "event_id" {
				tokens = tokens[:9] // every event keeps a distinct event_id
			}
			m.values[i] = tokens[r.IntN(len(tokens))]
		})},
		{"duplicate_key", 32, func([]byte) []byte {
			i := m.field()
			dupVal := m.values[i]
			if r.IntN(2) == 0 {
				dupVal = `"other"`
			}
			m.keys, m.values = append(m.keys, m.keys[i]), append(m.values, dupVal)
			return m.bytes()
		}},
		{"invalid_utf8", 32, func(b []byte) []byte {
			// Inside a string value: after the first quote following a colon.
			bad := [][]byte{{0xff}, {0xc3, 0x28}, {0xed, 0xa0, 0x80}, {0xf8, 0x88, 0x80, 0x80, 0x80}, {0xe2, 0x82}, {0x80}}[r.IntN(6)]
			idx := bytes.Index(b, []byte(`":"`))
			if idx < 0 || r.IntN(4) == 0 {
				idx = r.IntN(len(b) + 1)
			} else {
				idx += 3
			}
			return slices.Concat(b[:idx], bad, b[idx:])
		}},
		{"deep_nesting", 16, withField(func(i int) {
			depth := 1 + r.IntN(1000)
			if r.IntN(50) == 0 {
				depth = 1000 + r.IntN(20000)
			}
			if r.IntN(2) == 0 {
				m.values[i] = strings.Repeat("[", depth) + strings.Repeat("]", depth)
			} else {
				m.values[i] = strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
			}
		})},
		{"long_string", 24, withField(func(i int) {
			m.values[i] = strconv.Quote(strings.Repeat(string(rune('a'+r.IntN(26))), 500+r.IntN(4000)))
		})},
		{"oversized", 1, func([]byte) []byte {
			// An unknown field that makes the record far larger than normal: some
			// just under the record limit, most well over it.
			size := 40_000 + r.IntN(40_000)
			if r.IntN(4) == 0 {
				size = 100_000 + r.IntN(200_000)
			}
			m.keys, m.values = append(m.keys, "padding"), append(m.values, strconv.Quote(strings.Repeat("p", size)))
			return m.bytes()
		}},
		{"empty", 12, func([]byte) []byte { return nil }},
		{"binary", 16, func([]byte) []byte {
			b := make([]byte, r.IntN(512))
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			return b
		}},
		{"whitespace_and_escapes", 16, func(b []byte) []byte {
			// Still valid JSON, differently spelled: must decode the same.
			b = bytes.ReplaceAll(b, []byte(`,"`), []byte(", \n\t\""))
			b = bytes.ReplaceAll(b, []byte(`"event_type"`), []byte(`"\u0065vent_type"`))
			return slices.Concat([]byte(" \t"), b, []byte("\r\n"))
		}},
	}
	total := 0
	for _, mu := range ms {
		total += mu.weight
	}
	x := r.IntN(total)
	for _, mu := range ms {
		if x < mu.weight {
			return mu.name, mu.f
		}
		x -= mu.weight
	}
	panic("unreachable")
}
