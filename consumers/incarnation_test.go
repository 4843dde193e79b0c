package consumers

import (
	"testing"
	"time"
)

func TestFetchErrorsOneLinePerTopicPerInterval(t *testing.T) {
	f := fetchErrors{interval: time.Minute}
	t0 := time.Unix(1000, 0)
	var lines []int
	for i := range 100_000 {
		now := t0.Add(time.Duration(i) * time.Millisecond) // 100 s of errors, 1,000 a second
		if log, n := f.note("payments", now); log {
			lines = append(lines, n)
		}
	}
	if len(lines) != 2 || lines[0] != 1 || lines[1] != 60_000 {
		t.Errorf("lines with their error counts %v, want [1 60000]: the first error, then one a minute", lines)
	}
	if log, _ := f.note("shipments", t0.Add(time.Second)); !log {
		t.Error("another topic's first error was not logged")
	}
}

func TestPollBackoff(t *testing.T) {
	var b pollBackoff
	var got []time.Duration
	for range 8 {
		got = append(got, b.next(3, 0))
	}
	want := []time.Duration{10, 20, 40, 80, 160, 320, 500, 500}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("waits %v, want %v ms", got, want)
		}
	}
	if d := b.next(3, 1); d != 0 {
		t.Errorf("a poll with records waits %v", d)
	}
	if d := b.next(1, 0); d != pollBackoffMin {
		t.Errorf("after records, the first error-only poll waits %v, want %v", d, pollBackoffMin)
	}
	if d := b.next(0, 0); d != 0 {
		t.Errorf("a poll without errors waits %v", d)
	}
}
