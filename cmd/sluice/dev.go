package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicehq/sluice/internal/dev/chlocal"
)

// devCommand is `sluice dev`: it runs the local ClickHouse or Kafka alone,
// in the foreground, until ctx is cancelled (Ctrl-C). args are the arguments
// after "dev".
func devCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		devUsage(stdout)
		return nil
	}
	switch args[0] {
	case "clickhouse":
		return devClickHouse(ctx, args[1:], stdout, stderr)
	case "kafka":
		return devKafka(ctx, args[1:], stdout, stderr)
	}
	devUsage(stderr)
	return fmt.Errorf("unknown dev command %q", args[0])
}

func devUsage(w io.Writer) {
	fmt.Fprint(w, `usage: sluice dev <service> [flags]

services (each runs in the foreground until Ctrl-C):
  clickhouse  a real ClickHouse 26.7 server (chDB engine, fetched once with npm)
  kafka       an in-memory Kafka-protocol broker (franz-go kfake)

Run "sluice dev <service> -h" for its flags.
`)
}

// devClickHouse is `sluice dev clickhouse`.
func devClickHouse(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev clickhouse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", filepath.Join(chlocal.DefaultCacheDir(), "dev-clickhouse"), "data directory (kept across runs)")
	tcpPort := fs.Int("tcp-port", 9000, "native-protocol port on 127.0.0.1 (0 picks a free one)")
	httpPort := fs.Int("http-port", 8123, "HTTP port on 127.0.0.1 (0 picks a free one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("dev clickhouse takes no arguments, got %q", fs.Args())
	}

	srv, err := chlocal.Start(ctx, chlocal.Options{
		DataDir:  *dataDir,
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
	fs := flag.NewFlagSet("dev kafka", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 9092, "broker port on 127.0.0.1 (0 picks a free one)")
	partitions := fs.Int("partitions", 8, "partitions per topic")
	topics := fs.String("topics", "payments,shipments,sluice.dlq", "comma-separated topics to create")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("dev kafka takes no arguments, got %q", fs.Args())
	}
	if *partitions < 1 {
		return errors.New("--partitions must be at least 1")
	}
	var names []string
	for _, t := range strings.Split(*topics, ",") {
		if t = strings.TrimSpace(t); t != "" {
			names = append(names, t)
		}
	}

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
