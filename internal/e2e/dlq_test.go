package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/producers"
)

// TestDeadLetterRoundTrip follows an invalid event the way an operator would: it is
// published on purpose (sluice produce --allow-invalid), dead-lettered by a running
// instance with its source Kafka timestamp, found with sluice dlq --reason, fixed,
// and republished with sluice dlq --republish; then ClickHouse holds every event
// once.
func TestDeadLetterRoundTrip(t *testing.T) {
	s := newStack(t, 1, nil)
	s.start(t, "a")
	brokers := strings.Join(s.kafka.Brokers(), ",")
	sluice := func(stdin []byte, args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.Command(sluiceBinary(t), args...)
		cmd.Env = os.Environ()
		for k, v := range s.env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		var out, errOut bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(stdin), &out, &errOut
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), out.String(), errOut.String()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, out.String(), errOut.String()
	}
	now := time.Now().UTC().Format(time.RFC3339)
	event := func(id, currency string) string {
		return `{"event_id":"` + id + `","event_type":"payment.captured","occurred_at":"` + now +
			`","merchant_id":"m_1","amount_minor":100,"currency":"` + currency + `"}`
	}
	input := event("e1", "INR") + "\n" + event("e2", "inr") + "\n" + event("e3", "USD") + "\n"
	if code, out, errOut := sluice([]byte(input), "produce", "--brokers", brokers, "--topic", "payments", "--allow-invalid"); code != 0 {
		t.Fatalf("produce --allow-invalid: exit %d\n%s%s", code, out, errOut)
	}
	committed := func() bool {
		lag, err := s.kafka.GroupLag(t.Context(), s.cfg.Kafka.Group, "payments")
		return err == nil && lag == 0
	}
	waitFor(t, 2*time.Minute, "the three records committed", committed)

	code, printed, errOut := sluice(nil, "dlq", "--brokers", brokers, "--reason", "bad_format")
	if code != 0 || strings.Count(printed, "\n") != 1 {
		t.Fatalf("dlq --reason bad_format: exit %d, want 1 line:\n%s%s", code, printed, errOut)
	}
	var line struct {
		Source struct {
			Topic     string `json:"topic"`
			Partition int32  `json:"partition"`
			Offset    int64  `json:"offset"`
			Timestamp string `json:"timestamp"`
		} `json:"source"`
		Value string `json:"value"`
	}
	if err := json.Unmarshal([]byte(printed), &line); err != nil {
		t.Fatal(err)
	}
	var src *kgo.Record
	s.consumeAll(t, []string{"payments"}, func(r *kgo.Record) {
		if r.Partition == line.Source.Partition && r.Offset == line.Source.Offset {
			src = r
		}
	})
	if src == nil || !strings.Contains(string(src.Value), `"e2"`) {
		t.Fatalf("the dead letter points at payments/%d/%d, not the invalid record", line.Source.Partition, line.Source.Offset)
	}
	if want := src.Timestamp.UTC().Format(producers.SourceTimestampFormat); line.Source.Timestamp != want {
		t.Errorf("source timestamp %q, want the record's %q", line.Source.Timestamp, want)
	}

	// The operator's edit: the value, inside the printed line, with the currency fixed.
	var edit map[string]any
	if err := json.Unmarshal([]byte(printed), &edit); err != nil {
		t.Fatal(err)
	}
	edit["value"] = strings.Replace(line.Value, `"inr"`, `"INR"`, 1)
	fixed, err := json.Marshal(edit)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "fixed.ndjson")
	if err := os.WriteFile(file, fixed, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := sluice(nil, "dlq", "--brokers", brokers, "--republish", file); code != 0 || !strings.Contains(out, "1 republished") {
		t.Fatalf("dlq --republish: exit %d\n%s%s", code, out, errOut)
	}
	waitFor(t, 2*time.Minute, "the republished record stored", func() bool { return committed() && s.storedPayments(t) == 3 })
}
