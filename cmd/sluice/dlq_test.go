package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/producers"
)

// deadLetters publishes srcs to the payments topic of brokers, reads them back as a
// consumer would, and dead-letters each with its reason, as Sluice does.
func deadLetters(t *testing.T, brokers string, srcs []*kgo.Record, reasons []string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(t.Context(), srcs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	dl := producers.NewDeadLetters(cl, "sluice.dlq", producers.ConsumerGroup("sluice"))
	var wg sync.WaitGroup
	for i, r := range srcs {
		wg.Add(1)
		dl.Send(t.Context(), r, reasons[i], "detail", func(err error) {
			if err != nil {
				t.Error(err)
			}
			wg.Done()
		})
	}
	wg.Wait()
}

// TestDLQCommand dead-letters three records, prints them with each filter, fixes one
// printed value and republishes the lines: the fixed one reaches its source topic
// with its key, headers and source timestamp, the still invalid one is reported and
// left out (exit 1).
func TestDLQCommand(t *testing.T) {
	brokers := fakeKafka(t, "payments", "sluice.dlq")
	good := `{"event_id":"e1","event_type":"payment.captured","occurred_at":"2026-01-05T09:00:00Z","merchant_id":"m_1","amount_minor":100,"currency":"INR"}`
	srcTime := time.Date(2026, 1, 5, 9, 0, 1, 234_000_000, time.UTC)
	srcs := []*kgo.Record{
		{Topic: "payments", Key: []byte("m_1"), Value: []byte(strings.Replace(good, `"INR"`, `"inr"`, 1)), Timestamp: srcTime,
			Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t-1")}}},
		{Topic: "payments", Key: []byte("m_2"), Value: []byte{0xff, 0x00}, Timestamp: srcTime},
		{Topic: "payments", Value: []byte(`{"event_id":`), Timestamp: srcTime},
	}
	deadLetters(t, brokers, srcs, []string{"bad_format", "malformed_json", "malformed_json"})

	lines := func(args ...string) []dlqLine {
		t.Helper()
		code, out, errOut := run(t, append([]string{"dlq", "--brokers", brokers}, args...)...)
		if code != 0 {
			t.Fatalf("dlq %v: exit %d, stderr %q", args, code, errOut)
		}
		var ls []dlqLine
		for _, s := range strings.Split(strings.TrimSpace(out), "\n") {
			if s == "" {
				continue
			}
			var l dlqLine
			if err := json.Unmarshal([]byte(s), &l); err != nil {
				t.Fatalf("dlq %v: line %q: %v", args, s, err)
			}
			ls = append(ls, l)
		}
		return ls
	}
	all := lines()
	if len(all) != 3 {
		t.Fatalf("%d dead letters printed, want 3", len(all))
	}
	for _, f := range []struct {
		args []string
		want int
	}{
		{[]string{"--reason", "malformed_json"}, 2},
		{[]string{"--reason", "bad_format,malformed_json"}, 3},
		{[]string{"--topic", "shipments"}, 0},
		{[]string{"--topic", "payments", "--reason", "bad_format"}, 1},
		{[]string{"--since", "1h"}, 3},
		{[]string{"--since", time.Now().Add(time.Hour).Format(time.RFC3339)}, 0},
		{[]string{"--until", "1h"}, 0},
		{[]string{"--limit", "2"}, 2},
	} {
		if got := lines(f.args...); len(got) != f.want {
			t.Errorf("dlq %v: %d printed, want %d", f.args, len(got), f.want)
		}
	}
	var fix dlqLine
	for _, l := range all {
		if l.Source.Timestamp != "2026-01-05T09:00:01.234Z" || l.Source.Topic != "payments" || l.Group != "sluice" || l.FailedAt == "" {
			t.Errorf("printed %+v: want the source timestamp, topic and group", l)
		}
		switch {
		case l.Reason == "bad_format":
			fix = l
			if l.Key == nil || *l.Key != "m_1" || len(l.Headers) != 1 || *l.Headers[0].Value != "t-1" {
				t.Errorf("bad_format line %+v: want key m_1 and header trace=t-1", l)
			}
		case l.Value == nil && !bytes.Equal(l.ValueBase64, []byte{0xff, 0x00}):
			t.Errorf("binary value printed as %+v, want value_base64", l)
		}
	}

	// Fix the currency of the bad_format record; republish it and a still broken one.
	v := strings.Replace(*fix.Value, `"inr"`, `"INR"`, 1)
	fix.Value = &v
	fixed, _ := json.Marshal(fix)
	broken, _ := json.Marshal(all[len(all)-1])
	if all[len(all)-1].Reason == "bad_format" {
		broken, _ = json.Marshal(all[0])
	}
	file := filepath.Join(t.TempDir(), "fixed.ndjson")
	if err := os.WriteFile(file, []byte(string(fixed)+"\n"+string(broken)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "dlq", "--brokers", brokers, "--republish", file)
	if code != exitInvalid || !strings.Contains(out, "1 republished, 1 invalid") || !strings.Contains(errOut, file+":2:") {
		t.Fatalf("--republish: exit %d, stdout %q, stderr %q; want %d, 1 republished and line 2 reported", code, out, errOut, exitInvalid)
	}
	recs := fetchAll(t, brokers, "payments", len(srcs)+1)
	got := recs[len(recs)-1]
	for _, r := range recs {
		if len(r.Headers) > 1 {
			got = r
		}
	}
	if string(got.Value) != v || string(got.Key) != "m_1" || !got.Timestamp.Equal(srcTime) {
		t.Errorf("republished %q key %q at %v; want the fixed value, m_1, %v", got.Value, got.Key, got.Timestamp, srcTime)
	}
	wantFrom := "payments/" + itoa32(fix.Source.Partition) + "/" + itoa64(fix.Source.Offset)
	if len(got.Headers) != 2 || got.Headers[0].Key != "trace" || got.Headers[1].Key != headerRepublishedFrom || string(got.Headers[1].Value) != wantFrom {
		t.Errorf("republished headers %v, want trace and %s=%s", got.Headers, headerRepublishedFrom, wantFrom)
	}
}

// TestDLQCommandErrors checks that a missing dead-letter topic and a dead broker are
// clear errors within --timeout, and bad flags usage errors.
func TestDLQCommandErrors(t *testing.T) {
	brokers := fakeKafka(t, "payments")
	if code, _, errOut := run(t, "dlq", "--brokers", brokers, "--dlq-topic", "nope"); code != 1 || !strings.Contains(errOut, `"nope" does not exist`) {
		t.Errorf("missing topic: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := run(t, "dlq", "--brokers", closedPort(t), "--timeout", "1s"); code != 1 || !strings.Contains(errOut, "--timeout=1s") {
		t.Errorf("dead broker: exit %d, stderr %q", code, errOut)
	}
	for _, args := range [][]string{{"--since", "yesterday"}, {"--limit", "-1"}, {"--timeout", "0s"}, {"extra"},
		{"--republish", "-", "--reason", "too_late"}, {"--now"}} {
		if code, _, _ := run(t, append([]string{"dlq"}, args...)...); code != 2 {
			t.Errorf("dlq %v: exit %d, want 2", args, code)
		}
	}
}

func itoa32(n int32) string { return strconv.Itoa(int(n)) }
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// TestREADMEHeaders checks that the README's header table lists exactly the sluice.*
// headers Sluice writes.
func TestREADMEHeaders(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{producers.HeaderReason, producers.HeaderDetail, producers.HeaderSourceTopic,
		producers.HeaderSourcePartition, producers.HeaderSourceOffset, producers.HeaderSourceTimestamp,
		producers.HeaderGroup, producers.HeaderFailedAt, producers.HeaderTruncated, producers.HeaderOriginalSize,
		producers.HeaderOriginalSHA256, headerRepublishedFrom}
	var got []string
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "| `sluice."); ok {
			name, _, _ := strings.Cut(rest, "`")
			if cells := strings.Split(line, "|"); len(cells) == 5 && strings.TrimSpace(cells[2]) != "" && strings.TrimSpace(cells[3]) != "" {
				got = append(got, "sluice."+name)
			}
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("README header table (with meaning and format) lists %v, want %v", got, want)
	}
}
