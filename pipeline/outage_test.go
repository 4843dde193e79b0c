package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestOutage: however many partitions fail, an outage is two log lines, a warning
// with the cause when it starts and a summary when the last failing call succeeds;
// a second outage starts afresh; one whose calls all gave up says so.
func TestOutage(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	o := newOutage(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	o.now = func() time.Time { return now }
	cause := errors.New("connection refused")
	err := fmt.Errorf("clickhouse: intend 1 ranges (first g/payments/2 [5216, 5229]): %w", cause)

	// 8 partitions fail concurrently, each 3 times, then recover.
	var wg sync.WaitGroup
	for p := range int32(8) {
		wg.Go(func() {
			for i := range 3 {
				o.fail(partitionKey{"payments", p}, i == 0, err)
			}
		})
	}
	wg.Wait()
	now = now.Add(32 * time.Second)
	for range 8 {
		o.end(true)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines for one outage, want 2:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], `cause="connection refused"`) || strings.Contains(lines[0], "5216") {
		t.Errorf("start line: %s", lines[0])
	}
	for _, want := range []string{"level=INFO", "after=32s", "partitions_paused=8", "retries=24"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("summary lacks %s: %s", want, lines[1])
		}
	}

	// A second outage counts afresh; one partition fails twice in it (two calls).
	buf.Reset()
	o.fail(partitionKey{"shipments", 0}, true, err)
	o.fail(partitionKey{"shipments", 1}, true, err)
	o.end(true) // shipments/0 recovered, shipments/1 still failing
	o.fail(partitionKey{"shipments", 0}, true, err)
	now = now.Add(time.Second)
	o.end(true)
	o.end(false) // the last one gave up: its partition stopped
	lines = strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines for the second outage, want 2:\n%s", len(lines), buf.String())
	}
	for _, want := range []string{"level=WARN", "still failing", "after=1s", "partitions_paused=2", "retries=3"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("summary lacks %s: %s", want, lines[1])
		}
	}
}

func TestRootCause(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	for _, c := range []struct {
		err  error
		want string
	}{
		{errors.New("plain"), "plain"},
		{fmt.Errorf("clickhouse: intend 1 ranges (first g/p/2 [5216, 5229]): %w", fmt.Errorf("code 60: %w", errors.New("no table"))), "no table"},
		{fmt.Errorf("clickhouse: insert 500 rows into shipments: %w", refused), "dial tcp: connect: connection refused"},
		{errors.Join(fmt.Errorf("insert a: %w", errors.New("first")), errors.New("second")), "first"},
		{fmt.Errorf("insert: %w", exception{}), "code: 60, message: table t.payments does not exist"},
	} {
		if got := rootCause(c.err); got != c.want {
			t.Errorf("rootCause(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

type hintedErr struct{ error }

func (hintedErr) Hint() string { return "run `sluice migrate`" }

// TestOutageHint: the warning says what to do when the error says it.
func TestOutageHint(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	o := newOutage(slog.New(slog.NewTextHandler(&buf, nil)))
	o.fail(partitionKey{"payments", 0}, true, fmt.Errorf("insert: %w", hintedErr{errors.New("code 60: no table payments")}))
	o.end(true)
	if !strings.Contains(buf.String(), "hint=\"run `sluice migrate`\"") || !strings.Contains(buf.String(), `cause="code 60: no table payments"`) {
		t.Errorf("outage log:\n%s", buf.String())
	}
}

// exception is a server error that says more than the code it wraps.
type exception struct{}

func (exception) Error() string { return "code: 60, message: table t.payments does not exist" }
func (exception) Unwrap() error { return errors.New("UNKNOWN_TABLE (60)") }
