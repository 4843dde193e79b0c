package clickhouse

import (
	"errors"
	"fmt"
	"strings"

	chgo "github.com/ClickHouse/ch-go"
	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
)

// ErrInvalidBlock reports a schemas.Block that cannot be inserted as given: no table,
// names and columns of different counts, a column whose length differs from Rows, or
// an unusable identifier. Retrying it cannot succeed; IsPermanent reports true.
var ErrInvalidBlock = errors.New("clickhouse: invalid block")

// ClickHouse server error codes after which retrying the same statement cannot
// succeed: the schema or the data does not fit, or the credentials are refused.
// See ClickHouse's src/Common/ErrorCodes.cpp.
var permanentCodes = map[int32]string{
	8:   "THERE_IS_NO_COLUMN",
	16:  "NO_SUCH_COLUMN_IN_TABLE",
	20:  "NUMBER_OF_COLUMNS_DOESNT_MATCH",
	36:  "BAD_ARGUMENTS",
	43:  "ILLEGAL_TYPE_OF_ARGUMENT",
	44:  "ILLEGAL_COLUMN",
	47:  "UNKNOWN_IDENTIFIER",
	53:  "TYPE_MISMATCH",
	60:  "UNKNOWN_TABLE",
	62:  "SYNTAX_ERROR",
	70:  "CANNOT_CONVERT_TYPE",
	81:  "UNKNOWN_DATABASE",
	115: "UNKNOWN_SETTING",
	192: "UNKNOWN_USER",
	193: "WRONG_PASSWORD",
	194: "REQUIRED_PASSWORD",
	497: "ACCESS_DENIED",
	516: "AUTHENTICATION_FAILED",
}

// Server error codes that a concurrent CREATE … IF NOT EXISTS may raise when another
// instance creates the same object at the same moment.
var concurrentDDLCodes = map[int32]bool{
	57:  true, // TABLE_ALREADY_EXISTS
	82:  true, // DATABASE_ALREADY_EXISTS
	473: true, // DEADLOCK_AVOIDED
	521: true, // ATOMIC_RENAME_FAIL
}

// IsPermanent reports whether err can never succeed on retry with the same input:
// an ErrInvalidBlock, a value clickhouse-go cannot convert to the column's type, or a
// server error about the schema, the statement or the credentials (unknown
// database/table/column, type mismatch, syntax error, unknown setting, access denied,
// authentication failed). Network errors, timeouts, cancelled contexts, "too many
// parts", memory limits and every other server error are not permanent: the outcome
// of the insert is unknown and the caller retries with the same token.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrInvalidBlock) || errors.Is(err, ch.ErrBatchInvalid) {
		return true
	}
	var (
		convErr *column.ColumnConverterError
		colErr  *column.Error
		typErr  *column.UnsupportedColumnTypeError
	)
	if errors.As(err, &convErr) || errors.As(err, &colErr) || errors.As(err, &typErr) {
		return true
	}
	var missing *MissingTablesError
	if IsHTTPPort(err) || errors.As(err, &missing) {
		return true
	}
	code, ok := serverCode(err)
	if !ok {
		return false
	}
	_, perm := permanentCodes[code]
	return perm
}

// serverCode returns the code of the ClickHouse server exception in err's chain,
// from clickhouse-go (queries, DDL) or ch-go (Store's inserts).
func serverCode(err error) (int32, bool) {
	var ex *ch.Exception
	if errors.As(err, &ex) {
		return ex.Code, true
	}
	if ex, ok := chgo.AsException(err); ok {
		return int32(ex.Code), true
	}
	return 0, false
}

// redacted wraps an error so its message never shows a secret, while errors.Is and
// errors.As still see the original chain.
type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// redact returns err with every occurrence of secret in its message replaced.
func redact(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &redacted{msg: strings.ReplaceAll(err.Error(), secret, "[REDACTED]"), err: err}
}

// httpAnswer is what clickhouse-go says when a server's first byte is 'H' (72), the
// start of "HTTP/1.1 400 Bad Request": the address is ClickHouse's HTTP port, which
// answers the native protocol's hello with an HTTP error.
const httpAnswer = "[handshake] unexpected packet [72]"

// IsHTTPPort reports whether err is a server answering in HTTP where the native
// protocol was expected: the address is ClickHouse's HTTP port (usually 8123)
// instead of its native one (9000, or 9440 with TLS). Such an error is permanent.
func IsHTTPPort(err error) bool {
	return err != nil && strings.Contains(err.Error(), httpAnswer)
}

// MissingTablesError is CheckTables finding that the database or some of the tables
// Sluice writes do not exist (yet): the migrations have not run. It is permanent.
type MissingTablesError struct {
	// Database is the database checked.
	Database string
	// NoDatabase is set when the database itself does not exist.
	NoDatabase bool
	// Tables are the missing tables (all of them without the database).
	Tables []string
}

func (e *MissingTablesError) Error() string {
	if e.NoDatabase {
		return fmt.Sprintf("clickhouse: database %s does not exist", e.Database)
	}
	return fmt.Sprintf("clickhouse: database %s lacks %d table(s): %s", e.Database, len(e.Tables), strings.Join(e.Tables, ", "))
}
