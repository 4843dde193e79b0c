package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/sluicehq/sluice/producers"
	"github.com/sluicehq/sluice/schemas"
)

var produceDoc = doc{
	name:     "produce",
	synopsis: "--topic payments|shipments [flags] [file ...]",
	brief:    "publish newline-delimited JSON events from stdin or files",
	about: `Publishes newline-delimited JSON events, one per line, from the files named
(none or "-": stdin). Every line is decoded and validated with the --topic schema
first: an invalid line is reported on stderr as "file:line: reason" and not
published; the valid ones are published unchanged, keyed by merchant_id or
shipment_id. It exits 1 if a line was invalid (unless --skip-invalid) or a
publish failed. Empty lines are ignored; a line over 64 KiB stops it. Kafka
security comes from SLUICE_KAFKA_TLS* and SLUICE_KAFKA_SASL_*, as for 'sluice run'.`,
}

// produceCommand implements `sluice produce`: it publishes NDJSON events, one per
// line, read from the named files ("-" or none: stdin).
//
// Every line is decoded and validated with the schemas of --topic before it is sent.
// An invalid line is reported on stderr as "file:line: reason" and not published; the
// valid lines are published as they are read (the bytes unchanged, keyed by
// merchant_id or shipment_id). The command fails if any line was invalid, unless
// --skip-invalid is given, and always fails if a publish failed. --dry-run validates
// without publishing. Empty lines are ignored; a line longer than the schemas'
// record limit (64 KiB) stops the command with an error.
func produceCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	pc := loadPublisherConfig()
	fs := newFlags(produceDoc, stdout)
	brokers := fs.String("brokers", pc.brokers(), "comma-separated Kafka seed brokers (the default is SLUICE_KAFKA_BROKERS)")
	schema := fs.String("topic", "", "event schema and topic: payments or shipments (required)")
	topicName := fs.String("topic-name", "", "publish to this topic instead of the --topic name")
	skipInvalid := fs.Bool("skip-invalid", false, "exit 0 even if some lines were invalid (they are still reported)")
	dryRun := fs.Bool("dry-run", false, "validate only; publish nothing")
	if err := fs.parseWithArgs(args); err != nil {
		return err
	}
	type decodeFn func(line []byte) (key string, err error)
	var decode decodeFn
	switch *schema {
	case "payments":
		var p schemas.Payment
		decode = func(b []byte) (string, error) {
			err := schemas.DecodePayment(b, &p, schemas.Limits{})
			return p.MerchantID, err
		}
	case "shipments":
		var s schemas.Shipment
		decode = func(b []byte) (string, error) {
			err := schemas.DecodeShipment(b, &s, schemas.Limits{})
			return s.ShipmentID, err
		}
	default:
		return fs.bad("--topic=%q: must be payments or shipments", *schema)
	}
	topic := *schema
	if *topicName != "" {
		topic = *topicName
	}
	files := fs.Args()
	if len(files) == 0 {
		files = []string{"-"}
	}

	var pub *producers.Publisher
	if !*dryRun {
		var err error
		kopts, err := pc.kafkaClientOpts(splitList(*brokers))
		if err != nil {
			return err
		}
		traced, stopTracing, err := pc.publisherTracer(ctx, stderr)
		if err != nil {
			return err
		}
		defer stopTracing() // after pub.Close: the last records' spans end with their acks
		if pub, err = producers.NewPublisher(producers.Brokers(splitList(*brokers)...), producers.ClientOptions(kopts...), traced); err != nil {
			return err
		}
		defer pub.Close()
	}

	var (
		mu        sync.Mutex // guards acked, failed, firstErr (written by publish callbacks)
		acked     int64
		failed    int64
		firstErr  error
		lines     int64
		valid     int64
		invalid   int64
		began     = time.Now()
		lastPrint = began
	)
	done := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failed++
			if firstErr == nil {
				firstErr = err
			}
			return
		}
		acked++
	}
	progress := func(final bool) {
		mu.Lock()
		a, f := acked, failed
		mu.Unlock()
		verb := "progress"
		if final {
			verb = "done"
		}
		fmt.Fprintf(stderr, "produce: %s: %d lines, %d valid, %d invalid, %d acked, %d failed in %v\n",
			verb, lines, valid, invalid, a, f, time.Since(began).Round(time.Millisecond))
	}

	for _, name := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		var r io.Reader = os.Stdin
		display := "stdin"
		if name != "-" {
			f, err := os.Open(name)
			if err != nil {
				return err
			}
			defer f.Close()
			r, display = f, name
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), schemas.DefaultMaxRecordBytes+1)
		for n := 1; sc.Scan(); n++ {
			line := sc.Bytes()
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			if len(line) == 0 {
				continue
			}
			lines++
			key, err := decode(line)
			if err != nil {
				invalid++
				fmt.Fprintf(stderr, "%s:%d: %v\n", display, n, err)
				continue
			}
			valid++
			if pub != nil {
				value := append([]byte(nil), line...) // the scanner reuses its buffer
				pub.Produce(ctx, topic, []byte(key), value, done)
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
	if pub != nil {
		if err := pub.Flush(ctx); err != nil {
			return err
		}
	}
	progress(true)
	mu.Lock()
	defer mu.Unlock()
	fmt.Fprintf(stdout, "%d valid, %d invalid, %d published to %s\n", valid, invalid, acked, topic)
	switch {
	case firstErr != nil:
		return fmt.Errorf("%d records failed to publish: %w", failed, firstErr)
	case invalid > 0 && !*skipInvalid:
		return fmt.Errorf("%d invalid lines (reported above; --skip-invalid to accept)", invalid)
	}
	return nil
}
