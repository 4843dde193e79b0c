package e2e

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// lagStatus is the lag part of /api/status.
type lagStatus struct {
	Lag        int64 `json:"lag"`
	LagKnown   bool  `json:"lag_known"`
	Partitions []struct {
		Lag int64 `json:"lag"`
	} `json:"partitions"`
}

// TestLagUnknownUntilPolled checks that a new member facing a backlog shows its lag as
// unknown — lag_known false on /api/status, no sluice_consumer_lag series — until
// it has joined and its partitions were polled, never as 0; and that once the backlog
// is committed the lag it shows is 0 for every partition.
func TestLagUnknownUntilPolled(t *testing.T) {
	s := newStack(t, 2, nil)
	open, refused := holdJoins(s)
	s.publish(t, generator(t, 71, 3000, 1000, 0, 0), 0)
	in := s.start(t, "a")
	base := "http://" + in.in.HTTPAddr()
	status := func() lagStatus {
		t.Helper()
		code, body := get(t, base+"/api/status")
		var st lagStatus
		if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil {
			t.Fatalf("/api/status: %d %v %q", code, err, body)
		}
		return st
	}
	// Turned away twice: the poll at start (which owns nothing yet) is long done.
	waitFor(t, time.Minute, "two refused joins", func() bool { return refused.Load() >= 2 })
	if st := status(); st.LagKnown || st.Lag != 0 {
		t.Errorf("before joining: %+v, want lag unknown", st)
	}
	if _, ok := scrape(t, base)["sluice_consumer_lag"]; ok {
		t.Error("sluice_consumer_lag has series before the member owns a partition")
	}
	open()
	waitFor(t, time.Minute, "lag known", func() bool { return status().LagKnown })
	waitFor(t, 2*time.Minute, "all offsets committed", func() bool { return s.committedAll(t) })
	waitFor(t, time.Minute, "lag 0 on all 4 partitions", func() bool {
		st := status()
		if !st.LagKnown || st.Lag != 0 || len(st.Partitions) != 4 {
			return false
		}
		for _, p := range st.Partitions {
			if p.Lag != 0 {
				return false
			}
		}
		return true
	})
}

// holdJoins keeps members out of s's group until open is called: JoinGroup answers
// a retriable error meanwhile. refused counts the joins turned away.
func holdJoins(s *stack) (open func(), refused *atomic.Int32) {
	var closed atomic.Bool
	closed.Store(true)
	refused = new(atomic.Int32)
	cluster := s.kafka.Cluster()
	cluster.ControlKey(kmsg.JoinGroup.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		if !closed.Load() {
			return nil, nil, false
		}
		refused.Add(1)
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
		return resp, nil, true
	})
	return func() { closed.Store(false) }, refused
}
