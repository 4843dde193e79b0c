package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestUnknownLagSamples checks that chart samples taken while the lag is unknown say
// so (LagKnown false: the chart leaves a gap), and those taken once it is known
// carry it.
func TestUnknownLagSamples(t *testing.T) {
	var known atomic.Bool
	srv, err := Start(Options{
		Addr: "127.0.0.1:0", SampleInterval: 5 * time.Millisecond, History: 1000,
		Snapshot: func() Snapshot {
			if known.Load() {
				return Snapshot{Lag: 3, LagKnown: true}
			}
			return Snapshot{}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	history := func() []Sample {
		resp, err := http.Get("http://" + srv.Addr() + "/api/status")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st Status
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		return st.History
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for len(history()) == 0 {
		<-tick.C // until the first sample
	}
	known.Store(true)
	var h []Sample
	for h = history(); !h[len(h)-1].LagKnown || h[len(h)-1].Lag != 3; h = history() {
		<-tick.C // until a sample with the known lag
	}
	if h[0].LagKnown {
		t.Errorf("a sample taken while the lag was unknown says it is known (lag %d)", h[0].Lag)
	}
}
