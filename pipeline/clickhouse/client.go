package clickhouse

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/pipeline"
)

// Defaults applied by Open to zero Options fields.
const (
	DefaultDialTimeout = 5 * time.Second
	DefaultReadTimeout = 60 * time.Second
	DefaultMaxConns    = 16
)

// Options configures a Client. The zero value of each field but Addrs and Database
// means its default.
type Options struct {
	// Addrs are the host:port addresses of the servers' native (TCP) protocol.
	Addrs []string
	// Database holds the tables Sluice writes; it must match [A-Za-z_][A-Za-z0-9_]*.
	// It need not exist when Open is called: Migrate can create it.
	Database string
	// User and Password authenticate; User defaults to "default". The password never
	// appears in an error message.
	User, Password string
	// DialTimeout bounds connecting (default DefaultDialTimeout).
	DialTimeout time.Duration
	// ReadTimeout bounds each read from the server (default DefaultReadTimeout).
	ReadTimeout time.Duration
	// MaxConns is the size of the connection pool (default DefaultMaxConns); it bounds
	// the Store calls in flight at once.
	MaxConns int
	// TLS enables TLS when non-nil.
	TLS *tls.Config
	// Compress enables LZ4 compression of the native protocol's blocks. It saves
	// network bandwidth at some CPU cost; leave it off for a server on the same host.
	Compress bool
}

// withDefaults returns o with zero fields defaulted.
func (o Options) withDefaults() Options {
	if o.User == "" {
		o.User = "default"
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	return o
}

// Validate reports the first field a person has to fix.
func (o Options) Validate() error {
	if len(o.Addrs) == 0 {
		return errors.New("clickhouse: Options.Addrs is empty: give at least one host:port of the native protocol")
	}
	for i, a := range o.Addrs {
		if a == "" {
			return fmt.Errorf("clickhouse: Options.Addrs[%d] is empty", i)
		}
	}
	return validDatabase(o.Database)
}

// Client writes to and reads from one ClickHouse database over the native protocol.
// It implements pipeline.Sink, pipeline.Ledger, pipeline.SeenIDs and
// pipeline.Repairer and is safe for concurrent use.
type Client struct {
	conn     driver.Conn
	ins      *inserter
	db       string
	password string
	claims   claims                   // which incarnation owns rows without a topic id; see ClaimTopics
	intents  *intents[pipeline.Range] // groups concurrent Intend calls into shared inserts
	reads    *intents[*rangesRead]    // groups concurrent Ranges calls into shared queries
	// checkAll makes Repair check every repairable range, as if the server had
	// restarted since each was recorded (mayHaveLost): for tests that lose rows
	// without a crash.
	checkAll bool
}

// Open connects to the servers in o and pings one of them. It returns an error if
// the options are invalid or no server answers; the error never contains o.Password.
func Open(ctx context.Context, o Options) (*Client, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	chOpts := &ch.Options{
		Protocol: ch.Native,
		Addr:     o.Addrs,
		// No default database: every statement names its database, so Open works
		// before Migrate created it.
		Auth:            ch.Auth{Username: o.User, Password: o.Password},
		TLS:             o.TLS,
		DialTimeout:     o.DialTimeout,
		ReadTimeout:     o.ReadTimeout,
		MaxOpenConns:    o.MaxConns,
		MaxIdleConns:    o.MaxConns,
		ConnMaxLifetime: time.Hour,
		// In order, not round robin: deduplication of non-replicated tables is per
		// server, so a retry must reach the server the first attempt reached
		// whenever it is up.
		ConnOpenStrategy: ch.ConnOpenInOrder,
		// Synchronous inserts unless a statement says otherwise: this engine
		// build defaults async_insert to 1.
		Settings: ch.Settings{"async_insert": 0},
	}
	if o.Compress {
		chOpts.Compression = &ch.Compression{Method: ch.CompressionLZ4}
	}
	conn, err := ch.Open(chOpts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: open %v as %q: %w", o.Addrs, o.User, redact(err, o.Password))
	}
	if err := conn.Ping(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("clickhouse: ping %v as %q: %w", o.Addrs, o.User, redact(err, o.Password))
	}
	return &Client{conn: conn, ins: newInserter(o), intents: newIntents[pipeline.Range](), reads: newIntents[*rangesRead](), db: o.Database, password: o.Password}, nil
}

// authCodes are the server error codes of refused credentials.
var authCodes = map[int32]bool{192: true, 193: true, 194: true, 516: true}

// IsAuthFailure reports whether err is the server refusing the user or password
// (UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD, AUTHENTICATION_FAILED). Such an
// error is also permanent (IsPermanent).
func IsAuthFailure(err error) bool {
	code, ok := serverCode(err)
	return ok && authCodes[code]
}

// Database returns the database the Client writes to.
func (c *Client) Database() string { return c.db }

// Close closes every connection. Calls in flight fail; Close is not safe to call
// concurrently with other methods whose result matters.
func (c *Client) Close() error {
	c.ins.close()
	if err := c.conn.Close(); err != nil {
		return fmt.Errorf("clickhouse: close: %w", c.redact(err))
	}
	return nil
}

// redact hides the password in err's message, and adds what to do where the
// server's error code says (withHint). Every error of the Client's calls passes here.
func (c *Client) redact(err error) error { return withHint(redact(err, c.password)) }

// The Client is the pipeline's ClickHouse adapter.
var (
	_ pipeline.Sink     = (*Client)(nil)
	_ pipeline.Ledger   = (*Client)(nil)
	_ pipeline.SeenIDs  = (*Client)(nil)
	_ pipeline.Repairer = (*Client)(nil)
)
