package config

import (
	"log/slog"
	"time"
)

// Prefix is the prefix of every environment variable Sluice reads.
const Prefix = "SLUICE_"

// Config is Sluice's whole configuration. It is parsed once in main (FromEnv or
// Load) and its sub-structs are passed down by value to the component they concern.
//
// Every leaf field carries its variable name (env, without Prefix), its default
// (envDefault), its meaning (desc) and, for secrets, secret:"true"; Describe, String
// and LogValue are generated from those tags by reflection, so the struct is the only
// list of variables. An explicitly empty variable takes the default, except where a
// field is tagged allowEmpty:"true" (an empty topic switches its pipeline off).
type Config struct {
	// Kafka goes to the consumer group and the dead-letter producer.
	Kafka Kafka
	// ClickHouse goes to the sink and the migrations.
	ClickHouse ClickHouse
	// Pipeline goes to the stages: decoding limits, windows, batching.
	Pipeline Pipeline
	// HTTP goes to the metrics and health listener.
	HTTP HTTP
	// Log goes to the logger built in main.
	Log Log

	// ShutdownTimeout bounds the graceful shutdown of `sluice run`.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"30s" desc:"how long run may take to drain, flush and commit after SIGTERM before it exits anyway"`

	// MemoryLimit is the process's one memory budget: fetch queues, batches and the
	// duplicate filters are sized from it, shared among the owned partitions, and
	// the Go soft memory limit is 87% of it unless GOMEMLIMIT is set.
	MemoryLimit MemoryLimit `env:"MEMORY_LIMIT" envDefault:"auto" desc:"the process's memory budget, e.g. 1GiB: fetched records, batches and the producer-duplicate filters are sized from it and shared among the owned partitions (partitions pause and batches flush early at their share), and the Go soft memory limit is 87% of it unless GOMEMLIMIT is set; auto = 75% of the container's cgroup memory limit, else 256MiB; at least 64MiB"`

	// Dev goes to the development tooling (demo, dev, bench, the test stack), not
	// to `sluice run`.
	Dev Dev

	// emptyDefaulted are the variables set empty that took their default, which
	// Describe says: an empty SLUICE_KAFKA_BROKERS is not "no brokers".
	emptyDefaulted []string
	// Tracing is read from the standard OTEL_* variables (tracing.go).
	Tracing Tracing
}

// Kafka is the consumer side: brokers, group and topics.
type Kafka struct {
	// Brokers are the seed brokers, host:port each.
	Brokers []string `env:"KAFKA_BROKERS" envDefault:"localhost:9092" desc:"Kafka seed brokers, comma-separated host:port"`
	// Group is the consumer group id shared by every instance.
	Group string `env:"KAFKA_GROUP" envDefault:"sluice" desc:"Kafka consumer group id, shared by all instances"`
	// InstanceID makes the instance a static group member (KIP-345).
	InstanceID string `env:"KAFKA_INSTANCE_ID" allowEmpty:"true" desc:"static group membership: a stable id unique per instance (e.g. a StatefulSet pod name); a restart within the session timeout takes its partitions back without a rebalance. Empty: dynamic membership"`
	// Start is where a group without committed offsets starts.
	Start StartOffset `env:"KAFKA_START" envDefault:"earliest" desc:"where a new consumer group starts: earliest or latest"`
	// PaymentsTopic is the payments source topic; empty switches that pipeline off.
	PaymentsTopic string `env:"TOPIC_PAYMENTS" envDefault:"payments" allowEmpty:"true" desc:"payments source topic; set it empty to switch the payments pipeline off"`
	// ShipmentsTopic is the shipments source topic; empty switches that pipeline off.
	ShipmentsTopic string `env:"TOPIC_SHIPMENTS" envDefault:"shipments" allowEmpty:"true" desc:"shipments source topic; set it empty to switch the shipments pipeline off"`
	// SessionTimeout is how long the group waits for a silent member (crashed,
	// partitioned) before its partitions move to the others.
	SessionTimeout time.Duration `env:"KAFKA_SESSION_TIMEOUT" envDefault:"45s" desc:"how long the group waits for a silent (crashed) member before moving its partitions"`
	// HeartbeatInterval is how often a member heartbeats; a rebalance is noticed at
	// the next heartbeat, so it bounds how long partitions wait to move.
	HeartbeatInterval time.Duration `env:"KAFKA_HEARTBEAT_INTERVAL" envDefault:"1s" desc:"group heartbeat interval; members notice a rebalance at their next heartbeat (must be below a third of the session timeout)"`
	// RebalanceTimeout bounds how long members may take to flush and commit revoked
	// partitions during a rebalance.
	RebalanceTimeout time.Duration `env:"KAFKA_REBALANCE_TIMEOUT" envDefault:"60s" desc:"how long a rebalance waits for members to flush and commit revoked partitions"`
	// FetchMaxPartitionBytes caps one fetch of one partition in bytes as fetched;
	// the memory budget sizes fetches by the memory their records take decoded,
	// which is usually less. A compressed fetch of JSON events takes about six
	// times its size once decoded and counted (values, records, their
	// bookkeeping), so the default is a quarter of Kafka's usual 1MiB: two fetches
	// of each of 8 partitions then fit in the fetch share at 256MiB.
	FetchMaxPartitionBytes ByteSize `env:"KAFKA_FETCH_MAX_PARTITION_BYTES" envDefault:"256KiB" desc:"largest fetch of one partition in bytes as fetched (a broker still returns one record batch that is larger); Sluice asks for less when two fetches of every source partition, decoded, would not fit in the fetch share of SLUICE_MEMORY_LIMIT; with SLUICE_KAFKA_QUEUE_DEPTH it bounds the fetched records a partition holds (see there)"`
	// FetchMaxWait is how long the broker may hold a fetch that found too little
	// data. A partition resumed after a pause is fetched again only with the next
	// request; partitions that have caught up pause beside the busy ones so that
	// no request the broker holds is in the way, for at most 4 of these.
	FetchMaxWait time.Duration `env:"KAFKA_FETCH_MAX_WAIT" envDefault:"250ms" desc:"longest a broker holds a fetch that found too little data; partitions that have caught up stop fetching while every busy one is paused behind its worker, so that a busy one resumed is fetched at once, and fetch again within 4 of these at the latest"`
	// CommitInterval is how often marked offsets are committed to Kafka.
	CommitInterval time.Duration `env:"KAFKA_COMMIT_INTERVAL" envDefault:"1s" desc:"how often stored offsets are committed to Kafka (exactness does not depend on it; it bounds how much a restart replays); a drained backlog is committed at once"`
	// QueueDepth is how many fetches may wait for one partition's worker before
	// fetching that partition pauses; its desc is where the memory bound of a
	// partition's fetched records is stated.
	QueueDepth int `env:"KAFKA_QUEUE_DEPTH" envDefault:"4" desc:"fetches that may wait for a partition's worker before its fetching pauses (1-1024); it also pauses once its records reach the partition's fetch share of SLUICE_MEMORY_LIMIT. A partition then holds (queued, waiting for the worker and being decoded) at most the smaller of that share + 1 fetch (2 fetches when the share is smaller) and depth + 3 fetches; the Kafka client buffers one more response per broker; the bound is on the memory the records take decoded, whatever their compression"`
	// DLQTopic receives records that cannot be decoded or fail validation.
	DLQTopic string `env:"DLQ_TOPIC" envDefault:"sluice.dlq" desc:"dead-letter topic for records that fail decoding or validation; created at start when missing (needs CREATE on it or the cluster, and WRITE and DESCRIBE on it)"`
	// DLQPartitions and DLQReplicationFactor shape the dead-letter topic when start-up
	// creates it; an existing topic is left as it is.
	DLQPartitions int `env:"DLQ_PARTITIONS" envDefault:"1" desc:"partitions of the dead-letter topic when start-up creates it (an existing topic is left as it is)"`
	// DLQReplicationFactor is the replication of a created dead-letter topic; -1
	// takes the broker's default.replication.factor.
	DLQReplicationFactor int `env:"DLQ_REPLICATION_FACTOR" envDefault:"-1" desc:"replication factor of the dead-letter topic when start-up creates it; -1 = the broker's default.replication.factor"`

	// TLS encrypts every Kafka connection (consumer, dead letters, publishers).
	TLS bool `env:"KAFKA_TLS" envDefault:"false" desc:"connect to Kafka over TLS"`
	// TLSCAFile is a PEM bundle of the CAs that sign the brokers' certificates.
	TLSCAFile string `env:"KAFKA_TLS_CA_FILE" desc:"PEM CA bundle to verify the Kafka brokers with; empty = system CAs (needs SLUICE_KAFKA_TLS=true)"`
	// TLSCertFile and TLSKeyFile are a PEM client certificate and key (mutual TLS).
	TLSCertFile string `env:"KAFKA_TLS_CERT_FILE" desc:"PEM client certificate for mutual TLS with Kafka (with SLUICE_KAFKA_TLS_KEY_FILE)"`
	// TLSKeyFile is the private key of TLSCertFile.
	TLSKeyFile string `env:"KAFKA_TLS_KEY_FILE" desc:"PEM private key of SLUICE_KAFKA_TLS_CERT_FILE"`
	// TLSServerName overrides the name the brokers' certificates are verified against.
	TLSServerName string `env:"KAFKA_TLS_SERVER_NAME" desc:"name to verify the brokers' certificates against; empty = the broker's host"`
	// SASLMechanism selects SASL authentication.
	SASLMechanism SASLMechanism `env:"KAFKA_SASL_MECHANISM" envDefault:"none" desc:"Kafka SASL mechanism: none, plain, scram-sha-256 or scram-sha-512 (plain sends the password as is: use it with SLUICE_KAFKA_TLS=true)"`
	// SASLUser is the SASL user name.
	SASLUser string `env:"KAFKA_SASL_USER" desc:"Kafka SASL user (needs SLUICE_KAFKA_SASL_MECHANISM)"`
	// SASLPassword is the SASL password; use SASLPassword.Reveal() to pass it on.
	SASLPassword Secret `env:"KAFKA_SASL_PASSWORD" secret:"true" desc:"Kafka SASL password (secret: never printed)"`
}

// Topics returns the enabled source topics (payments first), skipping empty ones.
func (k Kafka) Topics() []string {
	var ts []string
	for _, t := range []string{k.PaymentsTopic, k.ShipmentsTopic} {
		if t != "" {
			ts = append(ts, t)
		}
	}
	return ts
}

// ClickHouse is the sink side: where rollups and raw rows are written.
type ClickHouse struct {
	// Addrs lists the servers' native-protocol addresses, host:port each.
	Addrs []string `env:"CLICKHOUSE_ADDR" envDefault:"localhost:9000" desc:"ClickHouse native-protocol addresses, comma-separated host:port"`
	// Database holds Sluice's tables; it is created by the migrations.
	Database string `env:"CLICKHOUSE_DATABASE" envDefault:"sluice" desc:"ClickHouse database for Sluice's tables"`
	// User is the ClickHouse user.
	User string `env:"CLICKHOUSE_USER" envDefault:"default" desc:"ClickHouse user"`
	// Password is the ClickHouse password; use Password.Reveal() to pass it on.
	Password Secret `env:"CLICKHOUSE_PASSWORD" secret:"true" desc:"ClickHouse password (secret: never printed)"`
	// DedupWindow is the tables' non_replicated_deduplication_window (and
	// replicated_deduplication_window): how many recent insert blocks are remembered
	// so that a retried insert with the same token is stored once. Validate refuses
	// 0, which would switch that deduplication off.
	DedupWindow int `env:"CLICKHOUSE_DEDUP_WINDOW" envDefault:"10000" desc:"insert blocks each table remembers so that a replayed batch is stored once (ClickHouse's non_replicated_deduplication_window, on a cluster replicated_deduplication_window); it must exceed a table's inserts between a flush and its replay; ≥ 1"`
	// Cluster names the ClickHouse cluster (remote_servers) to shard and replicate
	// over; empty means a single server. See README, "Scaling".
	Cluster string `env:"CLICKHOUSE_CLUSTER" desc:"ClickHouse cluster (remote_servers name): migrations create replicated <table>_local tables ON CLUSTER behind Distributed tables; empty = one server"`
	// Compress sends inserts LZ4-compressed.
	Compress bool `env:"CLICKHOUSE_COMPRESS" envDefault:"false" desc:"send inserts LZ4-compressed: less network for a remote server, a little more CPU on both sides"`
	// Migrate makes `sluice run` apply pending migrations before consuming.
	Migrate bool `env:"MIGRATE" envDefault:"true" desc:"run applies pending ClickHouse migrations at start"`
	// Secure encrypts the ClickHouse connections with TLS (the native protocol's secure port,
	// usually 9440).
	Secure bool `env:"CLICKHOUSE_TLS" envDefault:"false" desc:"connect to ClickHouse over TLS (the secure native port, usually 9440)"`
	// CAFile is a PEM bundle of the CAs that sign the servers' certificates.
	CAFile string `env:"CLICKHOUSE_TLS_CA_FILE" desc:"PEM CA bundle to verify the ClickHouse servers with; empty = system CAs (needs SLUICE_CLICKHOUSE_TLS=true)"`
	// ServerName overrides the name the servers' certificates are verified against.
	ServerName string `env:"CLICKHOUSE_TLS_SERVER_NAME" desc:"name to verify the ClickHouse certificates against; empty = the server's host"`
	// InsecureSkipVerify accepts any server certificate: development only.
	InsecureSkipVerify bool `env:"CLICKHOUSE_TLS_INSECURE_SKIP_VERIFY" envDefault:"false" desc:"DEVELOPMENT ONLY: accept any ClickHouse certificate (open to a man in the middle)"`
}

// Pipeline bounds the stages between Kafka and ClickHouse.
type Pipeline struct {
	// Window is the tumbling rollup window on occurred_at.
	Window time.Duration `env:"WINDOW" envDefault:"1m" desc:"rollup window width; must divide 24h evenly (e.g. 30s, 1m, 5m, 1h)"`
	// FlushInterval is the longest a partially filled batch waits before it is written.
	FlushInterval time.Duration `env:"FLUSH_INTERVAL" envDefault:"1s" desc:"longest time a batch waits before it is written"`
	// BatchMaxRows flushes a batch once it holds this many rows.
	BatchMaxRows int `env:"BATCH_MAX_ROWS" envDefault:"100000" desc:"rows that make a batch flush early"`
	// BatchMaxBytes flushes a batch once its rows take about this much memory.
	BatchMaxBytes ByteSize `env:"BATCH_MAX_BYTES" envDefault:"64MiB" desc:"memory a batch's rows may take before it flushes early (a raw row takes less than its JSON record), a cap within the batch share of SLUICE_MEMORY_LIMIT; bytes or a unit (64MiB, 512KiB)"`
	// Rollups builds the windowed rollups; off, Sluice only stores raw events.
	Rollups bool `env:"ROLLUPS" envDefault:"true" desc:"build the windowed rollups; false stores raw events only (then SLUICE_RAW_* must be on)"`
	// RawPayments also stores every valid payment in the raw payments table.
	RawPayments bool `env:"RAW_PAYMENTS" envDefault:"true" desc:"also store every valid payment in the raw table, not only the rollups"`
	// RawShipments also stores every valid shipment in the raw shipments table.
	RawShipments bool `env:"RAW_SHIPMENTS" envDefault:"true" desc:"also store every valid shipment in the raw table, not only the rollups"`
	// SchemaDir is a directory of event-type documents (*.schema.json) to run
	// instead of the built-in payments and shipments; see SchemaDirOverrides.
	SchemaDir string `env:"SCHEMA_DIR" desc:"directory of *.schema.json event types to run (docs/event-types.md); empty = the built-in payments and shipments"`
	// overrides lists the per-type variables of the built-in types set in the
	// environment; they are refused with SchemaDir.
	overrides []setVar
	// DedupHorizon is how long a seen event_id is remembered to drop producer
	// duplicates; 0 switches that filter off.
	DedupHorizon time.Duration `env:"DEDUP_HORIZON" envDefault:"24h" desc:"how long an event_id is remembered to drop producer duplicates; 0 = off"`
	// DedupMaxIDs caps the event ids remembered per partition for the
	// producer-duplicate filter (about 46 bytes each).
	DedupMaxIDs int `env:"DEDUP_MAX_IDS" envDefault:"1000000" desc:"most event ids remembered per partition for producer-duplicate filtering (~46 bytes each; the effective horizon is the shorter of SLUICE_DEDUP_HORIZON, the last this-many events and the partition's share of SLUICE_MEMORY_LIMIT); 0 = no cap but the budget's"`
	// ExactlyOnce keeps the ledger and the deterministic insert tokens that make
	// replays store nothing twice; false is at-least-once, for measurement only.
	ExactlyOnce bool `env:"EXACTLY_ONCE" envDefault:"true" desc:"exactly-once effect through crashes and retries (ledger + insert dedup tokens); false = at-least-once, for measuring only"`
	// AllowReingest lets a consumer group store offsets that another group already
	// stored into the same tables (by the ledger); without it such a group refuses
	// to start.
	AllowReingest bool `env:"ALLOW_REINGEST" envDefault:"false" desc:"let this consumer group store offsets another group already stored into these tables (a deliberate re-ingest, e.g. into emptied tables); false = such a group stops at start naming the other group"`
	// Workers bounds concurrent decoding; 0 means runtime.GOMAXPROCS(0), which Load
	// resolves, so a loaded Config always holds the actual number.
	Workers int `env:"WORKERS" envDefault:"0" desc:"decode worker bound; 0 = GOMAXPROCS"`
	// MaxRecordBytes is the largest record accepted; larger ones are dead-lettered.
	MaxRecordBytes int `env:"MAX_RECORD_BYTES" envDefault:"65536" desc:"largest record in bytes; larger ones are dead-lettered"`
	// MaxStringBytes is the longest string field accepted in a record.
	MaxStringBytes int `env:"MAX_STRING_BYTES" envDefault:"1024" desc:"longest string field in bytes"`
	// MaxLateness dead-letters an event whose occurred_at is further than this
	// before its record's Kafka timestamp; 0 turns the check off.
	MaxLateness time.Duration `env:"MAX_LATENESS" envDefault:"168h" desc:"dead-letter events whose occurred_at is this much older than their Kafka record timestamp (too_late); 0 = no limit (use for backfills published with current timestamps)"`
	// MaxClockSkew dead-letters an event whose occurred_at is further than this
	// after its record's Kafka timestamp; 0 turns the check off.
	MaxClockSkew time.Duration `env:"MAX_CLOCK_SKEW" envDefault:"15m" desc:"dead-letter events whose occurred_at is this much after their Kafka record timestamp (from_future); 0 = no limit"`
	// MaxMetadataEntries is the most metadata entries accepted in a record.
	MaxMetadataEntries int `env:"MAX_METADATA_ENTRIES" envDefault:"64" desc:"most metadata entries in one record"`
}

// HTTP is the admin listener (metrics, health, status page, pprof).
type HTTP struct {
	// Addr is the listen address of the admin endpoints; empty switches them off.
	Addr string `env:"HTTP_ADDR" envDefault:"127.0.0.1:8080" allowEmpty:"true" desc:"listen address for /metrics, /healthz, /readyz and the status page at /; empty = off"`
	// Pprof also serves /debug/pprof/ on Addr.
	Pprof bool `env:"PPROF" envDefault:"false" desc:"also serve Go profiles at /debug/pprof/ on SLUICE_HTTP_ADDR (allocations are sampled for the heap profile only then)"`
}

// Log configures the process logger.
type Log struct {
	// Format selects the handler.
	Format LogFormat `env:"LOG_FORMAT" envDefault:"text" desc:"log format: text or json"`
	// Level is the minimum level logged.
	Level slog.Level `env:"LOG_LEVEL" envDefault:"info" desc:"minimum log level: debug, info, warn or error"`
}

// Dev configures the development tooling: `sluice demo`, `dev` and `bench`, and the
// test stack. `sluice run` ignores it.
type Dev struct {
	// CacheDir is where the embedded ClickHouse engine is fetched to and kept; empty
	// means chlocal.DefaultCacheDir().
	CacheDir string `env:"CACHE_DIR" desc:"where demo, dev, bench and the tests keep the embedded ClickHouse engine (chDB's libchdb.so, fetched once with npm); empty = the user cache directory's sluice folder (~/.cache/sluice)"`
}
