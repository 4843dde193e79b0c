package clickhouse

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/sluicehq/sluice/schemas"
)

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"a":      "`a`",
		"group":  "`group`",
		"a`b":    "`a\\`b`",
		`a\b`:    "`a\\\\b`",
		"a`; --": "`a\\`; --`",
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestInsertQuery(t *testing.T) {
	got := insertQuery("db", "t", []string{"group", "offset"})
	want := "INSERT INTO `db`.`t` (`group`, `offset`)"
	if got != want {
		t.Fatalf("insertQuery = %s, want %s", got, want)
	}
}

func TestValidDatabase(t *testing.T) {
	for _, ok := range []string{"sluice", "_x", "test_123"} {
		if err := validDatabase(ok); err != nil {
			t.Errorf("validDatabase(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1x", "a-b", "a.b", "a`b", "a b", strings.Repeat("x", 200)} {
		if err := validDatabase(bad); err == nil {
			t.Errorf("validDatabase(%q) = nil, want error", bad)
		}
	}
}

func TestCheckBlock(t *testing.T) {
	good := schemas.Block{Table: "t", Names: []string{"a", "b"}, Columns: []any{[]int64{1, 2}, []string{"x", "y"}}, Rows: 2}
	if err := checkBlock(&good); err != nil {
		t.Fatalf("checkBlock(good) = %v", err)
	}
	empty := schemas.Block{Table: "t"}
	if err := checkBlock(&empty); err != nil {
		t.Fatalf("checkBlock(empty) = %v", err)
	}
	for name, b := range map[string]schemas.Block{
		"no table":      {Names: []string{"a"}, Columns: []any{[]int64{1}}, Rows: 1},
		"bad table":     {Table: "t; DROP", Names: []string{"a"}, Columns: []any{[]int64{1}}, Rows: 1},
		"bad column":    {Table: "t", Names: []string{"a`"}, Columns: []any{[]int64{1}}, Rows: 1},
		"count":         {Table: "t", Names: []string{"a", "b"}, Columns: []any{[]int64{1}}, Rows: 1},
		"length":        {Table: "t", Names: []string{"a"}, Columns: []any{[]int64{1, 2}}, Rows: 1},
		"not a slice":   {Table: "t", Names: []string{"a"}, Columns: []any{int64(1)}, Rows: 1},
		"twice":         {Table: "t", Names: []string{"a", "a"}, Columns: []any{[]int64{1}, []int64{1}}, Rows: 1},
		"negative rows": {Table: "t", Rows: -1},
	} {
		err := checkBlock(&b)
		if !errors.Is(err, ErrInvalidBlock) || !IsPermanent(err) {
			t.Errorf("%s: checkBlock = %v, want a permanent ErrInvalidBlock", name, err)
		}
	}
}

func TestEventIDsBlock(t *testing.T) {
	ts := []time.Time{time.Unix(1, 0), time.Unix(2, 0)}
	b := EventIDsBlock("g", "payments", "A", 3, []int64{10, 11}, []string{"a", "b"}, ts)
	if err := checkBlock(&b); err != nil {
		t.Fatal(err)
	}
	if b.Table != EventIDsTable || b.Rows != 2 || b.Columns[3].([]int32)[1] != 3 || b.Columns[0].([]string)[0] != "g" || b.Columns[2].([]string)[1] != "A" {
		t.Fatalf("EventIDsBlock = %+v", b)
	}
}

func TestDDL(t *testing.T) {
	stmts := DDL(DDLOptions{Database: "sl", DedupWindow: 500, Horizon: 2 * time.Hour})
	if len(stmts) != 6 {
		t.Fatalf("DDL returned %d statements", len(stmts))
	}
	for _, want := range []string{
		"CREATE DATABASE IF NOT EXISTS `sl`",
		"CREATE TABLE IF NOT EXISTS `sl`.`sluice_ledger`",
		"TTL toDateTime(`written_at`) + INTERVAL 2592000 SECOND",
		"CREATE TABLE IF NOT EXISTS `sl`.`sluice_event_ids`",
		"TTL `stored_at` + INTERVAL 93600 SECOND", // 2h + 1 day
		"non_replicated_deduplication_window = 500",
		"ALTER TABLE `sl`.`sluice_ledger` ADD COLUMN IF NOT EXISTS `topic_id` LowCardinality(String) DEFAULT '' AFTER `topic`",
		"ALTER TABLE `sl`.`sluice_ledger` ADD COLUMN IF NOT EXISTS `repairable` UInt8 DEFAULT 0 AFTER `written_at`",
		"ALTER TABLE `sl`.`sluice_event_ids` ADD COLUMN IF NOT EXISTS `topic_id` LowCardinality(String) DEFAULT '' AFTER `topic`",
	} {
		if !strings.Contains(strings.Join(stmts, "\n"), want) {
			t.Errorf("DDL lacks %q", want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("DDL with an invalid database did not panic")
		}
	}()
	DDL(DDLOptions{Database: "x`y"})
}

func TestIsPermanent(t *testing.T) {
	for err, want := range map[error]bool{
		nil:                                          false,
		errors.New("boom"):                           false,
		&ch.Exception{Code: 60}:                      true,  // UNKNOWN_TABLE
		&ch.Exception{Code: 16}:                      true,  // NO_SUCH_COLUMN_IN_TABLE
		&ch.Exception{Code: 516}:                     true,  // AUTHENTICATION_FAILED
		&ch.Exception{Code: 252}:                     false, // TOO_MANY_PARTS
		&ch.Exception{Code: 241}:                     false, // MEMORY_LIMIT_EXCEEDED
		fmt.Errorf("x: %w", ErrInvalidBlock):         true,
		fmt.Errorf("x: %w", &ch.Exception{Code: 81}): true,
		fmt.Errorf("%w: y", ch.ErrBatchInvalid):      true,
	} {
		if got := IsPermanent(err); got != want {
			t.Errorf("IsPermanent(%v) = %v, want %v", err, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	inner := &ch.Exception{Code: 516, Message: "bad password hunter2"}
	err := redact(fmt.Errorf("dial: %w", inner), "hunter2")
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("redact kept the secret: %v", err)
	}
	if !IsPermanent(err) {
		t.Fatal("redact broke the error chain")
	}
	if plain := errors.New("x"); redact(plain, "") != plain || redact(plain, "zz") != plain {
		t.Fatal("redact changed an error without the secret")
	}
}

func TestOptionsValidate(t *testing.T) {
	for name, o := range map[string]Options{
		"no addrs":    {Database: "d"},
		"empty addr":  {Addrs: []string{""}, Database: "d"},
		"bad db":      {Addrs: []string{"h:9000"}, Database: "d-1"},
		"no database": {Addrs: []string{"h:9000"}},
	} {
		if o.Validate() == nil {
			t.Errorf("%s: Validate = nil", name)
		}
	}
	if err := (Options{Addrs: []string{"h:9000"}, Database: "d"}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestSummary(t *testing.T) {
	if got := summary("  CREATE TABLE x (\n a Int8\n)"); got != "CREATE TABLE x ( …" {
		t.Fatalf("summary = %q", got)
	}
}

func TestCreatedIn(t *testing.T) {
	t.Parallel()
	stmts := append(schemas.DDL(schemas.DDLOptions{Database: "db1", RawPayments: true, RawShipments: true}),
		DDL(DDLOptions{Database: "db1"})...)
	got := createdIn(stmts, "db1")
	for _, want := range []string{schemas.RollupTable("payments", time.Minute), "payments", LedgerTable, EventIDsTable} {
		if !slices.Contains(got, want) {
			t.Errorf("createdIn lacks %s: %q", want, got)
		}
	}
	if len(got) < 6 {
		t.Errorf("createdIn found only %q in:\n%s", got, strings.Join(stmts, "\n"))
	}
	if other := createdIn(stmts, "db2"); len(other) != 0 {
		t.Errorf("createdIn(db2) = %q, want none", other)
	}
}
