package loadgen_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/producers"
	"github.com/sluicehq/sluice/producers/loadgen"
	"github.com/sluicehq/sluice/schemas"
)

var cfg = loadgen.Config{Seed: 7, Payments: 6000, Shipments: 4000, InvalidRate: 0.04, DuplicateRate: 0.03, LateRate: 0.01}

func generate(t testing.TB, c loadgen.Config) ([]loadgen.Record, *loadgen.Generator) {
	t.Helper()
	g, err := loadgen.NewGenerator(c)
	if err != nil {
		t.Fatal(err)
	}
	var recs []loadgen.Record
	for r, ok := g.Next(); ok; r, ok = g.Next() {
		recs = append(recs, r)
	}
	return recs, g
}

func TestSameSeedSameStream(t *testing.T) {
	a, ga := generate(t, cfg)
	b, gb := generate(t, cfg)
	if len(a) != cfg.Payments+cfg.Shipments || len(a) != len(b) {
		t.Fatalf("lengths %d, %d; want %d", len(a), len(b), cfg.Payments+cfg.Shipments)
	}
	for i := range a {
		if a[i].Topic != b[i].Topic || !bytes.Equal(a[i].Key, b[i].Key) || !bytes.Equal(a[i].Value, b[i].Value) {
			t.Fatalf("record %d differs:\n%s\n%s", i, a[i].Value, b[i].Value)
		}
	}
	ja, _ := json.Marshal(ga.Truth())
	jb, _ := json.Marshal(gb.Truth())
	if !bytes.Equal(ja, jb) {
		t.Fatal("same seed, different truth JSON")
	}
	other := cfg
	other.Seed++
	c, _ := generate(t, other)
	if bytes.Equal(a[1].Value, c[1].Value) && bytes.Equal(a[2].Value, c[2].Value) {
		t.Fatal("different seeds gave the same stream")
	}
}

// decodeTruth rebuilds a Truth from records as a consumer sees them: decode with the
// schemas decoders, count invalid, drop repeated event_ids.
func decodeTruth(t testing.TB, window time.Duration, recs []*kgo.Record) *loadgen.Truth {
	t.Helper()
	tr := loadgen.NewTruth(window, "payments", "shipments")
	seen := map[string]bool{}
	for _, r := range recs {
		c := &tr.PaymentCounts
		if r.Topic == "shipments" {
			c = &tr.ShipmentCounts
		}
		c.Records++
		var p schemas.Payment
		var s schemas.Shipment
		var err error
		var id string
		if r.Topic == "payments" {
			err, id = schemas.DecodePayment(r.Value, &p, schemas.Limits{}), p.EventID
		} else {
			err, id = schemas.DecodeShipment(r.Value, &s, schemas.Limits{}), s.EventID
		}
		switch {
		case err != nil:
			c.Invalid++
		case seen[r.Topic+id]:
			c.Duplicates++
		case r.Topic == "payments":
			seen[r.Topic+id] = true
			tr.AddPayment(&p)
		default:
			seen[r.Topic+id] = true
			tr.AddShipment(&s)
		}
	}
	return tr
}

func TestInjectedInvalidsAreRejectedByDecoders(t *testing.T) {
	c := cfg
	c.InvalidRate, c.DuplicateRate = 0.3, 0.05
	recs, _ := generate(t, c)
	kinds := map[string]int{}
	for i, r := range recs {
		var err error
		if r.Topic == "payments" {
			err = schemas.DecodePayment(r.Value, new(schemas.Payment), schemas.Limits{})
		} else {
			err = schemas.DecodeShipment(r.Value, new(schemas.Shipment), schemas.Limits{})
		}
		if r.Kind == loadgen.Invalid {
			kinds[r.Topic+"/"+r.InvalidKind]++
			if err == nil {
				t.Errorf("record %d (%s %s) decodes but was meant invalid: %s", i, r.Topic, r.InvalidKind, r.Value)
			}
		} else if err != nil {
			t.Errorf("record %d (%s %s) invalid: %v: %s", i, r.Topic, r.Kind, err, r.Value)
		}
	}
	for _, k := range []string{"payments/malformed_json", "payments/missing_field", "payments/bad_enum",
		"payments/negative_amount", "payments/bad_currency", "payments/bad_timestamp", "payments/wrong_type",
		"payments/not_json", "shipments/negative_amount", "shipments/wrong_type"} {
		if kinds[k] == 0 {
			t.Errorf("no %s injected (%v)", k, kinds)
		}
	}
}

func TestStreamLooksReal(t *testing.T) {
	recs, g := generate(t, cfg)
	var pBytes, pN, inr, nonINR int
	methods, ptypes, stypes := map[string]int{}, map[string]int{}, map[string]int{}
	for _, r := range recs {
		if r.Kind != loadgen.Valid {
			continue
		}
		if r.Topic == "payments" {
			var p schemas.Payment
			if err := schemas.DecodePayment(r.Value, &p, schemas.Limits{}); err != nil {
				t.Fatal(err)
			}
			pBytes += len(r.Value)
			pN++
			if p.Currency == "INR" {
				inr++
			} else {
				nonINR++
			}
			methods[p.Method]++
			ptypes[p.EventType]++
			if p.Metadata["order_id"] == "" || p.Metadata["channel"] == "" {
				t.Fatalf("metadata %v", p.Metadata)
			}
		} else {
			var s schemas.Shipment
			if err := schemas.DecodeShipment(r.Value, &s, schemas.Limits{}); err != nil {
				t.Fatal(err)
			}
			stypes[s.EventType]++
		}
	}
	if avg := pBytes / pN; avg < 320 || avg > 400 {
		t.Errorf("payments average %d bytes, want ~360", avg)
	}
	if inr < 3*nonINR || nonINR == 0 {
		t.Errorf("INR %d vs other %d: want INR-dominant with some others", inr, nonINR)
	}
	if len(methods) != 4 || len(ptypes) != 4 || len(stypes) != 6 {
		t.Errorf("methods %v, payment types %v, shipment types %v", methods, ptypes, stypes)
	}
	if methods["upi"] < methods["card"] || ptypes[schemas.PaymentCaptured] < ptypes[schemas.PaymentRefunded] {
		t.Errorf("mix looks wrong: methods %v, types %v", methods, ptypes)
	}
	if g.Truth().PaymentCounts.Late == 0 {
		t.Error("no late events at LateRate 0.01")
	}
}

func TestTruthJSONRoundTrip(t *testing.T) {
	_, g := generate(t, cfg)
	b, err := json.Marshal(g.Truth())
	if err != nil {
		t.Fatal(err)
	}
	var back loadgen.Truth
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if d := g.Truth().Diff(&back, 5); len(d) != 0 {
		t.Fatalf("round trip differs: %v", d)
	}
	var sum bytes.Buffer
	if err := g.Truth().WriteSummary(&sum); err != nil || !bytes.Contains(sum.Bytes(), []byte("payments   records=6000")) {
		t.Fatalf("summary: %v\n%s", err, sum.String())
	}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []loadgen.Config{
		{Payments: -1}, {InvalidRate: 0.7, DuplicateRate: 0.5}, {LateRate: 2}, {Window: 1500 * time.Millisecond}, {Hubs: 1},
	} {
		if _, err := loadgen.NewGenerator(c); err == nil {
			t.Errorf("%+v: want error", c)
		}
	}
}

// TestTruthEqualsWhatKafkaHolds publishes a stream through producers.Publisher into
// kfake, reads it back, decodes it, and compares with the generator's truth exactly.
func TestTruthEqualsWhatKafkaHolds(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "payments", "shipments"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	pub, err := producers.NewPublisher(producers.Brokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	g, err := loadgen.NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var progress int
	st, err := loadgen.Run(t.Context(), pub, g, loadgen.RunOptions{MaxInFlight: 500, Progress: func(loadgen.RunStats) { progress++ }})
	if err != nil {
		t.Fatal(err)
	}
	total := int64(cfg.Payments + cfg.Shipments)
	if st.Records != total || st.Acked != total || progress == 0 {
		t.Fatalf("stats %+v, progress calls %d", st, progress)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ConsumeTopics("payments", "shipments"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for int64(len(recs)) < total {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d", len(recs), total)
		}
		recs = append(recs, fs.Records()...)
	}
	got := decodeTruth(t, time.Minute, recs)
	if d := g.Truth().Diff(got, 10); len(d) != 0 {
		t.Fatalf("truth differs from Kafka's content:\n%v", d)
	}
	if got.PaymentCounts.Invalid == 0 || got.PaymentCounts.Duplicates == 0 || len(got.Payments) == 0 {
		t.Fatalf("degenerate stream: %+v", got.PaymentCounts)
	}
}

func TestRunPacesAndStops(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "payments", "shipments"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	pub, err := producers.NewPublisher(producers.Brokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	g, _ := loadgen.NewGenerator(loadgen.Config{Seed: 1, Payments: 1 << 30, Shipments: 1 << 30})
	st, err := loadgen.Run(t.Context(), pub, g, loadgen.RunOptions{Rate: 2000, Count: 400})
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != 400 || st.Acked != 400 {
		t.Fatalf("stats %+v, want 400 records acked", st)
	}
	// 400 records at 2000/s take at least ~200ms (the first goes at t=0).
	if st.Elapsed < 190*time.Millisecond {
		t.Fatalf("400 records at 2000/s took %v", st.Elapsed)
	}
	if n := g.Truth().PaymentCounts.Records + g.Truth().ShipmentCounts.Records; n != 400 {
		t.Fatalf("truth covers %d records, want 400", n)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := loadgen.Run(ctx, pub, g, loadgen.RunOptions{}); err == nil {
		t.Fatal("Run with a cancelled context: want error")
	}
}

func BenchmarkGenerator(b *testing.B) {
	g, err := loadgen.NewGenerator(loadgen.Config{Seed: 1, Payments: 1 << 40, Shipments: 1 << 40, InvalidRate: 0.01, DuplicateRate: 0.01})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var n int64
	for b.Loop() {
		r, _ := g.Next()
		n += int64(len(r.Value))
	}
	b.SetBytes(n / int64(b.N))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// eventIDs returns the event_id of every record that decodes, by topic.
func eventIDs(recs []loadgen.Record) map[string]bool {
	ids := map[string]bool{}
	for _, r := range recs {
		var p schemas.Payment
		var s schemas.Shipment
		if r.Topic == "payments" && schemas.DecodePayment(r.Value, &p, schemas.Limits{}) == nil {
			ids[r.Topic+"/"+p.EventID] = true
		}
		if r.Topic == "shipments" && schemas.DecodeShipment(r.Value, &s, schemas.Limits{}) == nil {
			ids[r.Topic+"/"+s.EventID] = true
		}
	}
	return ids
}

// TestRunsShareNoEventID checks that streams of different seeds, or of one seed with
// different run ids, share no event id (a second run is never dropped as producer
// duplicates of the first), while a run id changes nothing but the ids: the ground
// truth is the same, and the same seed and run id give the same bytes.
func TestRunsShareNoEventID(t *testing.T) {
	base, gBase := generate(t, cfg)
	run := cfg
	run.RunID = "3fa9c2d1"
	a, ga := generate(t, run)
	b, _ := generate(t, run)
	seed := cfg
	seed.Seed++
	other, _ := generate(t, seed)
	for i := range a {
		if !bytes.Equal(a[i].Value, b[i].Value) || !bytes.Equal(a[i].Key, b[i].Key) {
			t.Fatalf("same seed and run id, record %d differs", i)
		}
	}
	ids := eventIDs(base)
	for name, recs := range map[string][]loadgen.Record{"another run id": a, "another seed": other} {
		shared := 0
		for id := range eventIDs(recs) {
			if ids[id] {
				shared++
			}
		}
		if shared > 0 {
			t.Errorf("%s: %d event ids shared with the first stream", name, shared)
		}
	}
	ja, _ := json.Marshal(gBase.Truth())
	jb, _ := json.Marshal(ga.Truth())
	if !bytes.Equal(ja, jb) {
		t.Error("a run id changed the ground truth")
	}
	for _, bad := range []string{"has space", "a/b", string(make([]byte, 33))} {
		c := cfg
		c.RunID = bad
		if _, err := loadgen.NewGenerator(c); err == nil {
			t.Errorf("RunID %q accepted", bad)
		}
	}
}
