package pipeline

import (
	"fmt"
	"testing"
)

func TestStatsPerTopic(t *testing.T) {
	var s Stats
	pay := s.Topic("payments")
	if s.Topic("payments") != pay {
		t.Fatal("Topic returned new counters for a known topic")
	}
	pay.Records.Add(3)
	s.Topic("shipments").addInvalidReasons(map[string]int64{"bad_enum": 2, "too_late": 1})
	pay.addInvalidReasons(map[string]int64{"bad_enum": 4})
	var got string
	s.Topics(func(topic string, ts *TopicStats) {
		got += fmt.Sprintf("%s:%d ", topic, ts.Records.Load())
		ts.InvalidByReason(func(r string, n int64) { got += fmt.Sprintf("%s=%d ", r, n) })
	})
	s.InvalidByReason(func(r string, n int64) { got += fmt.Sprintf("all.%s=%d ", r, n) })
	if want := "payments:3 bad_enum=4 shipments:0 bad_enum=2 too_late=1 all.bad_enum=6 all.too_late=1 "; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
