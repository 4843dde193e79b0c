package producers

import (
	"context"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Dead-letter header keys written by DeadLetters.Send after the source record's own
// headers.
const (
	HeaderReason          = "sluice.reason"
	HeaderDetail          = "sluice.detail"
	HeaderSourceTopic     = "sluice.source.topic"
	HeaderSourcePartition = "sluice.source.partition"
	HeaderSourceOffset    = "sluice.source.offset"
	// HeaderSourceTimestamp is the source record's Kafka timestamp, in UTC as
	// RFC 3339 with milliseconds (SourceTimestampFormat).
	HeaderSourceTimestamp = "sluice.source.timestamp"
	HeaderGroup           = "sluice.group"
	HeaderFailedAt        = "sluice.failed_at"
	// HeaderTruncated ("true"), HeaderOriginalSize (bytes, decimal) and
	// HeaderOriginalSHA256 (hex) mark a dead letter whose value was cut to fit the
	// dead-letter topic's max.message.bytes (see MaxRecordBytes): the value holds the
	// first bytes of the source record's value, the headers its full size and hash.
	HeaderTruncated      = "sluice.truncated"
	HeaderOriginalSize   = "sluice.original_size"
	HeaderOriginalSHA256 = "sluice.original_sha256"
)

// SourceTimestampFormat is the layout of the sluice.source.timestamp header: RFC 3339
// with milliseconds, Kafka's timestamp precision ("2026-01-05T09:00:00.123Z").
const SourceTimestampFormat = "2006-01-02T15:04:05.000Z07:00"

// DeadLetters publishes records Sluice could not decode or validate to a dead-letter
// topic, unchanged (same key, value and headers) plus headers saying why and where
// they came from. It is safe for concurrent use by many partition workers.
type DeadLetters struct {
	cl    *kgo.Client
	topic string
	group string
	now   func() time.Time
	limit int // largest record batch the topic accepts; 0 = no limit
}

// DeadLetterOption configures DeadLetters.
type DeadLetterOption func(*DeadLetters)

// ConsumerGroup records the consuming group in the sluice.group header.
func ConsumerGroup(name string) DeadLetterOption { return func(d *DeadLetters) { d.group = name } }

// MaxRecordBytes is the largest record batch the dead-letter topic accepts (its
// max.message.bytes; the client's ProducerBatchMaxBytes must not be below it). A dead
// letter that would not fit keeps the first bytes of its value that do, and is
// marked with the HeaderTruncated, HeaderOriginalSize and HeaderOriginalSHA256
// headers, so it is always deliverable. Zero or less means no limit.
func MaxRecordBytes(n int) DeadLetterOption { return func(d *DeadLetters) { d.limit = max(n, 0) } }

// Clock replaces time.Now for the sluice.failed_at header (tests).
func Clock(now func() time.Time) DeadLetterOption { return func(d *DeadLetters) { d.now = now } }

// NewDeadLetters returns a dead-letter writer producing to topic ("" means
// "sluice.dlq") through cl, which the caller owns (and must flush and close).
func NewDeadLetters(cl *kgo.Client, topic string, opts ...DeadLetterOption) *DeadLetters {
	if topic == "" {
		topic = DefaultDeadLetterTopic
	}
	d := &DeadLetters{cl: cl, topic: topic, now: time.Now}
	for _, o := range opts {
		o(d)
	}
	return d
}

// Topic is the dead-letter topic.
func (d *DeadLetters) Topic() string { return d.topic }

// fixedHeaders is how many of the dead-letter record's headers live in the same
// allocation as the record.
const fixedHeaders = 9

// deadLetter is one outgoing record with its headers in a single allocation.
type deadLetter struct {
	rec  kgo.Record
	hdrs [fixedHeaders]kgo.RecordHeader
}

// Send publishes src to the dead-letter topic without waiting. done is called exactly
// once, from a client goroutine, when the record is acknowledged or failed (with
// ctx's error if ctx ends first); it must not block and may be nil. src's key, value
// and headers are shared, not copied: do not modify them until done is called.
//
// Send costs three allocations for a source record with at most one header: the record,
// one buffer for the header values and the completion closure.
func (d *DeadLetters) Send(ctx context.Context, src *kgo.Record, reason, detail string, done func(error)) {
	dl := new(deadLetter)
	n := len(src.Headers) + 7
	if d.group != "" {
		n++
	}
	hdrs := dl.hdrs[:0]
	if n > fixedHeaders {
		hdrs = make([]kgo.RecordHeader, 0, n)
	}
	hdrs = append(hdrs, src.Headers...)

	// One buffer holds every header value; each header slices into it.
	buf := make([]byte, 0, len(reason)+len(detail)+len(src.Topic)+len(d.group)+2*20+len(SourceTimestampFormat)+len(time.RFC3339Nano))
	add := func(key string, from int) {
		hdrs = append(hdrs, kgo.RecordHeader{Key: key, Value: buf[from:len(buf):len(buf)]})
	}
	at := len(buf)
	buf = append(buf, reason...)
	add(HeaderReason, at)
	at = len(buf)
	buf = append(buf, detail...)
	add(HeaderDetail, at)
	at = len(buf)
	buf = append(buf, src.Topic...)
	add(HeaderSourceTopic, at)
	at = len(buf)
	buf = strconv.AppendInt(buf, int64(src.Partition), 10)
	add(HeaderSourcePartition, at)
	at = len(buf)
	buf = strconv.AppendInt(buf, src.Offset, 10)
	add(HeaderSourceOffset, at)
	at = len(buf)
	buf = src.Timestamp.UTC().AppendFormat(buf, SourceTimestampFormat)
	add(HeaderSourceTimestamp, at)
	if d.group != "" {
		at = len(buf)
		buf = append(buf, d.group...)
		add(HeaderGroup, at)
	}
	at = len(buf)
	buf = d.now().UTC().AppendFormat(buf, time.RFC3339Nano)
	add(HeaderFailedAt, at)

	dl.rec = kgo.Record{Topic: d.topic, Key: src.Key, Value: src.Value, Headers: hdrs}
	if d.limit > 0 && batchSize(&dl.rec) > d.limit {
		truncate(&dl.rec, d.limit)
	}
	d.cl.Produce(ctx, &dl.rec, func(_ *kgo.Record, err error) { call(done, err) })
}

// DeadLetter is a dead-letter record taken apart by ParseDeadLetter.
type DeadLetter struct {
	Reason          string
	Detail          string
	SourceTopic     string
	SourcePartition int32
	SourceOffset    int64
	SourceTimestamp time.Time // the source record's Kafka timestamp; zero if absent or unparsable
	Group           string    // empty when the writer had no ConsumerGroup
	FailedAt        time.Time // zero if the header was unparsable
	Key, Value      []byte    // the source record's, shared with r
	// Truncated says Value is only the first bytes of the source record's value,
	// which had OriginalSize bytes and the SHA-256 OriginalSHA256 (hex).
	Truncated      bool
	OriginalSize   int
	OriginalSHA256 string
	// Headers are the source record's own headers (the sluice.* ones removed), shared
	// with r.
	Headers []kgo.RecordHeader
}

// ParseDeadLetter reads back what DeadLetters.Send wrote. It fails with an error
// wrapping ErrNotDeadLetter if the reason, source topic, partition or offset header is
// missing or malformed.
func ParseDeadLetter(r *kgo.Record) (DeadLetter, error) {
	dl := DeadLetter{Key: r.Key, Value: r.Value, SourcePartition: -1, SourceOffset: -1}
	var seen int
	// The sluice headers are the trailing ones; scan from the end so a source record
	// carrying its own sluice.* headers (a dead letter of a dead letter) keeps them.
	end := len(r.Headers)
	for i := len(r.Headers) - 1; i >= 0; i-- {
		h := r.Headers[i]
		v := string(h.Value)
		switch h.Key {
		case HeaderReason:
			dl.Reason, seen = v, seen|1
		case HeaderDetail:
			dl.Detail = v
		case HeaderSourceTopic:
			dl.SourceTopic, seen = v, seen|2
		case HeaderSourcePartition:
			p, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return DeadLetter{}, errorf("bad %s header %q", HeaderSourcePartition, v)
			}
			dl.SourcePartition, seen = int32(p), seen|4
		case HeaderSourceOffset:
			o, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return DeadLetter{}, errorf("bad %s header %q", HeaderSourceOffset, v)
			}
			dl.SourceOffset, seen = o, seen|8
		case HeaderSourceTimestamp:
			dl.SourceTimestamp, _ = time.Parse(SourceTimestampFormat, v)
		case HeaderGroup:
			dl.Group = v
		case HeaderFailedAt:
			dl.FailedAt, _ = time.Parse(time.RFC3339Nano, v)
		case HeaderTruncated:
			dl.Truncated = v == "true"
		case HeaderOriginalSize:
			dl.OriginalSize, _ = strconv.Atoi(v)
		case HeaderOriginalSHA256:
			dl.OriginalSHA256 = v
		default:
			i = -1 // first non-sluice header from the end: the source's headers begin
			continue
		}
		end = i
		if seen == 15 && h.Key == HeaderReason {
			break // Reason is the first header Send writes
		}
	}
	if seen != 15 {
		return DeadLetter{}, errorf("missing %s, %s, %s or %s header", HeaderReason, HeaderSourceTopic, HeaderSourcePartition, HeaderSourceOffset)
	}
	dl.Headers = r.Headers[:end:end]
	return dl, nil
}
