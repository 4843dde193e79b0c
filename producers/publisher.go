package producers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/encoding/json"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice/schemas"
)

// Publisher publishes typed events to Kafka. It is safe for concurrent use.
//
// Payments are keyed by merchant_id and shipments by shipment_id. Kafka keeps order and
// the idempotent producer removes its own retry duplicates only within one partition,
// and the default partitioner maps a key to one partition: so all events of a merchant
// (or of a shipment's scan sequence) are read back in the order they were published,
// and a retried batch cannot reorder or double them.
type Publisher struct {
	cl             *kgo.Client
	owned          bool
	tracer         trace.Tracer
	paymentsTopic  string
	shipmentsTopic string

	mu     sync.RWMutex // held shared while handing a record to the client, exclusively by Close
	closed bool
}

// NewPublisher builds a Publisher. Without the Client option it creates and owns a
// franz-go client (idempotent producer, default partitioner hashing the record key).
func NewPublisher(opts ...Option) (*Publisher, error) {
	c := config{paymentsTopic: DefaultPaymentsTopic, shipmentsTopic: DefaultShipmentsTopic}
	for _, o := range opts {
		o(&c)
	}
	if c.paymentsTopic == "" || c.shipmentsTopic == "" {
		return nil, errors.New("producers: topic names must not be empty")
	}
	p := &Publisher{cl: c.client, paymentsTopic: c.paymentsTopic, shipmentsTopic: c.shipmentsTopic, tracer: c.tracer}
	if p.cl == nil {
		if len(c.brokers) == 0 {
			return nil, errors.New("producers: no brokers: pass Brokers(...) or Client(...)")
		}
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.brokers...)}, c.kopts...)...)
		if err != nil {
			return nil, fmt.Errorf("producers: new kafka client: %w", err)
		}
		p.cl, p.owned = cl, true
	}
	return p, nil
}

// PaymentsTopic is the topic payments are published to.
func (p *Publisher) PaymentsTopic() string { return p.paymentsTopic }

// ShipmentsTopic is the topic shipments are published to.
func (p *Publisher) ShipmentsTopic() string { return p.shipmentsTopic }

// PublishPayment validates ev, publishes it keyed by merchant_id and returns once the
// broker acknowledged it (or it failed). An invalid event is not sent; the error is an
// *InvalidEventError wrapping the schemas error.
func (p *Publisher) PublishPayment(ctx context.Context, ev *schemas.Payment) error {
	return waitFor(func(done func(error)) { p.PublishPaymentAsync(ctx, ev, done) })
}

// PublishShipment is PublishPayment for shipments, keyed by shipment_id.
func (p *Publisher) PublishShipment(ctx context.Context, ev *schemas.Shipment) error {
	return waitFor(func(done func(error)) { p.PublishShipmentAsync(ctx, ev, done) })
}

// PublishPaymentAsync validates and encodes ev and hands it to the client without
// waiting for the broker. done (which may be nil) is called exactly once: synchronously,
// before return, when ev is invalid or the Publisher is closed; otherwise from a client
// goroutine when the record is acknowledged or failed. done must not block. The call
// itself blocks only while the client's buffer is full (see MaxBuffered).
func (p *Publisher) PublishPaymentAsync(ctx context.Context, ev *schemas.Payment, done func(error)) {
	if err := schemas.ValidatePayment(ev); err != nil {
		call(done, &InvalidEventError{Topic: p.paymentsTopic, EventID: ev.EventID, Err: err})
		return
	}
	p.publishJSON(ctx, p.paymentsTopic, ev.MerchantID, ev.EventID, ev, done)
}

// PublishShipmentAsync is PublishPaymentAsync for shipments.
func (p *Publisher) PublishShipmentAsync(ctx context.Context, ev *schemas.Shipment, done func(error)) {
	if err := schemas.ValidateShipment(ev); err != nil {
		call(done, &InvalidEventError{Topic: p.shipmentsTopic, EventID: ev.EventID, Err: err})
		return
	}
	p.publishJSON(ctx, p.shipmentsTopic, ev.ShipmentID, ev.EventID, ev, done)
}

func (p *Publisher) publishJSON(ctx context.Context, topic, key, id string, ev any, done func(error)) {
	// Sorted map keys keep the bytes of an event stable across retries; HTML escaping
	// would only bloat values no browser renders.
	value, err := json.Append(nil, ev, json.SortMapKeys)
	if err != nil {
		call(done, fmt.Errorf("producers: encode event %q for %s: %w", id, topic, err))
		return
	}
	p.produce(ctx, &kgo.Record{Topic: topic, Key: []byte(key), Value: value}, func(err error) {
		if err != nil {
			err = fmt.Errorf("producers: publish event %q to %s: %w", id, topic, err)
		}
		call(done, err)
	})
}

// Produce publishes raw bytes to topic without validation: it is for tools that already
// validated the bytes (sluice produce) or must send invalid ones on purpose (the load
// generator). key and value must not be modified until done is called. done follows
// the PublishPaymentAsync contract.
func (p *Publisher) Produce(ctx context.Context, topic string, key, value []byte, done func(error)) {
	p.produce(ctx, &kgo.Record{Topic: topic, Key: key, Value: value}, done)
}

// ProduceAt is Produce with an explicit record timestamp (for replays, backfills and
// the load generator's reproducible streams); a zero ts means now.
func (p *Publisher) ProduceAt(ctx context.Context, topic string, key, value []byte, ts time.Time, done func(error)) {
	p.produce(ctx, &kgo.Record{Topic: topic, Key: key, Value: value, Timestamp: ts}, done)
}

// ProduceRecord publishes r as it is, without validation: its topic, key, value,
// headers and timestamp (zero: now). It is for tools that set headers (sluice
// produce --header, the dead-letter republisher). r must not be modified until done
// is called; done follows the PublishPaymentAsync contract.
func (p *Publisher) ProduceRecord(ctx context.Context, r *kgo.Record, done func(error)) {
	p.produce(ctx, r, done)
}

func (p *Publisher) produce(ctx context.Context, r *kgo.Record, done func(error)) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		call(done, ErrClosed)
		return
	}
	ctx, done = p.traceRecord(ctx, r, done)
	p.cl.Produce(ctx, r, func(_ *kgo.Record, err error) { call(done, err) })
}

// Flush blocks until every record handed to the client so far is acknowledged or
// failed, or ctx is done (then it returns ctx's error; records stay buffered).
func (p *Publisher) Flush(ctx context.Context) error {
	if err := p.cl.Flush(ctx); err != nil {
		return fmt.Errorf("producers: flush: %w", err)
	}
	return nil
}

// Close stops accepting records (later publishes get ErrClosed), waits until every
// record accepted before is acknowledged or failed (their callbacks have run), then
// closes the client if the Publisher built it. Close is idempotent.
func (p *Publisher) Close() {
	p.mu.Lock()
	was := p.closed
	p.closed = true
	p.mu.Unlock()
	if was {
		return
	}
	_ = p.cl.Flush(context.Background()) // only fails on ctx cancel; Background never is
	if p.owned {
		p.cl.Close()
	}
}

func call(done func(error), err error) {
	if done != nil {
		done(err)
	}
}

func waitFor(start func(done func(error))) error {
	ch := make(chan error, 1)
	start(func(err error) { ch <- err })
	return <-ch
}
