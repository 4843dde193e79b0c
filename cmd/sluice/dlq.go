package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/segmentio/encoding/json"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/producers"
	"github.com/sluicehq/sluice/schemas"
)

var dlqDoc = doc{
	name:     "dlq",
	synopsis: "[flags]  |  sluice dlq --republish FILE [flags]",
	brief:    "print dead letters, or republish fixed ones to their source topic",
	about: `Without --republish, reads the dead-letter topic from its start (or --since) to
its end as it is when the command starts, and prints each dead letter that
matches --reason, --topic, --since and --until as one JSON line on stdout:
reason, detail, source (topic, partition, offset, Kafka timestamp), group,
failed_at, where it is in the dead-letter topic, key and value as text (or
key_base64 and value_base64 when they are not UTF-8), and the source record's
own headers. A count goes to stderr.

With --republish FILE ("-": stdin), reads such lines back and publishes each
record to its source topic (or --to-topic): its key, its value, its own headers
plus sluice.republished_from (topic/partition/offset), at its source Kafka
timestamp (or now, with --now). So the workflow is: print, fix what needs
fixing (edit the value, e.g. with jq, or fix Sluice's configuration), republish:

  sluice dlq --reason too_late > dead.ndjson
  sluice dlq --republish dead.ndjson
  sluice dlq --reason bad_format --since 1h | sluice dlq --republish -

A value for a source topic Sluice knows (SLUICE_TOPIC_PAYMENTS, _SHIPMENTS) is
validated first: an invalid line is reported as "file:line: reason" and not
republished unless --allow-invalid. Republishing twice is harmless within
SLUICE_DEDUP_HORIZON: the event_id is the same, so Sluice counts the event
once. Exit status as for 'sluice produce': 0 all published, 1 some lines
invalid, 3 a publish failed.

Time flags take RFC 3339 ("2026-01-05T09:00:00Z") or a duration before now
("90m"); they select by when the record was dead-lettered. Kafka security comes
from SLUICE_KAFKA_TLS* and SLUICE_KAFKA_SASL_*, as for 'sluice run'.`,
}

// dlqLine is one dead letter as `sluice dlq` prints it and --republish reads it.
type dlqLine struct {
	Reason      string      `json:"reason"`
	Detail      string      `json:"detail,omitempty"`
	Source      dlqPosition `json:"source"`
	Group       string      `json:"group,omitempty"`
	FailedAt    string      `json:"failed_at,omitempty"`
	DLQ         dlqPosition `json:"dlq"`
	Key         *string     `json:"key,omitempty"`
	KeyBase64   []byte      `json:"key_base64,omitempty"`
	Value       *string     `json:"value,omitempty"`
	ValueBase64 []byte      `json:"value_base64,omitempty"`
	Headers     []dlqHeader `json:"headers,omitempty"`
}

// dlqPosition is where a record is: topic, partition, offset and Kafka timestamp.
type dlqPosition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Timestamp string `json:"timestamp,omitempty"` // producers.SourceTimestampFormat
}

// dlqHeader is one of the source record's own headers.
type dlqHeader struct {
	Key         string  `json:"key"`
	Value       *string `json:"value,omitempty"`
	ValueBase64 []byte  `json:"value_base64,omitempty"`
}

// text returns b as text when it is UTF-8, else as base64 (the second result);
// nil (no key) as neither.
func text(b []byte) (*string, []byte) {
	if b == nil {
		return nil, nil
	}
	if utf8.Valid(b) {
		s := string(b)
		return &s, nil
	}
	return nil, b
}

// bytesOf is text's inverse.
func bytesOf(s *string, b64 []byte) []byte {
	if s != nil {
		return []byte(*s)
	}
	return b64
}

// headerRepublishedFrom names, on a republished record, the source position of the
// dead letter it came from: "topic/partition/offset".
const headerRepublishedFrom = "sluice.republished_from"

// dlqCommand implements `sluice dlq`.
func dlqCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	pc := loadPublisherConfig()
	fs := newFlags(dlqDoc, stdout)
	brokers := fs.String("brokers", pc.brokers(), "comma-separated Kafka seed brokers (the default is SLUICE_KAFKA_BROKERS)")
	dlqTopic := fs.String("dlq-topic", pc.cfg.Kafka.DLQTopic, "dead-letter topic (the default is SLUICE_DLQ_TOPIC)")
	reasons := fs.String("reason", "", "only these reasons, comma-separated (e.g. malformed_json,too_late)")
	topics := fs.String("topic", "", "only dead letters of these source topics, comma-separated")
	since := fs.String("since", "", "only records dead-lettered at or after this time (RFC 3339, or a duration before now: 1h)")
	until := fs.String("until", "", "only records dead-lettered before this time (RFC 3339, or a duration before now)")
	limit := fs.Int("limit", 0, "print at most this many dead letters (0: all)")
	republish := fs.String("republish", "", "publish the dead letters of this file of printed lines (\"-\": stdin) to their source topics")
	toTopic := fs.String("to-topic", "", "with --republish: publish to this topic instead of each record's source topic")
	now := fs.Bool("now", false, "with --republish: publish at the current time instead of the source Kafka timestamp")
	allowInvalid := fs.Bool("allow-invalid", false, "with --republish: publish values that fail validation too")
	timeout := fs.Duration("timeout", defaultPublishTimeout, "how long to wait for a broker to answer")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *timeout < minPublishTimeout {
		return fs.bad("--timeout=%v: must be at least %v", *timeout, minPublishTimeout)
	}
	// Each flag belongs to reading or to --republish; one given to the other mode
	// would be ignored, so it is refused.
	readOnly := map[string]bool{"reason": true, "topic": true, "since": true, "until": true, "limit": true, "dlq-topic": true}
	republishOnly := map[string]bool{"to-topic": true, "now": true, "allow-invalid": true}
	var misplaced error
	fs.Visit(func(fl *flag.Flag) {
		switch {
		case misplaced != nil:
		case *republish != "" && readOnly[fl.Name]:
			misplaced = fs.bad("--%s selects what is read; it does not apply to --republish", fl.Name)
		case *republish == "" && republishOnly[fl.Name]:
			misplaced = fs.bad("--%s applies only with --republish", fl.Name)
		}
	})
	if misplaced != nil {
		return misplaced
	}
	if *republish != "" {
		return republishDLQ(ctx, pc, *republish, republishOptions{
			brokers: *brokers, toTopic: *toTopic, now: *now, allowInvalid: *allowInvalid, timeout: *timeout,
		}, stdout, stderr)
	}
	f := dlqFilter{reasons: splitList(*reasons), topics: splitList(*topics)}
	var err error
	if f.since, err = parseWhen(*since, time.Now()); err != nil {
		return fs.bad("--since=%q: %v", *since, err)
	}
	if f.until, err = parseWhen(*until, time.Now()); err != nil {
		return fs.bad("--until=%q: %v", *until, err)
	}
	if *limit < 0 {
		return fs.bad("--limit=%d: must be ≥ 0", *limit)
	}
	kopts, err := pc.kafkaClientOpts(splitList(*brokers))
	if err != nil {
		return err
	}
	return readDLQ(ctx, kopts, *dlqTopic, f, *limit, *timeout, stdout, stderr)
}

// parseWhen reads a time flag: RFC 3339, or a duration before now; "" is the zero time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New(`want RFC 3339 ("2026-01-05T09:00:00Z") or a duration before now ("90m")`)
	}
	return t, nil
}

// dlqFilter selects dead letters; empty fields select everything.
type dlqFilter struct {
	reasons, topics []string
	since, until    time.Time
}

func (f dlqFilter) match(r *kgo.Record, d producers.DeadLetter) bool {
	switch {
	case len(f.reasons) > 0 && !slices.Contains(f.reasons, d.Reason):
	case len(f.topics) > 0 && !slices.Contains(f.topics, d.SourceTopic):
	case !f.since.IsZero() && r.Timestamp.Before(f.since):
	case !f.until.IsZero() && !r.Timestamp.Before(f.until):
	default:
		return true
	}
	return false
}

// readDLQ prints the dead letters of topic that f selects, from the start (or
// f.since) to the end offsets listed when it starts.
func readDLQ(ctx context.Context, kopts []kgo.Opt, topic string, f dlqFilter, limit int, timeout time.Duration, stdout, stderr io.Writer) error {
	adm, err := kgo.NewClient(kopts...)
	if err != nil {
		return err
	}
	defer adm.Close()
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ac := kadm.NewClient(adm)
	ends, err := ac.ListEndOffsets(lctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("dead-letter topic %q does not exist (--dlq-topic, SLUICE_DLQ_TOPIC)", topic)
	}
	if err != nil {
		return fmt.Errorf("list the end of %s within --timeout=%v: %w", topic, timeout, err)
	}
	var starts kadm.ListedOffsets
	if f.since.IsZero() {
		starts, err = ac.ListStartOffsets(lctx, topic)
	} else {
		starts, err = ac.ListOffsetsAfterMilli(lctx, f.since.UnixMilli(), topic)
	}
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("list the start of %s: %w", topic, err)
	}
	left := map[int32]int64{} // partition → end offset, while records before it are unread
	from := map[int32]kgo.Offset{}
	ends.Each(func(e kadm.ListedOffset) {
		s, ok := starts.Lookup(topic, e.Partition)
		if ok && s.Offset >= 0 && s.Offset < e.Offset {
			left[e.Partition] = e.Offset
			from[e.Partition] = kgo.NewOffset().At(s.Offset)
		}
	})
	var read, printed, foreign int
	defer func() {
		fmt.Fprintf(stderr, "dlq: %d records read from %s, %d printed", read, topic, printed)
		if foreign > 0 {
			fmt.Fprintf(stderr, ", %d not sluice dead letters", foreign)
		}
		fmt.Fprintln(stderr)
	}()
	if len(left) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(append(kopts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	for len(left) > 0 && (limit == 0 || printed < limit) {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fs.Err(); err != nil {
			return fmt.Errorf("read %s: %w", topic, err)
		}
		for it := fs.RecordIter(); !it.Done(); {
			r := it.Next()
			end, ok := left[r.Partition]
			if !ok || r.Offset >= end {
				continue
			}
			if r.Offset+1 >= end {
				delete(left, r.Partition)
			}
			read++
			d, err := producers.ParseDeadLetter(r)
			if err != nil {
				foreign++
				continue
			}
			if !f.match(r, d) || (limit > 0 && printed >= limit) {
				continue
			}
			if err := enc.Encode(lineOf(r, d)); err != nil {
				return err
			}
			printed++
		}
	}
	return nil
}

// lineOf is the printed form of the dead letter r.
func lineOf(r *kgo.Record, d producers.DeadLetter) dlqLine {
	l := dlqLine{
		Reason: d.Reason, Detail: d.Detail, Group: d.Group,
		Source: dlqPosition{Topic: d.SourceTopic, Partition: d.SourcePartition, Offset: d.SourceOffset},
		DLQ:    dlqPosition{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: stamp(r.Timestamp)},
	}
	l.Source.Timestamp = stamp(d.SourceTimestamp)
	l.FailedAt = stamp(d.FailedAt)
	l.Key, l.KeyBase64 = text(d.Key)
	l.Value, l.ValueBase64 = text(d.Value)
	for _, h := range d.Headers {
		x := dlqHeader{Key: h.Key}
		x.Value, x.ValueBase64 = text(h.Value)
		l.Headers = append(l.Headers, x)
	}
	return l
}

// stamp formats t as the sluice.source.timestamp header does; "" for the zero time.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(producers.SourceTimestampFormat)
}

// republishOptions are the --republish flags.
type republishOptions struct {
	brokers      string
	toTopic      string
	now          bool
	allowInvalid bool
	timeout      time.Duration
}

// republishDLQ publishes the dead letters of the printed lines in file to their
// source topics.
func republishDLQ(ctx context.Context, pc publisherConfig, file string, o republishOptions, stdout, stderr io.Writer) error {
	r, display, closeInput, err := openInput(file)
	if err != nil {
		return err
	}
	defer closeInput()
	validate := map[string]func([]byte) error{}
	if t := pc.cfg.Kafka.PaymentsTopic; t != "" {
		var p schemas.Payment
		validate[t] = func(b []byte) error { return schemas.DecodePayment(b, &p, schemas.Limits{}) }
	}
	if t := pc.cfg.Kafka.ShipmentsTopic; t != "" {
		var s schemas.Shipment
		validate[t] = func(b []byte) error { return schemas.DecodeShipment(b, &s, schemas.Limits{}) }
	}
	pub, err := newLinePublisher(ctx, pc, o.brokers, o.timeout)
	if err != nil {
		return err
	}
	defer pub.Close()
	a := newAcks()
	var sent, invalid int64
	sc := bufio.NewScanner(r)
	// A printed line holds a value of up to the record limit, escaped or in base64.
	sc.Buffer(make([]byte, 64<<10), 8*schemas.DefaultMaxRecordBytes)
	for n := 1; sc.Scan() && !a.failing(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var l dlqLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Source.Topic == "" {
			return fmt.Errorf("%s:%d: not a line printed by 'sluice dlq' (no source topic): %v", display, n, err)
		}
		value := bytesOf(l.Value, l.ValueBase64)
		if v, ok := validate[l.Source.Topic]; ok {
			if err := v(value); err != nil {
				invalid++
				if !o.allowInvalid {
					fmt.Fprintf(stderr, "%s:%d: %v\n", display, n, err)
					continue
				}
				fmt.Fprintf(stderr, "%s:%d: %v (published: --allow-invalid)\n", display, n, err)
			}
		}
		rec := &kgo.Record{Topic: l.Source.Topic, Key: bytesOf(l.Key, l.KeyBase64), Value: value}
		if o.toTopic != "" {
			rec.Topic = o.toTopic
		}
		if !o.now && l.Source.Timestamp != "" {
			if rec.Timestamp, err = time.Parse(producers.SourceTimestampFormat, l.Source.Timestamp); err != nil {
				return fmt.Errorf("%s:%d: source timestamp %q: %w", display, n, l.Source.Timestamp, err)
			}
		}
		for _, h := range l.Headers {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h.Key, Value: bytesOf(h.Value, h.ValueBase64)})
		}
		from := l.Source.Topic + "/" + strconv.Itoa(int(l.Source.Partition)) + "/" + strconv.FormatInt(l.Source.Offset, 10)
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: headerRepublishedFrom, Value: []byte(from)})
		pub.ProduceRecord(ctx, rec, a.done)
		sent++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", display, err)
	}
	flushErr := pub.Flush(ctx)
	acked, _, first := a.result()
	fmt.Fprintf(stdout, "%d republished, %d invalid\n", acked, invalid)
	switch {
	case first != nil:
		return publishError(pub, first, o.brokers, acked, sent)
	case flushErr != nil:
		return publishError(pub, flushErr, o.brokers, acked, sent)
	case invalid > 0 && !o.allowInvalid:
		return &exitError{code: exitInvalid, err: fmt.Errorf("%d invalid values not republished (reported above; --allow-invalid to publish them)", invalid)}
	}
	return nil
}
