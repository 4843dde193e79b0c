package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	chgo "github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/proto"
	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// TestClassification: which errors stop a partition until an operator acts
// (IsPermanent) and what each says to do (withHint, typeMismatch), for the server
// codes as clickhouse-go (queries) and ch-go (inserts) report them, and which keep
// being retried as an outage.
func TestClassification(t *testing.T) {
	t.Parallel()
	const (
		migrate = "run `sluice migrate`"
		addBack = "run `sluice migrate` to add it back"
		retyped = "change it back"
		grant   = "lacks a privilege: grant it"
	)
	type want struct {
		permanent bool
		hint      string // a part of the hint; empty: none
	}
	codes := map[int32]want{
		16:  {true, addBack}, // NO_SUCH_COLUMN_IN_TABLE: a column dropped
		8:   {true, addBack}, // THERE_IS_NO_COLUMN
		47:  {true, addBack}, // UNKNOWN_IDENTIFIER
		60:  {true, migrate}, // UNKNOWN_TABLE: a table dropped
		81:  {true, migrate}, // UNKNOWN_DATABASE
		53:  {true, retyped}, // TYPE_MISMATCH: a column retyped
		70:  {true, retyped}, // CANNOT_CONVERT_TYPE
		497: {true, grant},   // ACCESS_DENIED: a grant revoked
		20:  {true, ""},      // NUMBER_OF_COLUMNS_DOESNT_MATCH
		62:  {true, ""},      // SYNTAX_ERROR
		115: {true, ""},      // UNKNOWN_SETTING
		516: {true, ""},      // AUTHENTICATION_FAILED (start-up names the variables)
		252: {false, ""},     // TOO_MANY_PARTS
		241: {false, ""},     // MEMORY_LIMIT_EXCEEDED
		159: {false, ""},     // TIMEOUT_EXCEEDED
		202: {false, ""},     // TOO_MANY_SIMULTANEOUS_QUERIES
		209: {false, ""},     // SOCKET_TIMEOUT
		210: {false, ""},     // NETWORK_ERROR
		394: {false, ""},     // QUERY_WAS_CANCELLED
		999: {false, ""},     // KEEPER_EXCEPTION
		242: {false, ""},     // TABLE_IS_READ_ONLY
	}
	check := func(name string, err error, w want) {
		t.Helper()
		err = withHint(err)
		if got := IsPermanent(err); got != w.permanent {
			t.Errorf("%s: IsPermanent = %v, want %v (%v)", name, got, w.permanent, err)
		}
		h, hinted := errors.AsType[interface {
			error
			Hint() string
		}](err)
		switch {
		case w.hint == "" && hinted:
			t.Errorf("%s: hint %q, want none", name, h.Hint())
		case w.hint != "" && (!hinted || !strings.Contains(h.Hint(), w.hint) || !strings.Contains(err.Error(), w.hint)):
			t.Errorf("%s: %v, want the hint %q", name, err, w.hint)
		}
	}
	for code, w := range codes {
		check(fmt.Sprintf("clickhouse-go code %d", code), fmt.Errorf("query: %w", &ch.Exception{Code: code, Message: "x"}), w)
		check(fmt.Sprintf("ch-go code %d", code), fmt.Errorf("insert: %w", &chgo.Exception{Code: proto.Error(code), Message: "x"}), w)
	}
	// Sluice's own finding that a column does not fit its table (the column was
	// retyped) is permanent and says what to do, as the server's TYPE_MISMATCH.
	mismatch := fmt.Errorf("column city: %w", typeMismatch("string", "UInt32"))
	check("a Go column that cannot fill the table's", mismatch, want{true, retyped})
	if !errors.Is(mismatch, ErrInvalidBlock) {
		t.Errorf("a type mismatch is not an ErrInvalidBlock: %v", mismatch)
	}
	check("an invalid block", fmt.Errorf("%w: table t: 2 names for 3 columns", ErrInvalidBlock), want{true, ""})
	check("missing tables", &MissingTablesError{Database: "d", Tables: []string{"t"}}, want{true, ""})
	for name, err := range map[string]error{
		"connection refused":   &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)},
		"connection reset":     fmt.Errorf("read: %w", syscall.ECONNRESET),
		"server closed":        fmt.Errorf("insert: %w", io.EOF),
		"unexpected EOF":       io.ErrUnexpectedEOF,
		"deadline":             context.DeadlineExceeded,
		"cancelled":            context.Canceled,
		"some other error":     errors.New("boom"),
		"joined transient":     errors.Join(io.EOF, &ch.Exception{Code: 252}),
		"nil is no failure":    nil,
		"wrapped timeout code": fmt.Errorf("x: %w", &chgo.Exception{Code: 159}),
	} {
		check(name, err, want{false, ""})
	}
	// A flush whose blocks failed differently is permanent if one of them is.
	check("joined, one permanent", errors.Join(io.EOF, fmt.Errorf("insert: %w", &chgo.Exception{Code: 16})), want{true, addBack})
	// The statement ACCESS_DENIED asks for, as the server names it.
	denied := withHint(fmt.Errorf("insert: %w", &chgo.Exception{Code: 497, Message: "sluice_w: Not enough privileges. To execute this query, it's necessary to have the grant INSERT(event_id, amount_minor) ON db.payments. (ACCESS_DENIED)"}))
	if want := "grant it with GRANT INSERT ON db.payments TO sluice_w"; !strings.Contains(denied.Error(), want) {
		t.Errorf("ACCESS_DENIED: %v, want %q", denied, want)
	}
	engine := withHint(&ch.Exception{Code: 497, Message: "u: Not enough privileges. To execute this query, it's necessary to have the grant TABLE ENGINE ON MergeTree"})
	if want := "GRANT TABLE ENGINE ON MergeTree TO u"; !strings.Contains(engine.Error(), want) {
		t.Errorf("ACCESS_DENIED: %v, want %q", engine, want)
	}
}
