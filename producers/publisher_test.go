package producers_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/producers"
	"github.com/sluicehq/sluice/schemas"
)

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func payment(merchant string, i int) *schemas.Payment {
	return &schemas.Payment{
		EventID:     producers.EventID("test", merchant, fmt.Sprint(i)),
		EventType:   schemas.PaymentCaptured,
		OccurredAt:  t0.Add(time.Duration(i) * time.Second),
		MerchantID:  merchant,
		AmountMinor: int64(100 + i),
		Currency:    "INR",
		Method:      "upi",
		Metadata:    map[string]string{"order_id": fmt.Sprint("ord_", i), "channel": "app"},
	}
}

func shipment(id string, i int) *schemas.Shipment {
	return &schemas.Shipment{
		EventID:     producers.EventID("test", id, fmt.Sprint(i)),
		EventType:   schemas.ShipmentScanned,
		OccurredAt:  t0.Add(time.Duration(i) * time.Second),
		ShipmentID:  id,
		HubID:       "hub_001",
		Carrier:     "delhivery",
		WeightGrams: 500,
	}
}

func TestPublishRoundTripKeepsPerKeyOrder(t *testing.T) {
	addrs := newCluster(t, "pay", "ship")
	pub, err := producers.NewPublisher(producers.Brokers(addrs...), producers.PaymentsTopic("pay"),
		producers.ShipmentsTopic("ship"), producers.Linger(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	ctx := t.Context()

	merchants := []string{"m_1", "m_2", "m_3", "m_4"}
	const per = 25
	var wg sync.WaitGroup
	var failures atomic.Int64
	for i := range per {
		for _, m := range merchants {
			wg.Add(1)
			pub.PublishPaymentAsync(ctx, payment(m, i), func(err error) {
				if err != nil {
					failures.Add(1)
				}
				wg.Done()
			})
		}
	}
	if err := pub.PublishShipment(ctx, shipment("shp_1", 1)); err != nil {
		t.Fatalf("PublishShipment: %v", err)
	}
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d async publishes failed", n)
	}

	recs := consume(ctx, t, addrs, "pay", per*len(merchants))
	next := map[string]int{}
	partOf := map[string]int32{}
	for _, r := range recs {
		var p schemas.Payment
		if err := schemas.DecodePayment(r.Value, &p, schemas.Limits{}); err != nil {
			t.Fatalf("published value does not decode: %v", err)
		}
		if string(r.Key) != p.MerchantID {
			t.Fatalf("key %q, want merchant_id %q", r.Key, p.MerchantID)
		}
		if part, ok := partOf[p.MerchantID]; ok && part != r.Partition {
			t.Fatalf("merchant %s on partitions %d and %d", p.MerchantID, part, r.Partition)
		}
		partOf[p.MerchantID] = r.Partition
		if want := payment(p.MerchantID, next[p.MerchantID]); p.EventID != want.EventID || p.AmountMinor != want.AmountMinor {
			t.Fatalf("merchant %s: got event %s amount %d, want %s %d (order broken)", p.MerchantID, p.EventID, p.AmountMinor, want.EventID, want.AmountMinor)
		}
		next[p.MerchantID]++
	}
	srec := consume(ctx, t, addrs, "ship", 1)[0]
	if string(srec.Key) != "shp_1" {
		t.Fatalf("shipment key %q, want shp_1", srec.Key)
	}
}

func TestPublishRejectsInvalidEvents(t *testing.T) {
	addrs := newCluster(t, producers.DefaultPaymentsTopic, producers.DefaultShipmentsTopic)
	pub, err := producers.NewPublisher(producers.Brokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	ctx := t.Context()

	badPayments := map[string]func(*schemas.Payment){
		"negative amount": func(p *schemas.Payment) { p.AmountMinor = -5 },
		"bad currency":    func(p *schemas.Payment) { p.Currency = "rupee" },
		"bad enum":        func(p *schemas.Payment) { p.EventType = "payment.teleported" },
		"no merchant":     func(p *schemas.Payment) { p.MerchantID = "" },
		"no event id":     func(p *schemas.Payment) { p.EventID = "" },
		"no time":         func(p *schemas.Payment) { p.OccurredAt = time.Time{} },
	}
	for name, mutate := range badPayments {
		p := payment("m_bad", 1)
		mutate(p)
		err := pub.PublishPayment(ctx, p)
		var iev *producers.InvalidEventError
		var inv *schemas.Invalid
		if !errors.As(err, &iev) || !errors.As(err, &inv) {
			t.Errorf("%s: got %v, want an *InvalidEventError wrapping *schemas.Invalid", name, err)
		}
		called := 0
		pub.PublishPaymentAsync(ctx, p, func(err error) {
			called++
			if !errors.As(err, &iev) {
				t.Errorf("%s async: got %v", name, err)
			}
		})
		if called != 1 {
			t.Errorf("%s async: done called %d times before return, want 1", name, called)
		}
	}
	s := shipment("shp_bad", 1)
	s.WeightGrams = -1
	if err := pub.PublishShipment(ctx, s); !errors.As(err, new(*producers.InvalidEventError)) {
		t.Errorf("negative weight shipment: got %v", err)
	}

	// Nothing invalid reached Kafka: the first record on the topic is this valid one.
	if err := pub.PublishPayment(ctx, payment("m_ok", 1)); err != nil {
		t.Fatal(err)
	}
	if r := consume(ctx, t, addrs, producers.DefaultPaymentsTopic, 1)[0]; string(r.Key) != "m_ok" {
		t.Fatalf("first record key %q, want m_ok", r.Key)
	}
}

func TestCloseFlushesEverythingAndRejectsLater(t *testing.T) {
	addrs := newCluster(t, "payments")
	// A long linger: only Close's flush sends the records.
	pub, err := producers.NewPublisher(producers.Brokers(addrs...), producers.Linger(time.Minute), producers.MaxBuffered(5000))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	const n = 2000
	var acked, failed atomic.Int64
	for i := range n {
		pub.PublishPaymentAsync(ctx, payment(fmt.Sprint("m_", i%37), i), func(err error) {
			if err != nil {
				failed.Add(1)
				return
			}
			acked.Add(1)
		})
	}
	pub.Close()
	if acked.Load() != n || failed.Load() != 0 {
		t.Fatalf("after Close: acked=%d failed=%d, want %d/0", acked.Load(), failed.Load(), n)
	}
	consume(ctx, t, addrs, "payments", n)

	if err := pub.PublishPayment(ctx, payment("m_late", 1)); !errors.Is(err, producers.ErrClosed) {
		t.Fatalf("publish after Close: %v, want ErrClosed", err)
	}
	pub.Close() // idempotent
}

func TestPublisherWithCallerClientAndFlush(t *testing.T) {
	addrs := newCluster(t, "payments")
	cl := newClient(t, addrs, kgo.ProducerLinger(time.Minute))
	pub, err := producers.NewPublisher(producers.Client(cl))
	if err != nil {
		t.Fatal(err)
	}
	var acked atomic.Int64
	for i := range 10 {
		pub.PublishPaymentAsync(t.Context(), payment("m_1", i), func(err error) {
			if err == nil {
				acked.Add(1)
			}
		})
	}
	if err := pub.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if acked.Load() != 10 {
		t.Fatalf("after Flush: %d acked, want 10", acked.Load())
	}
	pub.Close()
	// The caller's client is still usable.
	if err := cl.ProduceSync(t.Context(), &kgo.Record{Topic: "payments", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("caller's client closed by Publisher.Close: %v", err)
	}
}

func TestNewPublisherErrors(t *testing.T) {
	if _, err := producers.NewPublisher(); err == nil {
		t.Error("no brokers: want error")
	}
	if _, err := producers.NewPublisher(producers.Brokers("x:1"), producers.PaymentsTopic("")); err == nil {
		t.Error("empty topic: want error")
	}
}

func TestEventID(t *testing.T) {
	a := producers.EventID("order-42", "captured")
	if a != producers.EventID("order-42", "captured") {
		t.Fatal("EventID is not deterministic")
	}
	if len(a) != 32 || len(a) > schemas.MaxEventIDBytes {
		t.Fatalf("EventID length %d, want 32", len(a))
	}
	for _, other := range [][]string{{"order-4", "2captured"}, {"order-42captured"}, {"order-42", "captured", ""}, {"captured", "order-42"}} {
		if producers.EventID(other...) == a {
			t.Errorf("EventID(%q) collides with EventID(order-42, captured)", other)
		}
	}
}

func BenchmarkPublishPaymentAsync(b *testing.B) {
	addrs := newCluster(b, "payments")
	pub, err := producers.NewPublisher(producers.Brokers(addrs...))
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	p := payment("m_1", 1)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(360)
	var wg sync.WaitGroup
	for b.Loop() {
		wg.Add(1)
		pub.PublishPaymentAsync(ctx, p, func(error) { wg.Done() })
	}
	wg.Wait()
}
