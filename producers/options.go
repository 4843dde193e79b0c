package producers

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"
)

// Default topic names.
const (
	DefaultPaymentsTopic   = "payments"
	DefaultShipmentsTopic  = "shipments"
	DefaultDeadLetterTopic = "sluice.dlq"
)

// Option configures a Publisher built by NewPublisher.
type Option func(*config)

type config struct {
	client         *kgo.Client
	brokers        []string
	paymentsTopic  string
	shipmentsTopic string
	kopts          []kgo.Opt
	tracer         trace.Tracer
}

// Client makes the Publisher use an existing client instead of building one. The
// Publisher then does not own the client: Close flushes but does not close it, and
// the client's own producer settings apply (Brokers, Linger, BatchMaxBytes,
// MaxBuffered and ClientOptions are ignored).
func Client(cl *kgo.Client) Option { return func(c *config) { c.client = cl } }

// Brokers sets the seed brokers of the client the Publisher builds.
func Brokers(addrs ...string) Option {
	return func(c *config) { c.brokers = append(c.brokers[:0:0], addrs...) }
}

// PaymentsTopic sets the topic payments are published to (default "payments").
func PaymentsTopic(t string) Option { return func(c *config) { c.paymentsTopic = t } }

// ShipmentsTopic sets the topic shipments are published to (default "shipments").
func ShipmentsTopic(t string) Option { return func(c *config) { c.shipmentsTopic = t } }

// Linger sets how long a partition's batch waits for more records before it is sent
// (kgo.ProducerLinger; franz-go's default is 10ms since v1.20). Longer linger means
// bigger batches and fewer requests at the cost of latency.
func Linger(d time.Duration) Option {
	return func(c *config) { c.kopts = append(c.kopts, kgo.ProducerLinger(d)) }
}

// BatchMaxBytes caps the size of one partition's record batch (kgo.ProducerBatchMaxBytes,
// default ~1MB). It must not exceed the broker's max.message.bytes.
func BatchMaxBytes(n int32) Option {
	return func(c *config) { c.kopts = append(c.kopts, kgo.ProducerBatchMaxBytes(n)) }
}

// MaxBuffered bounds the records buffered but not yet acknowledged
// (kgo.MaxBufferedRecords, default 10000). When full, publishing blocks until a
// record is acknowledged or the context is done: backpressure, not memory growth.
func MaxBuffered(n int) Option {
	return func(c *config) { c.kopts = append(c.kopts, kgo.MaxBufferedRecords(n)) }
}

// Compression sets the batch compression preference (kgo.ProducerBatchCompression).
func Compression(codecs ...kgo.CompressionCodec) Option {
	return func(c *config) { c.kopts = append(c.kopts, kgo.ProducerBatchCompression(codecs...)) }
}

// ClientOptions appends raw franz-go options (TLS, SASL, logging, hooks…) to the client
// the Publisher builds. Idempotent production is franz-go's default and should stay on:
// it is what lets the broker drop the duplicates a producer retry would otherwise write.
func ClientOptions(opts ...kgo.Opt) Option {
	return func(c *config) { c.kopts = append(c.kopts, opts...) }
}

// Tracer makes the Publisher trace every record published without an active span in
// its context: a "publish <topic>" producer span from the hand-over until the broker's
// answer, whose context the record carries (traceparent). A record published under an
// active span carries that one instead. nil (the default) traces nothing.
func Tracer(tr trace.Tracer) Option { return func(c *config) { c.tracer = tr } }
