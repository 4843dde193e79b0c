//go:build !nodev

package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/dev/chlocal"
)

var devDoc = doc{
	name:     "dev",
	synopsis: "clickhouse|kafka [flags]",
	brief:    "run the embedded ClickHouse (dev clickhouse) or Kafka (dev kafka) alone",
	about:    "Runs one service of the local stack in the foreground until Ctrl-C",
}

var devClickHouseDoc = doc{
	name:  "dev clickhouse",
	brief: "a real ClickHouse 26.7 server (chDB engine, fetched once with npm)",
	about: `Runs the embedded ClickHouse server on 127.0.0.1 in the foreground until
Ctrl-C, with its data kept in --data across runs. The engine (chDB's
libchdb.so) is fetched once with npm into SLUICE_CACHE_DIR. It restarts at once
if a client's crash aborts it.`,
}

var devKafkaDoc = doc{
	name:  "dev kafka",
	brief: "an in-memory Kafka-protocol broker (franz-go kfake)",
	about: `Runs an in-memory Kafka-protocol broker (franz-go's kfake) on 127.0.0.1 in the
foreground until Ctrl-C, with --topics created. The data is lost when it stops.`,
}

// devServices are the subcommands of `sluice dev`.
var devServices = []command{{devClickHouseDoc, devClickHouse}, {devKafkaDoc, devKafka}}

// devCommand is `sluice dev`: it runs the local ClickHouse or Kafka alone,
// in the foreground, until ctx is cancelled (Ctrl-C). args are the arguments
// after "dev".
func devCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runGroup(ctx, devDoc, "service", devServices, args, stdout, stderr)
}

// devClickHouse is `sluice dev clickhouse`.
func devClickHouse(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	dev := config.DevFromEnv()
	fs := newFlags(devClickHouseDoc, stdout)
	dataDir := fs.String("data", filepath.Join(cmp.Or(dev.CacheDir, chlocal.DefaultCacheDir()), "dev-clickhouse"), "data directory (kept across runs)")
	tcpPort := fs.Int("tcp-port", 9000, "native-protocol port on 127.0.0.1 (0 picks a free one)")
	httpPort := fs.Int("http-port", 8123, "HTTP port on 127.0.0.1 (0 picks a free one)")
	if err := fs.parse(args); err != nil {
		return err
	}

	srv, err := chlocal.Start(ctx, chlocal.Options{
		DataDir:  *dataDir,
		CacheDir: dev.CacheDir,
		TCPPort:  *tcpPort,
		HTTPPort: *httpPort,
		Log:      stdout,
		// The engine aborts when some client connections reset mid-query;
		// a dev server should outlive a crashed client.
		RestartOnCrash: true,
	})
	if err != nil {
		return err
	}
	_, nativePort, _ := net.SplitHostPort(srv.Addr())
	fmt.Fprintf(stdout, `ClickHouse is serving (data in %s, its log in %s)
  native  %s    export SLUICE_CLICKHOUSE_ADDR=%s
  http    http://%s
try:
  curl 'http://%s/?query=SELECT+version()'
  clickhouse-client --host 127.0.0.1 --port %s
Ctrl-C to stop.
`, srv.DataDir(), srv.LogPath(), srv.Addr(), srv.Addr(), srv.HTTPAddr(), srv.HTTPAddr(), nativePort)

	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping ClickHouse …")
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Stop(stopCtx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ClickHouse stopped")
	return nil
}

// devKafka is `sluice dev kafka`.
func devKafka(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags(devKafkaDoc, stdout)
	port := fs.Int("port", 9092, "broker port on 127.0.0.1 (0 picks a free one)")
	partitions := fs.Int("partitions", 8, "partitions per topic")
	topics := fs.String("topics", "payments,shipments,sluice.dlq", "comma-separated topics to create")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *partitions < 1 {
		return fs.bad("--partitions must be at least 1")
	}
	names := splitList(*topics)

	opts := []kfake.Opt{kfake.Ports(*port)}
	if len(names) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(*partitions), names...))
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("start kfake on 127.0.0.1:%d: %w", *port, err)
	}
	defer cluster.Close()
	brokers := strings.Join(cluster.ListenAddrs(), ",")
	fmt.Fprintf(stdout, `Kafka (kfake, in memory) is serving
  brokers %s    export SLUICE_KAFKA_BROKERS=%s
  topics  %s (%d partitions each)
try:
  kcat -b %s -L
Ctrl-C to stop (the data is lost).
`, brokers, brokers, strings.Join(names, ", "), *partitions, brokers)

	<-ctx.Done()
	fmt.Fprintln(stdout, "Kafka stopped")
	return nil
}
