package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/schemas"
)

var produceDoc = doc{
	name:     "produce",
	synopsis: "--topic payments|shipments [flags] [file ...]",
	brief:    "publish newline-delimited JSON events from stdin or files",
	about: `Publishes newline-delimited JSON events, one per line, from the files named
(none or "-": stdin). Every line is decoded and validated with the --topic schema
first: an invalid line is reported on stderr as "file:line: reason" and not
published (unless --allow-invalid, to test the dead-letter path); the valid ones
are published unchanged, keyed by merchant_id or shipment_id (or --key), with the
--header headers. Empty lines are ignored; a line over 64 KiB stops it. Kafka
security comes from SLUICE_KAFKA_TLS* and SLUICE_KAFKA_SASL_*, as for 'sluice run'.

Exit status: 0 every line was published (or, with --skip-invalid, every valid
one); 1 some lines were invalid and not published, every valid one was (or the
input could not be read); 3 a publish failed, e.g. no broker acknowledged within
--timeout: reading stops, and stdout says how many records were published.`,
}

// produceCommand implements `sluice produce`: it publishes NDJSON events, one per
// line, read from the named files ("-" or none: stdin).
//
// Every line is decoded and validated with the schemas of --topic before it is sent.
// An invalid line is reported on stderr as "file:line: reason" and not published
// unless --allow-invalid; the valid lines are published as they are read (the bytes
// unchanged, keyed by --key, default merchant_id or shipment_id). The exit status
// says what happened (exitInvalid, exitPublish); --dry-run validates without
// publishing. Empty lines are ignored; a line longer than the schemas' record limit
// (64 KiB) stops the command with an error.
func produceCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	pc := loadPublisherConfig()
	fs := newFlags(produceDoc, stdout)
	brokers := fs.String("brokers", pc.brokers(), "comma-separated Kafka seed brokers (the default is SLUICE_KAFKA_BROKERS)")
	schema := fs.String("topic", "", "event schema and topic: payments or shipments (required)")
	topicName := fs.String("topic-name", "", "publish to this topic instead of the --topic name")
	keyFlag := fs.String("key", "", "record key: a JSON field (merchant_id) or a template of {field}s (\"{merchant_id}-{currency}\"); the default is merchant_id for payments, shipment_id for shipments")
	var headers headerFlag
	fs.Var(&headers, "header", "add the record header `key=value` to every record (repeatable)")
	timeout := fs.Duration("timeout", defaultPublishTimeout, "give a record up as failed (exit 3) when no broker acknowledged it within this long")
	skipInvalid := fs.Bool("skip-invalid", false, "exit 0 even if some lines were invalid (they are still reported, not published)")
	allowInvalid := fs.Bool("allow-invalid", false, "publish invalid lines too (still reported), e.g. to test the dead-letter path")
	dryRun := fs.Bool("dry-run", false, "validate only; publish nothing")
	schemaFile := fs.String("schema", "", "validate with this event type (a *.schema.json) and publish to its topic, instead of --topic")
	if err := fs.parseWithArgs(args); err != nil {
		return err
	}
	var decode func(line []byte) error
	defaultKey := ""
	switch {
	case *schemaFile != "":
		t, err := schemaType(*schemaFile)
		if err != nil {
			return err
		}
		// Keyed by the event id, so a retry lands in its original's partition.
		decode = func(b []byte) error { return t.Validate(b, schemas.Limits{}) }
		*schema, defaultKey = t.Topic(), t.EventID()
	case *schema == "payments":
		var p schemas.Payment
		decode = func(b []byte) error { return schemas.DecodePayment(b, &p, schemas.Limits{}) }
		defaultKey = "merchant_id"
	case *schema == "shipments":
		var s schemas.Shipment
		decode = func(b []byte) error { return schemas.DecodeShipment(b, &s, schemas.Limits{}) }
		defaultKey = "shipment_id"
	default:
		return fs.bad("--topic=%q: must be payments or shipments (or give --schema FILE)", *schema)
	}
	if *keyFlag == "" {
		*keyFlag = defaultKey
	}
	key, err := parseKeySpec(*keyFlag)
	if err != nil {
		return fs.bad("--key=%v", err)
	}
	if *timeout < minPublishTimeout {
		return fs.bad("--timeout=%v: must be at least %v", *timeout, minPublishTimeout)
	}
	topic := *schema
	if *topicName != "" {
		topic = *topicName
	}
	files := fs.Args()
	if len(files) == 0 {
		files = []string{"-"}
	}

	var pub *guardedPublisher
	if !*dryRun {
		traced, stopTracing, err := pc.publisherTracer(ctx, stderr)
		if err != nil {
			return err
		}
		defer stopTracing() // after pub.Close: the last records' spans end with their acks
		if pub, err = newLinePublisher(ctx, pc, *brokers, *timeout, traced); err != nil {
			return err
		}
		defer pub.Close()
	}

	var (
		a         = newAcks()
		lines     int64
		valid     int64
		invalid   int64
		sent      int64
		began     = time.Now()
		lastPrint = began
	)
	progress := func(final bool) {
		acked, failed, _ := a.result()
		verb := "progress"
		if final {
			verb = "done"
		}
		fmt.Fprintf(stderr, "produce: %s: %d lines, %d valid, %d invalid, %d acked, %d failed in %v\n",
			verb, lines, valid, invalid, acked, failed, time.Since(began).Round(time.Millisecond))
	}

read:
	for _, name := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, display, closeInput, err := openInput(name)
		if err != nil {
			return err
		}
		defer closeInput()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), schemas.DefaultMaxRecordBytes+1)
		for n := 1; sc.Scan(); n++ {
			if a.failing() {
				fmt.Fprintf(stderr, "%s:%d: not read: a publish failed\n", display, n)
				break read
			}
			line := sc.Bytes()
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			if len(line) == 0 {
				continue
			}
			lines++
			if err := decode(line); err != nil {
				invalid++
				if !*allowInvalid {
					fmt.Fprintf(stderr, "%s:%d: %v\n", display, n, err)
					continue
				}
				fmt.Fprintf(stderr, "%s:%d: %v (published: --allow-invalid)\n", display, n, err)
			} else {
				valid++
			}
			if pub != nil {
				value := append([]byte(nil), line...) // the scanner reuses its buffer
				rec := &kgo.Record{Topic: topic, Key: key.key(value), Value: value, Headers: headers}
				pub.ProduceRecord(ctx, rec, a.done)
				sent++
			}
			if now := time.Now(); now.Sub(lastPrint) >= time.Second {
				progress(false)
				lastPrint = now
			}
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				err = fmt.Errorf("a line exceeds %d bytes", schemas.DefaultMaxRecordBytes)
			}
			return fmt.Errorf("%s after line %d: %w", display, lines, err)
		}
	}
	var flushErr error
	if pub != nil {
		flushErr = pub.Flush(ctx)
	}
	progress(true)
	acked, _, first := a.result()
	fmt.Fprintf(stdout, "%d valid, %d invalid, %d published to %s\n", valid, invalid, acked, topic)
	switch {
	case first != nil:
		return publishError(pub, first, *brokers, acked, sent)
	case flushErr != nil:
		return publishError(pub, flushErr, *brokers, acked, sent)
	case invalid > 0 && !*skipInvalid && !*allowInvalid:
		return &exitError{code: exitInvalid, err: fmt.Errorf("%d invalid lines not published (reported above; --skip-invalid to accept, --allow-invalid to publish them)", invalid)}
	}
	return nil
}
