package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fixture is a Snapshot with a bit of everything an operator looks at.
func fixture() Snapshot {
	return Snapshot{
		Records: 12345, Valid: 12000, Invalid: 300, Duplicates: 45, Rows: 24000, Flushes: 17, Retries: 2,
		Lag: 1500, LagKnown: true, Inserts: 9, InsertP50: 12 * time.Millisecond, InsertP99: 48 * time.Millisecond,
		LastInsert: time.Now().Add(-2 * time.Second),
		Partitions: []Partition{
			{Topic: "shipments", Partition: 0, Queued: 1, Lag: 500},
			{Topic: "payments", Partition: 1, Queued: 4, Paused: true, Lag: 1000},
			{Topic: "payments", Partition: 0, Lag: -1},
		},
		Topics: []Topic{
			{Topic: "payments", Records: 8000, Valid: 7800, DeadLettered: 200, Committable: 7900,
				DeadLetters: []ReasonCount{{"bad_enum", 150}, {"too_late", 50}}},
			{Topic: "shipments", Records: 4345, Valid: 4200, DeadLettered: 100, Duplicates: 45,
				DeadLetters: []ReasonCount{{"missing_field", 100}}},
		},
		Members: []Member{
			{ID: "sluice-a-1", ClientID: "sluice-a", Host: "/10.0.0.1", Partitions: 3, Self: true},
			{ID: "sluice-b-1", ClientID: "sluice-b", Host: "/10.0.0.2", Partitions: 3},
		},
		MembersAt: time.Now(),
		Memory: &Memory{BudgetBytes: 256 << 20, From: "default", GoLimitBytes: 204 << 20, Partitions: 3,
			FetchShareBytes: 8 << 20, BatchShareBytes: 5 << 19, DedupShareIDs: 50000,
			FetchedBytes: 3 << 20, BatchesBytes: 41 << 20, DedupBytes: 6 << 20},
	}
}

func startPage(t *testing.T, snap func() Snapshot, ready func(context.Context) error, errs *ErrorLog) *Server {
	t.Helper()
	srv, err := Start(Options{
		Addr: "127.0.0.1:0", SampleInterval: 10 * time.Millisecond, Snapshot: snap, Ready: ready, Errors: errs,
		Version: "v1.2.3 (commit 0123456789ab, go1.26.8)",
		Info:    map[string]string{"ClickHouse": "10.1.2.3:9000 database sluice", "Kafka brokers": "kafka-1:9092"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	// Wait for a few samples, so that the charts have lines.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(10 * time.Second); len(srv.status(t.Context()).History) < 3; <-tick.C {
		if time.Now().After(deadline) {
			t.Fatal("the sampler took no samples")
		}
	}
	return srv
}

func TestPageRendersOnServer(t *testing.T) {
	srv := startPage(t, fixture, nil, nil)
	code, body := do(t, srv.Handler(), "/")
	if code != http.StatusOK {
		t.Fatalf("/: %d", code)
	}
	if path := os.Getenv("SLUICE_TEST_PAGE_OUT"); path != "" {
		_ = os.WriteFile(path, []byte(body), 0o644) // to look at it in a browser
	}
	for _, want := range []string{
		`<span id="ready" class="badge ok">ready</span>`,
		`<dd class="num" id="records">12,345</dd>`,
		`<span id="lag">1,500</span>`,
		`<span id="latency">12.0 / 48.0</span>`,
		`<span id="version">v1.2.3 (commit 0123456789ab, go1.26.8)</span>`,
		`<dd>10.1.2.3:9000 database sluice</dd>`,
		// Partitions sorted, lag before queue, unknown lag in words.
		`<tr><td>payments</td><td class="num">0</td><td class="num">unknown</td><td class="num">0</td><td>running</td></tr>`,
		`<tr><td>payments</td><td class="num">1</td><td class="num">1,000</td><td class="num">4</td><td class="paused">paused (backpressure)</td></tr>`,
		`<tr><td>shipments</td><td class="num">0</td><td class="num">500</td>`,
		`<td>payments</td><td>bad_enum</td><td class="num">150</td>`,
		`sluice-a <span class="dim">(this instance)</span>`,
		`data-series="payments"`, `data-series="p99"`, `class="xtick"`,
		`<dd>256 MiB (default), Go soft limit 204 MiB</dd>`,
		`<dd class="num" id="mem-batches">41 MiB</dd>`,
		`<dd class="num" id="mem-fetched">3.0 MiB</dd>`,
		`<dt>each of 3 partitions</dt><dd>fetch 8.0 MiB, batch 2.5 MiB, filter 50,000 ids</dd>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	for _, bad := range []string{"ZgotmplZ", "loading", "NaN", "–"} {
		if strings.Contains(body, bad) {
			t.Errorf("the page shows %q", bad)
		}
	}
	// The live part is the same view without the document around it.
	if code, live := do(t, srv.Handler(), "/?view=live"); code != http.StatusOK || strings.Contains(live, "<html") || !strings.Contains(live, `id="records">12,345<`) {
		t.Errorf("/?view=live: %d\n%s", code, live)
	}
}

func TestPageDuringOutage(t *testing.T) {
	errs := NewErrorLog(5)
	log := slog.New(errs.Handler(slog.DiscardHandler))
	refused := &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9000}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for p := range 3 {
		log.Warn("write ledger failed; retrying", "partition", p,
			"err", fmt.Errorf("clickhouse: intend 1 ranges (first sluice/payments/%d [5216, 5229]): %w", p, refused))
	}
	down := time.Now().Add(-14 * time.Second)
	snap := func() Snapshot {
		s := fixture()
		s.Inserts, s.InsertP50, s.InsertP99, s.ClickHouseDown = 0, 0, 0, down
		return s
	}
	srv := startPage(t, snap, func(context.Context) error {
		return errors.New("ClickHouse at 127.0.0.1:9000 does not answer since 12:01:02 (14s): dial tcp 127.0.0.1:9000: connect: connection refused")
	}, errs)
	_, body := do(t, srv.Handler(), "/")
	for _, want := range []string{
		`<span id="ready" class="badge bad">not ready</span>`,
		`Not ready: ClickHouse at 127.0.0.1:9000 does not answer since`,
		`<span id="latency">ClickHouse unreachable</span>`,
		"since " + down.Format("15:04:05"),
		`<td>write ledger failed; retrying</td><td>dial tcp 127.0.0.1:9000: connect: connection refused</td><td class="dim">×3 since`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	for _, bad := range []string{"intend 1 ranges", "0.0 / 0.0", ">0 / 0<"} {
		if strings.Contains(body, bad) {
			t.Errorf("the page shows %q", bad)
		}
	}
}

func TestPageBeforeAnything(t *testing.T) {
	srv := startPage(t, func() Snapshot { return Snapshot{} }, func(context.Context) error {
		return errors.New("waiting for Kafka at kafka-1:9092 since 12:01:02 (3s): dial tcp 10.0.0.9:9092: connect: connection refused")
	}, nil)
	_, body := do(t, srv.Handler(), "/")
	if path := os.Getenv("SLUICE_TEST_PAGE_OUT"); path != "" {
		_ = os.WriteFile(path+".before.html", []byte(body), 0o644)
	}
	for _, want := range []string{`<span id="latency">—</span>`, "no inserts yet", `<span id="lag">unknown</span>`, "none owned", "last successful insert: <span id=\"last-insert\">none yet"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
}

func TestCause(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{fmt.Errorf("clickhouse: intend 1 ranges (first x): %w", refused), "dial tcp: connect: connection refused"},
		{fmt.Errorf("a: %w", fmt.Errorf("b: %w", errors.New("code: 81, message: Database sluice does not exist"))), "code: 81, message: Database sluice does not exist"},
		{fmt.Errorf("ping: %w", context.DeadlineExceeded), "no answer in time"},
	} {
		if got := Cause(c.err); got != c.want {
			t.Errorf("Cause(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestChartScale(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{{0, 1}, {0.3, 0.5}, {1, 1}, {7, 10}, {120, 200}, {1500, 2000}} {
		if got := niceCeil(c.in); got != c.want {
			t.Errorf("niceCeil(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if got := count(-1234567); got != "-1,234,567" {
		t.Errorf("count = %q", got)
	}
	if got := duration(125 * time.Second); got != "2m05s" {
		t.Errorf("duration = %q", got)
	}
}
