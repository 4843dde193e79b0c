package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/dev/bench/ceiling"
)

func TestParseStatCPU(t *testing.T) {
	// Field 2 holds a space and a ')' to make sure fields are counted from the last ')'.
	line := "4242 (click) house) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 30 0 123 456 789\n"
	if got, want := parseStatCPU([]byte(line)), 3*time.Second; got != want {
		t.Fatalf("parseStatCPU = %v, want %v", got, want)
	}
	if got := parseStatCPU([]byte("garbage")); got != -1 {
		t.Fatalf("parseStatCPU(garbage) = %v, want -1", got)
	}
}

func TestParseStatusBytes(t *testing.T) {
	status := []byte("Name:\tsluice\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n")
	for field, want := range map[string]uint64{"VmHWM": 200 << 20, "VmRSS": 100 << 20, "VmSwap": 0} {
		if got := parseStatusBytes(status, field); got != want {
			t.Errorf("%s = %d, want %d", field, got, want)
		}
	}
}

func TestPick(t *testing.T) {
	for _, tc := range []struct {
		vs             []float64
		min, med, maxv float64
	}{
		{[]float64{3}, 3, 3, 3},
		{[]float64{5, 1, 3}, 1, 3, 5},
		{[]float64{4, 1, 3, 2}, 1, 2.5, 4},
	} {
		if got := [3]float64{pick(tc.vs, "min"), pick(tc.vs, "median"), pick(tc.vs, "max")}; got != [3]float64{tc.min, tc.med, tc.maxv} {
			t.Errorf("pick(%v) = %v, want %v %v %v", tc.vs, got, tc.min, tc.med, tc.maxv)
		}
	}
}

func TestPrint(t *testing.T) {
	r := Result{
		Mode: Rollups, Events: 1_000_000, ConsumerCeiling: 2e6,
		InsertCeiling: ceiling.Result{Rows: 300_000, Inserts: 3, Elapsed: time.Second},
		Elapsed:       10 * time.Second, Rows: 1_000_000, CPU: 5 * time.Second,
		PeakRSS: 300 << 20, BaseRSS: 200 << 20, FirstRow: 1500 * time.Millisecond,
	}
	bad := r
	bad.Diff = []string{"payments: want 1, got 2"}
	bad.Elapsed = 20 * time.Second
	var b bytes.Buffer
	Print(&b, []Result{r, bad, r})
	out := b.String()
	containsAll(t, "output", out,
		"1       rollups  1000000  100000",
		"median  rollups  1000000  100000",
		"min     rollups  1000000  50000",
		"0.05", // × consumer: 100000 / 2e6
		"0.33", // × insert: 100000 / 300000
		"run 2 is NOT exact",
	)
	for line := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(line, "median") && !strings.HasSuffix(line, "  no") {
			t.Errorf("summary says exact though run 2 is not: %q", line)
		}
	}
}

func TestPrintProcess(t *testing.T) {
	r := Result{
		Mode: RawAndRollups, Events: 1_000_000, Process: true, Elapsed: 10 * time.Second,
		CPU: 4 * time.Second, BenchCPU: time.Second, PeakRSS: 250 << 20, HWM: 260 << 20, Parts: 55,
	}
	var b bytes.Buffer
	Print(&b, []Result{r})
	out := b.String()
	containsAll(t, "output", out, "kfake CPU-s/M ev", "VmHWM MB", "own `sluice run` process")
	row := strings.Fields(strings.Split(out, "\n")[1])
	// … CPU-s/M ev, kfake CPU-s/M ev, CH CPU-s/M ev, peak RSS MB, VmHWM MB, first row ms, parts, parts/s, exact
	if got, want := strings.Join(row[9:17], " "), "4.00 1.00 0.00 250 260 0 55 5.5"; got != want {
		t.Errorf("process columns = %q, want %q", got, want)
	}
}

func TestMemoryResultAt(t *testing.T) {
	r := MemoryResult{Events: 100, Samples: []MemorySample{
		{Done: 0, RSS: 10}, {Done: 30, RSS: 20}, {Done: 60, RSS: 0}, {Done: 100, RSS: 40},
	}}
	for _, tc := range []struct {
		f    float64
		want uint64
	}{{0.1, 20}, {0.25, 20}, {0.5, 40}, {1, 40}} {
		if s, ok := r.At(tc.f); !ok || s.RSS != tc.want {
			t.Errorf("At(%v) = %v, %v; want RSS %d", tc.f, s, ok, tc.want)
		}
	}
	if p := r.Peak(); p != 40 {
		t.Errorf("Peak = %d, want 40", p)
	}
	if _, ok := (MemoryResult{Events: 10}).At(0.5); ok {
		t.Error("At on no samples reports a sample")
	}
}

func TestPrintPeer(t *testing.T) {
	r := Result{
		Mode: Raw, Events: 1_000_000, Process: true, Elapsed: 2 * time.Second, CPU: time.Second, Parts: 40,
		Peer: &PeerResult{Events: 1_000_000, Elapsed: 8 * time.Second, CPU: 6 * time.Second, Rows: 1_000_000, Parts: 4, Lag: 0},
	}
	bad := r
	bad.Peer = &PeerResult{Events: 1_000_000, Elapsed: 4 * time.Second, Rows: 1_000_100, Lag: 0, Diff: []string{"raw payments: want 1000000 rows"}}
	var b bytes.Buffer
	Print(&b, []Result{r, bad})
	out := b.String()
	containsAll(t, "output", out,
		// run, mode, Sluice ev/s, peer ev/s, × peer, Sluice CPU-s/M, peer CPU-s/M
		"1       raw   500000       125000     4.00    1.00            6.00",
		"2       raw   500000       250000     2.00",
		"median  raw   500000       187500     3.00",
		"run 2: the peer is NOT exact",
	)
	for line := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(line, "1 ") && strings.Contains(line, "500000") && strings.Contains(line, "125000") && !strings.HasSuffix(line, "yes") {
			t.Errorf("an exact peer run is not marked exact: %q", line)
		}
		if strings.HasPrefix(line, "max ") && strings.Contains(line, "250000") && !strings.HasSuffix(line, "no") {
			t.Errorf("the summary says the peer is exact though run 2 is not: %q", line)
		}
	}
}

func TestPeerConfig(t *testing.T) {
	c := peerConfig([]string{"127.0.0.1:1", "127.0.0.1:2"}, "payments", "peer-g", "127.0.0.1:9000", "bench_peer_r1", "payments")
	containsAll(t, "config", c,
		`hosts: [[ "127.0.0.1" ]], port: 9000, db: "bench_peer_r1"`,
		`brokers: "127.0.0.1:1,127.0.0.1:2"`,
		`consumerGroup: "peer-g"`,
		`tableName: "payments"`,
		"bufferSize: 262144",
		"flushInterval: 1",
	)
}

// containsAll fails t for every one of wants that text (named what) lacks.
func containsAll(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, text)
		}
	}
}

func TestPrintServerEvents(t *testing.T) {
	ev := func(inserts, merged int64) map[string]int64 {
		return eventDeltas(map[string]int64{"InsertQuery": 10, "MergedRows": 5}, map[string]int64{"InsertQuery": 10 + inserts, "MergedRows": 5 + merged})
	}
	r := Result{
		Mode: Raw, Events: 1_000_000, Process: true, Elapsed: 2 * time.Second,
		ServerEvents: ev(86, 2_600_000), ActiveParts: map[string]int64{"payments": 6, "sluice_ledger": 2},
		Peer: &PeerResult{Events: 1_000_000, Elapsed: 8 * time.Second, ServerEvents: ev(4, 0), ActiveParts: map[string]int64{"payments": 4}},
	}
	var b bytes.Buffer
	Print(&b, []Result{r})
	rows := map[string]string{}
	for line := range strings.SplitSeq(b.String(), "\n") {
		if f := strings.Fields(line); len(f) > 2 {
			rows[strings.Join(f[:len(f)-2], " ")] = strings.Join(f[len(f)-2:], " ")
		}
	}
	for label, want := range map[string]string{
		"ClickHouse counter Sluice r1": "peer r1", // the head
		"InsertQuery":                  "86 4",
		"MergedRows":                   "2600000 0",
		"MergeTotalMilliseconds":       "0 0", // not counted yet: 0, not missing
		"active parts: payments":       "6 4",
		"active parts: sluice_ledger":  "2 -",
	} {
		if got := rows[label]; got != want {
			t.Errorf("row %q = %q, want %q:\n%s", label, got, want, b.String())
		}
	}
	var none bytes.Buffer
	r.ServerEvents = nil
	Print(&none, []Result{r})
	if strings.Contains(none.String(), "ClickHouse counter") {
		t.Errorf("the counters are printed though the run did not read them:\n%s", none.String())
	}
	if eventDeltas(nil, map[string]int64{}) != nil {
		t.Error("eventDeltas of a failed reading is not nil")
	}
}

func TestWithProcs(t *testing.T) {
	base := make([]string, 1, 4)
	base[0] = "GOMAXPROCS=8"
	if got := withProcs(base, 0); len(got) != 1 {
		t.Errorf("withProcs(…, 0) = %q; want the environment unchanged", got)
	}
	got := withProcs(base, 1)
	if len(got) != 2 || got[1] != "GOMAXPROCS=1" {
		t.Errorf("withProcs(…, 1) = %q; want GOMAXPROCS=1 appended, after the inherited one", got)
	}
	if extra := base[:2]; extra[1] != "" {
		t.Errorf("withProcs wrote into the caller's spare capacity: %q", extra)
	}
}
