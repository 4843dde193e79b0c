package config

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Validate checks every bound and cross-field rule and returns all problems joined
// with errors.Join (nil if there are none). Each problem names the variable, its
// value (secrets redacted) and the fix, e.g. "SLUICE_BATCH_MAX_ROWS=0: must be ≥ 1".
func (c Config) Validate() error {
	return errors.Join(c.problems()...)
}

// Variable names used by Validate's messages. TestValidateNamesKnownVariables checks
// each against Variables().
const (
	varBrokers        = Prefix + "KAFKA_BROKERS"
	varGroup          = Prefix + "KAFKA_GROUP"
	varStart          = Prefix + "KAFKA_START"
	varPaymentsTopic  = Prefix + "TOPIC_PAYMENTS"
	varShipmentsTopic = Prefix + "TOPIC_SHIPMENTS"
	varDLQTopic       = Prefix + "DLQ_TOPIC"
	varDLQPartitions  = Prefix + "DLQ_PARTITIONS"
	varDLQReplication = Prefix + "DLQ_REPLICATION_FACTOR"
	varCHAddr         = Prefix + "CLICKHOUSE_ADDR"
	varCHDatabase     = Prefix + "CLICKHOUSE_DATABASE"
	varCHUser         = Prefix + "CLICKHOUSE_USER"
	varCHDedupWindow  = Prefix + "CLICKHOUSE_DEDUP_WINDOW"
	varCHCluster      = Prefix + "CLICKHOUSE_CLUSTER"
	varWindow         = Prefix + "WINDOW"
	varFlushInterval  = Prefix + "FLUSH_INTERVAL"
	varBatchMaxRows   = Prefix + "BATCH_MAX_ROWS"
	varBatchMaxBytes  = Prefix + "BATCH_MAX_BYTES"
	varDedupHorizon   = Prefix + "DEDUP_HORIZON"
	varWorkers        = Prefix + "WORKERS"
	varMaxRecord      = Prefix + "MAX_RECORD_BYTES"
	varMaxString      = Prefix + "MAX_STRING_BYTES"
	varMaxMetadata    = Prefix + "MAX_METADATA_ENTRIES"
	varHTTPAddr       = Prefix + "HTTP_ADDR"
	varLogFormat      = Prefix + "LOG_FORMAT"
	varShutdown       = Prefix + "SHUTDOWN_TIMEOUT"
	varSession        = Prefix + "KAFKA_SESSION_TIMEOUT"
	varMaxLateness    = Prefix + "MAX_LATENESS"
	varMaxClockSkew   = Prefix + "MAX_CLOCK_SKEW"
	varRebalance      = Prefix + "KAFKA_REBALANCE_TIMEOUT"
	varFetchPartition = Prefix + "KAFKA_FETCH_MAX_PARTITION_BYTES"
	varMemoryLimit    = Prefix + "MEMORY_LIMIT"
)

// checker collects problems in the order they are found.
type checker struct{ errs []error }

// fail records "name=value: problem"; value is formatted as in the environment.
func (ch *checker) fail(name string, value any, format string, args ...any) {
	ch.errs = append(ch.errs, &VarError{
		Var:     name,
		Value:   quoteIfNeeded(formatValue(value)),
		Problem: fmt.Sprintf(format, args...),
	})
}

func (ch *checker) atLeast(name string, v, lowest int) {
	if v < lowest {
		ch.fail(name, v, "must be ≥ %d", lowest)
	}
}

func (ch *checker) positive(name string, d time.Duration) {
	if d <= 0 {
		ch.fail(name, d, "must be > 0 (e.g. 1s)")
	}
}

func (ch *checker) addrs(name string, addrs []string, example string) {
	if len(addrs) == 0 {
		ch.fail(name, addrs, "list at least one host:port, comma-separated (e.g. %s)", example)
		return
	}
	for _, a := range addrs {
		if err := checkHostPort(a, false); err != nil {
			ch.fail(name, addrs, "%q %v (e.g. %s)", a, err, example)
		}
	}
}

func (ch *checker) topic(name, topic string) {
	if problem := checkTopic(topic); problem != "" {
		ch.fail(name, topic, "%s", problem)
	}
}

func (c Config) problems() []error {
	var ch checker

	k := c.Kafka
	ch.addrs(varBrokers, k.Brokers, "localhost:9092")
	if k.Group == "" {
		ch.fail(varGroup, k.Group, "must name the consumer group (e.g. sluice)")
	}
	if k.Start != StartEarliest && k.Start != StartLatest {
		ch.fail(varStart, k.Start, "must be %s or %s", StartEarliest, StartLatest)
	}
	switch {
	case k.PaymentsTopic == "" && k.ShipmentsTopic == "":
		ch.errs = append(ch.errs, fmt.Errorf(`%s="" and %s="": both pipelines are off; set at least one topic (e.g. %[1]s=payments)`,
			varPaymentsTopic, varShipmentsTopic))
	case k.PaymentsTopic == k.ShipmentsTopic:
		ch.fail(varShipmentsTopic, k.ShipmentsTopic, "must differ from %s", varPaymentsTopic)
	}
	if k.PaymentsTopic != "" {
		ch.topic(varPaymentsTopic, k.PaymentsTopic)
	}
	if k.ShipmentsTopic != "" {
		ch.topic(varShipmentsTopic, k.ShipmentsTopic)
	}
	if k.DLQTopic == "" {
		ch.fail(varDLQTopic, k.DLQTopic, "must name the dead-letter topic (e.g. sluice.dlq)")
	} else {
		ch.topic(varDLQTopic, k.DLQTopic)
	}
	ch.atLeast(varDLQPartitions, k.DLQPartitions, 1)
	if k.DLQReplicationFactor == 0 || k.DLQReplicationFactor < -1 {
		ch.fail(varDLQReplication, k.DLQReplicationFactor, "must be ≥ 1, or -1 for the broker's default.replication.factor")
	}
	for _, src := range []struct{ name, topic string }{
		{varPaymentsTopic, k.PaymentsTopic}, {varShipmentsTopic, k.ShipmentsTopic},
	} {
		if k.DLQTopic != "" && k.DLQTopic == src.topic {
			ch.fail(varDLQTopic, k.DLQTopic, "must differ from %s, or dead letters are consumed again (e.g. sluice.dlq)", src.name)
		}
	}

	h := c.ClickHouse
	ch.addrs(varCHAddr, h.Addrs, "localhost:9000")
	if !identifier.MatchString(h.Database) {
		ch.fail(varCHDatabase, h.Database, "must be an identifier: a letter or _, then letters, digits or _ (e.g. sluice)")
	}
	if h.User == "" {
		ch.fail(varCHUser, h.User, "must name the ClickHouse user (e.g. default)")
	}
	if h.DedupWindow < 1 {
		ch.fail(varCHDedupWindow, h.DedupWindow, "must be ≥ 1: ClickHouse takes 0 as no insert deduplication, and replays would be stored twice (the default is %s)", defaultOf(varCHDedupWindow))
	}
	if h.Cluster != "" && !identifier.MatchString(h.Cluster) {
		ch.fail(varCHCluster, h.Cluster, "must be empty or an identifier naming a remote_servers cluster: a letter or _, then letters, digits or _ (e.g. sluice)")
	}

	p := c.Pipeline
	switch {
	case p.Window < time.Second:
		ch.fail(varWindow, p.Window, "must be ≥ 1s (e.g. 1m)")
	case p.Window%time.Second != 0 || (24*time.Hour)%p.Window != 0:
		ch.fail(varWindow, p.Window, "must be whole seconds dividing 24h evenly (e.g. 30s, 1m, 5m, 1h)")
	}
	ch.positive(varFlushInterval, p.FlushInterval)
	ch.atLeast(varBatchMaxRows, p.BatchMaxRows, 1)
	switch {
	case p.BatchMaxBytes < 1:
		ch.fail(varBatchMaxBytes, p.BatchMaxBytes, "must be ≥ 1 (e.g. 64MiB)")
	case p.MaxRecordBytes >= 1 && p.BatchMaxBytes < ByteSize(p.MaxRecordBytes):
		ch.fail(varBatchMaxBytes, p.BatchMaxBytes, "must be ≥ %s=%d so that one record fits in a batch", varMaxRecord, p.MaxRecordBytes)
	}
	if p.DedupHorizon < 0 {
		ch.fail(varDedupHorizon, p.DedupHorizon, "must be ≥ 0 (0 switches duplicate filtering off; e.g. 24h)")
	}
	if p.Workers < 0 {
		ch.fail(varWorkers, p.Workers, "must be ≥ 0 (0 = GOMAXPROCS)")
	}
	ch.atLeast(varMaxRecord, p.MaxRecordBytes, 1)
	switch {
	case p.MaxStringBytes < 1:
		ch.fail(varMaxString, p.MaxStringBytes, "must be ≥ 1")
	case p.MaxRecordBytes >= 1 && p.MaxStringBytes > p.MaxRecordBytes:
		ch.fail(varMaxString, p.MaxStringBytes, "must be ≤ %s=%d", varMaxRecord, p.MaxRecordBytes)
	}
	ch.atLeast(varMaxMetadata, p.MaxMetadataEntries, 1)

	if c.HTTP.Addr == "" {
		// Empty switches the admin listener off.
	} else if err := checkHostPort(c.HTTP.Addr, true); err != nil {
		ch.fail(varHTTPAddr, c.HTTP.Addr, "%v (e.g. 127.0.0.1:8080 or :8080)", err)
	}
	if c.Log.Format != FormatText && c.Log.Format != FormatJSON {
		ch.fail(varLogFormat, c.Log.Format, "must be %s or %s", FormatText, FormatJSON)
	}
	ch.positive(varShutdown, c.ShutdownTimeout)
	if c.MemoryLimit != MemoryAuto && c.MemoryLimit < MinMemoryLimit {
		ch.fail(varMemoryLimit, c.MemoryLimit, "must be ≥ %s or auto (75%% of the container's memory limit, else 256MiB)", ByteSize(MinMemoryLimit))
	}
	if !c.Pipeline.Rollups {
		if c.Kafka.PaymentsTopic != "" && !c.Pipeline.RawPayments {
			ch.fail(Prefix+"ROLLUPS", false, "with SLUICE_RAW_PAYMENTS=false the payments pipeline would store nothing; turn one of them on or set SLUICE_TOPIC_PAYMENTS empty")
		}
		if c.Kafka.ShipmentsTopic != "" && !c.Pipeline.RawShipments {
			ch.fail(Prefix+"ROLLUPS", false, "with SLUICE_RAW_SHIPMENTS=false the shipments pipeline would store nothing; turn one of them on or set SLUICE_TOPIC_SHIPMENTS empty")
		}
	}
	if c.Pipeline.DedupMaxIDs < 0 {
		ch.fail(Prefix+"DEDUP_MAX_IDS", c.Pipeline.DedupMaxIDs, "must be ≥ 0 (0 = no cap)")
	}
	if c.Pipeline.MaxLateness < 0 {
		ch.fail(varMaxLateness, c.Pipeline.MaxLateness, "must be ≥ 0 (0 = no limit)")
	}
	if c.Pipeline.MaxClockSkew < 0 {
		ch.fail(varMaxClockSkew, c.Pipeline.MaxClockSkew, "must be ≥ 0 (0 = no limit)")
	}
	if c.Kafka.SessionTimeout < time.Second {
		ch.fail(varSession, c.Kafka.SessionTimeout, "must be at least 1s (brokers usually require 6s or more)")
	}
	if c.Kafka.FetchMaxPartitionBytes < 1024 || c.Kafka.FetchMaxPartitionBytes > 1<<30 {
		ch.fail(varFetchPartition, c.Kafka.FetchMaxPartitionBytes, "must be between 1KiB and 1GiB")
	}
	if c.Kafka.FetchMaxWait < 10*time.Millisecond || c.Kafka.FetchMaxWait > time.Minute {
		ch.fail(Prefix+"KAFKA_FETCH_MAX_WAIT", c.Kafka.FetchMaxWait, "must be between 10ms and 1m (e.g. 250ms)")
	}
	if c.Kafka.HeartbeatInterval <= 0 || c.Kafka.HeartbeatInterval*3 > c.Kafka.SessionTimeout {
		ch.fail(Prefix+"KAFKA_HEARTBEAT_INTERVAL", c.Kafka.HeartbeatInterval, "must be positive and at most a third of SLUICE_KAFKA_SESSION_TIMEOUT (%s)", c.Kafka.SessionTimeout)
	}
	if c.Kafka.CommitInterval < 10*time.Millisecond {
		ch.fail(Prefix+"KAFKA_COMMIT_INTERVAL", c.Kafka.CommitInterval, "must be at least 10ms")
	}
	if c.Kafka.QueueDepth < 1 || c.Kafka.QueueDepth > 1024 {
		ch.fail(Prefix+"KAFKA_QUEUE_DEPTH", c.Kafka.QueueDepth, "must be between 1 and 1024")
	}
	if c.Kafka.RebalanceTimeout < time.Second {
		ch.fail(varRebalance, c.Kafka.RebalanceTimeout, "must be at least 1s")
	}
	c.securityProblems(&ch)
	c.Pipeline.schemaDirProblems(&ch)
	return ch.errs
}

// identifier is an unquoted ClickHouse identifier.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// checkTopic returns why name is not a legal Kafka topic name, or "".
func checkTopic(name string) string {
	switch {
	case name == "." || name == "..":
		return `must not be "." or ".."`
	case len(name) > 249:
		return "must be at most 249 characters"
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Sprintf("%q is not allowed in a Kafka topic name; use letters, digits, '.', '_' or '-'", r)
		}
	}
	return ""
}

// checkHostPort reports whether s is host:port with a numeric port. With
// listen, the host may be empty (all interfaces) and port 0 (any free port).
func checkHostPort(s string, listen bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("is not host:port")
	}
	if host == "" && !listen {
		return errors.New("has no host")
	}
	if strings.TrimSpace(host) != host {
		return errors.New("has spaces around the host")
	}
	n, err := strconv.Atoi(port)
	lowest := 1
	if listen {
		lowest = 0
	}
	if err != nil || n < lowest || n > 65535 {
		return fmt.Errorf("has no valid port (%d-65535)", lowest)
	}
	return nil
}
