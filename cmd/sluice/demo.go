//go:build !nodev

package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/app"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/dev/chlocal"
	"github.com/sluicehq/sluice/internal/dev/verify"
	"github.com/sluicehq/sluice/producers"
	"github.com/sluicehq/sluice/producers/loadgen"
	"github.com/sluicehq/sluice/schemas"
)

var demoDoc = doc{
	name:  "demo",
	brief: "run the whole pipeline on embedded Kafka and ClickHouse and show the results",
	about: `Starts the embedded ClickHouse (fetched once into SLUICE_CACHE_DIR) and an
in-process Kafka, creates the tables, runs --instances Sluice instances in one
group and publishes a realistic stream (1% invalid, 0.5% producer duplicates, 2%
late) for --duration with live progress. Then it prints what an analyst asks
(top merchants, failure rate by method, volume by currency, busiest hubs,
deliveries per carrier) straight from ClickHouse, checks every rollup row
against the generator's ground truth, and tells you how to query the data
yourself. Ctrl-C ends it cleanly. It exits 1 if the totals are not exact.`,
}

// demoCommand is `sluice demo`: the main job on the embedded default. It starts an
// in-process Kafka (kfake) and the local ClickHouse, publishes a realistic stream
// with a few invalid events and producer duplicates, runs the pipeline with live
// progress, then answers an analyst's questions straight from ClickHouse and checks
// the stored totals against the ground truth.
func demoCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	dev := config.DevFromEnv()
	fs := newFlags(demoDoc, stdout)
	duration := fs.Duration("duration", 60*time.Second, "how long to publish events")
	rate := fs.Float64("rate", 5000, "events per second to publish (both topics)")
	seed := fs.Int64("seed", 1, "load generator seed (same seed, same stream)")
	partitions := fs.Int("partitions", 8, "partitions per source topic")
	instances := fs.Int("instances", 2, "Sluice instances in the consumer group")
	dataDir := fs.String("data", filepath.Join(cmp.Or(dev.CacheDir, chlocal.DefaultCacheDir()), "demo-clickhouse"), "ClickHouse data directory (emptied at start, kept at the end)")
	verbose := fs.Bool("v", false, "show Sluice's own log lines")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *instances < 1 || *partitions < 1 || *rate <= 0 || *duration <= 0 {
		return fs.bad("--instances, --partitions, --rate and --duration must be positive")
	}
	step := func(format string, a ...any) { fmt.Fprintf(stdout, "==> "+format+"\n", a...) }

	// 1. ClickHouse: the real engine, fetched once into the cache.
	if err := os.RemoveAll(*dataDir); err != nil {
		return err
	}
	step("starting ClickHouse (chDB 26.7 engine) with data in %s", *dataDir)
	srv, err := chlocal.Start(ctx, chlocal.Options{DataDir: *dataDir, CacheDir: dev.CacheDir, Log: stdout})
	if err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = srv.Stop(stopCtx)
	}()

	// 2. Kafka: an in-process kfake cluster with the topics.
	c0, err := config.Load(nil)
	if err != nil {
		return err
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(int32(*partitions), c0.Kafka.PaymentsTopic, c0.Kafka.ShipmentsTopic),
		kfake.SeedTopics(1, c0.Kafka.DLQTopic))
	if err != nil {
		return fmt.Errorf("start kfake: %w", err)
	}
	defer cluster.Close()
	brokers := strings.Join(cluster.ListenAddrs(), ",")
	step("Kafka (kfake) at %s: topics %s, %s (%d partitions each), %s", brokers, c0.Kafka.PaymentsTopic, c0.Kafka.ShipmentsTopic, *partitions, c0.Kafka.DLQTopic)

	// 3. Sluice: the process environment, pointed at the embedded stack.
	environ := config.Environ()
	environ["SLUICE_KAFKA_BROKERS"] = brokers
	environ["SLUICE_CLICKHOUSE_ADDR"] = srv.Addr()
	if _, ok := environ["SLUICE_HTTP_ADDR"]; !ok {
		// Several instances in one process: each takes a free port for its admin
		// listener (status page, /metrics) unless one was asked for.
		environ["SLUICE_HTTP_ADDR"] = "127.0.0.1:0"
	}
	cfg, err := config.Load(environ)
	if err != nil {
		return fmt.Errorf("bad configuration:\n%w", err)
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = newLogger(cfg.Log, stderr)
	}
	step("migrating database %q and starting %d Sluice instance(s) in group %q", cfg.ClickHouse.Database, *instances, cfg.Kafka.Group)
	if err := app.Migrate(ctx, cfg); err != nil {
		return err
	}
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	var insts []*app.Instance
	done := make(chan error, *instances)
	for i := 0; i < *instances; i++ {
		in, err := app.New(ctx, cfg, log.With("instance", i))
		if err != nil {
			stopRun()
			for range insts {
				<-done
			}
			return err
		}
		insts = append(insts, in)
		go func() { done <- in.Run(runCtx) }()
		if a := in.HTTPAddr(); a != "" {
			step("instance %d: status page http://%s/  (metrics /metrics, health /readyz)", i, a)
		}
	}
	waitInstances := func() error {
		stopRun()
		var errs []error
		for range insts {
			errs = append(errs, <-done)
		}
		return errors.Join(errs...)
	}

	// 4. Publish for --duration with live progress.
	// Every Kafka client takes its options from app.KafkaOpts, as the instances do.
	kopts, err := app.KafkaOpts(cfg)
	if err != nil {
		_ = waitInstances()
		return err
	}
	pub, err := producers.NewPublisher(producers.Brokers(cluster.ListenAddrs()...), producers.ClientOptions(kopts...))
	if err != nil {
		_ = waitInstances()
		return err
	}
	defer pub.Close()
	admCl, err := kgo.NewClient(kopts...)
	if err != nil {
		_ = waitInstances()
		return err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	gen, err := loadgen.NewGenerator(loadgen.Config{
		Seed:          *seed,
		Payments:      int(*rate * duration.Seconds() * 0.7),
		Shipments:     int(*rate * duration.Seconds() * 0.3),
		InvalidRate:   0.01,
		DuplicateRate: 0.005,
		LateRate:      0.02,
		Start:         time.Now().UTC(),
		EventRate:     *rate,
		Window:        cfg.Pipeline.Window,
	})
	if err != nil {
		_ = waitInstances()
		return err
	}
	step("publishing ~%.0f events/s for %s (1%% invalid, 0.5%% producer duplicates, 2%% late); Ctrl-C stops early", *rate, *duration)
	start := time.Now()
	var lastStats loadgen.RunStats
	progress := func(rs loadgen.RunStats) {
		var consumed, rows, dlq int64
		for _, in := range insts {
			s := in.Stats()
			consumed += s.Records.Load()
			rows += s.Rows.Load()
			dlq += s.Invalid.Load()
		}
		inRate := float64(rs.Records-lastStats.Records) / max(rs.Elapsed-lastStats.Elapsed, time.Millisecond).Seconds()
		lastStats = rs
		fmt.Fprintf(stdout, "  %5.0fs  published %8d (%6.0f ev/s)  consumed %8d  rows written %8d  dead letters %5d  lag %6d\n",
			rs.Elapsed.Seconds(), rs.Acked, inRate, consumed, rows, dlq, groupLag(ctx, adm, cfg.Kafka.Group))
	}
	_, runErr := loadgen.Run(ctx, pub, gen, loadgen.RunOptions{Rate: *rate, Duration: *duration, Progress: progress, ProgressEvery: 2 * time.Second})
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		_ = waitInstances()
		return runErr
	}
	truth := gen.Truth()
	published := truth.PaymentCounts.Records + truth.ShipmentCounts.Records

	// 5. Let the group catch up (unless interrupted), then shut it down gracefully:
	// drain, flush, commit, leave.
	if ctx.Err() == nil {
		step("published %d events in %s; waiting for Sluice to catch up", published, time.Since(start).Round(time.Second))
		tick := time.NewTicker(100 * time.Millisecond)
		for ctx.Err() == nil {
			var consumed int64
			for _, in := range insts {
				consumed += in.Stats().Records.Load()
			}
			if consumed >= published {
				break
			}
			<-tick.C
		}
		tick.Stop()
	}
	step("stopping Sluice (drain, flush, commit, leave)")
	if err := waitInstances(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		step("interrupted: the data so far is in %s", *dataDir)
		return nil
	}

	// 6. What an analyst asks, answered from ClickHouse.
	conn, err := ch.Open(&ch.Options{Addr: []string{srv.Addr()}})
	if err != nil {
		return err
	}
	defer conn.Close()
	qctx := context.WithoutCancel(ctx)
	db := cfg.ClickHouse.Database
	if err := answers(qctx, stdout, conn, db, cfg); err != nil {
		return err
	}
	stored, err := verify.Read(qctx, conn, db, cfg.Pipeline.Window, cfg.Kafka.PaymentsTopic, cfg.Kafka.ShipmentsTopic)
	if err != nil {
		return err
	}
	var dl int64
	for _, in := range insts {
		dl += in.Stats().Invalid.Load()
	}
	diff := stored.Diff(truth, 10, cfg.Pipeline.RawPayments, cfg.Pipeline.RawShipments)
	fmt.Fprintln(stdout)
	if len(diff) == 0 {
		step("exact: ClickHouse holds %d payments and %d shipments in %d rollup rows, equal to the ground truth of what was published; %d invalid records went to %s, %d producer duplicates were dropped",
			truth.PaymentCounts.Valid, truth.ShipmentCounts.Valid, len(truth.Payments)+len(truth.Shipments), dl, cfg.Kafka.DLQTopic,
			truth.PaymentCounts.Duplicates+truth.ShipmentCounts.Duplicates)
	} else {
		step("MISMATCH with the ground truth:\n  %s", strings.Join(diff, "\n  "))
	}
	fmt.Fprintf(stdout, `
Query it yourself: the data stays in %s. Start the server on it with
    go run ./cmd/sluice dev clickhouse --data %s
then, from another terminal:
    curl 'http://127.0.0.1:8123/' --data-binary "SELECT merchant_id, sum(amount_minor_sum)/100 AS captured FROM %s.payments_1m_merged WHERE event_type = 'payment.captured' GROUP BY merchant_id ORDER BY captured DESC LIMIT 10"
`, *dataDir, *dataDir, db)
	if len(diff) > 0 {
		return errors.New("stored totals differ from the ground truth")
	}
	return nil
}

func groupLag(ctx context.Context, adm *kadm.Client, group string) int64 {
	lags, err := adm.Lag(ctx, group)
	if err != nil {
		return -1
	}
	l, ok := lags[group]
	if !ok || l.FetchErr != nil {
		return -1
	}
	return l.Lag.Total()
}

// answers prints what an analyst asks first, straight from the rollups.
func answers(ctx context.Context, w io.Writer, conn ch.Conn, db string, cfg config.Config) error {
	pay := fmt.Sprintf("`%s`.`%s`", db, schemas.RollupTable("payments", cfg.Pipeline.Window))
	shp := fmt.Sprintf("`%s`.`%s`", db, schemas.RollupTable("shipments", cfg.Pipeline.Window))
	queries := []struct{ title, sql string }{
		{"Top merchants by captured amount (INR)", "SELECT merchant_id, formatReadableQuantity(sum(amount_minor_sum) / 100) AS captured_inr, sum(events) AS payments FROM " + pay +
			" WHERE event_type = 'payment.captured' AND currency = 'INR' GROUP BY merchant_id ORDER BY sum(amount_minor_sum) DESC LIMIT 5"},
		{"Failure rate by payment method", "SELECT method, sumIf(events, event_type = 'payment.failed') AS failed, sumIf(events, event_type IN ('payment.captured', 'payment.failed')) AS settled, " +
			"concat(toString(round(100 * failed / greatest(settled, 1), 2)), '%') AS failure_rate FROM " + pay + " GROUP BY method ORDER BY failed / greatest(settled, 1) DESC"},
		{"Captured volume by currency", "SELECT currency, sum(events) AS captures, formatReadableQuantity(sum(amount_minor_sum) / 100) AS amount FROM " + pay +
			" WHERE event_type = 'payment.captured' GROUP BY currency ORDER BY captures DESC"},
		{"Busiest hubs (scans)", "SELECT hub_id, sum(events) AS scans, sumIf(events, event_type = 'shipment.exception') AS exceptions FROM " + shp + " GROUP BY hub_id ORDER BY scans DESC LIMIT 5"},
		{"Deliveries per carrier", "SELECT carrier, sumIf(events, event_type = 'shipment.delivered') AS delivered, round(sum(weight_grams_sum) / 1e6, 1) AS weight_tonnes FROM " + shp +
			" GROUP BY carrier ORDER BY delivered DESC"},
	}
	for _, q := range queries {
		fmt.Fprintf(w, "\n%s\n", q.title)
		rows, err := conn.Query(ctx, q.sql)
		if err != nil {
			return fmt.Errorf("%s: %w", q.title, err)
		}
		cols := rows.Columns()
		types := rows.ColumnTypes()
		table := [][]string{cols}
		for rows.Next() {
			ptrs := make([]any, len(cols))
			for i, ct := range types {
				ptrs[i] = reflect.New(ct.ScanType()).Interface()
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return err
			}
			line := make([]string, len(cols))
			for i, p := range ptrs {
				line[i] = fmt.Sprint(reflect.ValueOf(p).Elem().Interface())
			}
			table = append(table, line)
		}
		rows.Close()
		printTable(w, table)
	}
	return nil
}

func printTable(w io.Writer, rows [][]string) {
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		b.WriteString("  ")
		for i, c := range r {
			fmt.Fprintf(&b, "%-*s  ", width[i], c)
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}
