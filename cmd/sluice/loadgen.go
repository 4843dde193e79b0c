package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/sluicehq/sluice/producers"
	"github.com/sluicehq/sluice/producers/loadgen"
)

// splitList splits a comma-separated flag value, trimming spaces and dropping
// empty elements.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

var loadgenDoc = doc{
	name:  "loadgen",
	brief: "publish realistic, reproducible payments and shipments traffic",
	about: `Publishes a synthetic stream of payments and shipments (Zipf merchants,
INR-heavy currencies, method-specific failure rates, payment lifecycles,
shipments moving through hubs) with a share of invalid records, producer
duplicates and late events, then prints its ground truth: the exact rollups
Sluice must store. The same flags, including --seed and --start, give the same
records byte for byte. Kafka security comes from SLUICE_KAFKA_TLS* and
SLUICE_KAFKA_SASL_*, as for 'sluice run'.`,
}

// loadgenCommand implements `sluice loadgen`: it publishes a reproducible synthetic
// stream (package loadgen) and prints its ground truth when done. The same flags
// (including --seed and --start) give the same records byte for byte.
func loadgenCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	pc := loadPublisherConfig()
	fs := newFlags(loadgenDoc, stdout)
	brokers := fs.String("brokers", pc.brokers(), "comma-separated Kafka seed brokers (the default is SLUICE_KAFKA_BROKERS)")
	seed := fs.Int64("seed", 1, "random seed: the same seed, run id and flags give the same stream")
	runID := fs.String("run-id", "", "run id in every event id (letters, digits, '-'); the default is a fresh random one, so a rerun publishes new events")
	rate := fs.Float64("rate", 0, "target records per second (0: as fast as possible)")
	count := fs.Int64("count", 0, "records to publish (default 10000 when --duration is not set)")
	duration := fs.Duration("duration", 0, "stop after this long")
	paymentsShare := fs.Float64("payments-share", 0.6, "share of records on the payments topic")
	invalidRate := fs.Float64("invalid-rate", 0.01, "share of deliberately invalid records")
	duplicateRate := fs.Float64("duplicate-rate", 0.01, "share of byte-identical re-emissions of earlier records")
	lateRate := fs.Float64("late-rate", 0.005, "share of events minutes to hours late")
	window := fs.Duration("window", time.Minute, "rollup window of the ground truth")
	merchants := fs.Int("merchants", 500, "number of merchants")
	hubs := fs.Int("hubs", 40, "number of logistics hubs")
	start := fs.String("start", "now", `event time of the first record (RFC 3339, or "now"); records are published with timestamps on the same clock, so a fixed --start reproduces the stream byte for byte but a real broker's time-based retention may delete old timestamps`)
	paymentsTopic := fs.String("payments-topic", producers.DefaultPaymentsTopic, "payments topic")
	shipmentsTopic := fs.String("shipments-topic", producers.DefaultShipmentsTopic, "shipments topic")
	timeout := fs.Duration("timeout", defaultPublishTimeout, "give a record up as failed (exit 3, no ground truth) when no broker acknowledged it within this long")
	truthJSON := fs.String("truth-json", "", "also write the ground truth as JSON to this file")
	schemaFile := fs.String("schema", "", "publish random events of this event type (a *.schema.json) instead of payments and shipments; --rate is also its events per second of event time")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *schemaFile != "" {
		return typedLoadgen{pc: pc, schema: *schemaFile, brokers: *brokers, start: *start, truthJSON: *truthJSON, seed: *seed,
			count: *count, rate: *rate, invalidRate: *invalidRate, duplicateRate: *duplicateRate,
			duration: *duration, window: *window}.run(ctx, stdout, stderr)
	}
	if !(*paymentsShare >= 0 && *paymentsShare <= 1) {
		return fs.bad("--payments-share=%v: must be in [0, 1]", *paymentsShare)
	}
	if *count < 0 || *rate < 0 || *duration < 0 || *timeout < minPublishTimeout {
		return fs.bad("--count, --rate and --duration must be ≥ 0, --timeout at least 1s")
	}
	startAt := time.Now().UTC().Truncate(time.Second)
	if *start != "now" {
		t, err := time.Parse(time.RFC3339Nano, *start)
		if err != nil {
			return fs.bad("--start=%q: want RFC 3339 or \"now\": %v", *start, err)
		}
		startAt = t
	}
	total := *count
	if total == 0 {
		total = 10_000
		if *duration > 0 {
			total = math.MaxInt32 * 1024 // effectively unbounded: --duration stops the run
		}
	}
	if *runID == "" {
		*runID = newRunID()
	}
	nPay := int(math.Round(float64(total) * *paymentsShare))
	cfg := loadgen.Config{
		Seed: *seed, RunID: *runID, Payments: nPay, Shipments: int(total) - nPay,
		InvalidRate: *invalidRate, DuplicateRate: *duplicateRate, LateRate: *lateRate,
		Start: startAt, Window: *window, Merchants: *merchants, Hubs: *hubs, EventRate: *rate,
		PaymentsTopic: *paymentsTopic, ShipmentsTopic: *shipmentsTopic,
	}
	gen, err := loadgen.NewGenerator(cfg)
	if err != nil {
		return err
	}
	traced, stopTracing, err := pc.publisherTracer(ctx, stderr)
	if err != nil {
		return err
	}
	defer stopTracing() // after pub.Close: the last records' spans end with their acks
	pub, err := newLinePublisher(ctx, pc, *brokers, *timeout, traced)
	if err != nil {
		return err
	}
	defer pub.Close()

	if *count == 0 && *duration > 0 {
		fmt.Fprintf(stderr, "loadgen: seed=%d run-id=%s for %v, %.0f%% payments, rate=%s, brokers=%s\n",
			*seed, *runID, *duration, *paymentsShare*100, rateString(*rate), *brokers)
	} else {
		fmt.Fprintf(stderr, "loadgen: seed=%d run-id=%s records=%d (payments %d, shipments %d), rate=%s, brokers=%s\n",
			*seed, *runID, total, cfg.Payments, cfg.Shipments, rateString(*rate), *brokers)
	}
	st, runErr := loadgen.Run(ctx, pub, gen, loadgen.RunOptions{
		Rate: *rate, Count: total, Duration: *duration,
		Progress: func(s loadgen.RunStats) {
			fmt.Fprintf(stderr, "loadgen: %d sent, %d acked, %.0f rec/s, %.1f MB in %v\n", s.Records, s.Acked,
				float64(s.Records)/max(s.Elapsed.Seconds(), 1e-9), float64(s.Bytes)/1e6, s.Elapsed.Round(time.Millisecond))
		},
	})
	// The truth covers every record handed out: it is printed only when each of them
	// was acknowledged (a run cut short by Ctrl-C may still be complete).
	if st.Acked != st.Records || (runErr != nil && !errors.Is(runErr, context.Canceled)) {
		fmt.Fprintf(stdout, "%d of %d records acknowledged; no ground truth\n", st.Acked, st.Records)
		if runErr == nil {
			runErr = errors.New("not every record was acknowledged")
		}
		return &exitError{code: exitPublish, err: fmt.Errorf("stopped after %d records, %d acknowledged: %w", st.Records, st.Acked, pub.explain(runErr, *brokers))}
	}
	if err := gen.Truth().WriteSummary(stdout); err != nil {
		return err
	}
	if *truthJSON != "" {
		b, err := json.Marshal(gen.Truth())
		if err == nil {
			err = os.WriteFile(*truthJSON, b, 0o644)
		}
		if err != nil {
			return fmt.Errorf("write --truth-json: %w", err)
		}
	}
	if errors.Is(runErr, context.Canceled) {
		return nil // Ctrl-C: every record handed out is published, and the truth says so
	}
	return runErr
}

// newRunID is a fresh random --run-id: 8 hex digits.
func newRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

func rateString(r float64) string {
	if r == 0 {
		return "max"
	}
	return fmt.Sprintf("%g/s", r)
}
