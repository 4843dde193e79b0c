package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func do(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func TestReadiness(t *testing.T) {
	var reason atomic.Pointer[error]
	set := func(err error) { reason.Store(&err) }
	set(errors.New("waiting to join the consumer group \"g\" since 12:01:02 (3s)"))
	var deadline atomic.Bool
	s := &Server{o: Options{Ready: func(ctx context.Context) error {
		_, ok := ctx.Deadline()
		deadline.Store(ok)
		return *reason.Load()
	}}}
	h := s.Handler()
	if code, body := do(t, h, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := do(t, h, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "waiting to join") {
		t.Errorf("/readyz before joining: %d %q", code, body)
	}
	if !deadline.Load() {
		t.Error("Ready was called without a deadline")
	}
	set(nil)
	if code, _ := do(t, h, "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz when ready: %d", code)
	}
	set(errors.New("ClickHouse does not answer: connection refused"))
	if code, body := do(t, h, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "ClickHouse") {
		t.Errorf("/readyz with ClickHouse down: %d %q", code, body)
	}
}

func TestRoutes(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("sluice_up 1\n")) })
	off := (&Server{o: Options{Metrics: metrics}}).Handler()
	on := (&Server{o: Options{Metrics: metrics, Pprof: true}}).Handler()
	for _, c := range []struct {
		h    http.Handler
		path string
		code int
		has  string
	}{
		{off, "/metrics", 200, "sluice_up 1"},
		{off, "/", 200, "<svg id=\"chart-eps\""},
		{off, "/nope", 404, ""},
		{off, "/debug/pprof/", 404, ""},
		{on, "/debug/pprof/", 200, "goroutine"},
		{on, "/debug/pprof/cmdline", 200, ""},
	} {
		if code, body := do(t, c.h, c.path); code != c.code || !strings.Contains(body, c.has) {
			t.Errorf("%s: %d (want %d), body has %q: %v", c.path, code, c.code, c.has, strings.Contains(body, c.has))
		}
	}
}

func TestIndexIsSelfContained(t *testing.T) {
	page := string(indexHTML)
	for _, bad := range []string{"http://", "https://", "<link", "src="} {
		if i := strings.Index(page, bad); i >= 0 && !strings.Contains(page[i:min(i+40, len(page))], "www.w3.org/2000/svg") {
			t.Errorf("status page refers to an external asset: %q", page[i:min(i+60, len(page))])
		}
	}
}

func TestStatusAndSampler(t *testing.T) {
	var records atomic.Int64
	errs := NewErrorLog(3)
	log := slog.New(errs.Handler(slog.DiscardHandler))
	srv, err := Start(Options{
		Addr:           "127.0.0.1:0",
		SampleInterval: 10 * time.Millisecond,
		History:        5,
		Errors:         errs,
		Info:           map[string]string{"group": "g"},
		Snapshot: func() Snapshot {
			n := records.Add(100)
			return Snapshot{Records: n, Lag: 7, LagKnown: true, InsertP50: 2 * time.Millisecond, InsertP99: 9 * time.Millisecond,
				Partitions: []Partition{{Topic: "payments", Partition: 1, Queued: 2, Paused: true, Lag: 7}}}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Close(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	log.Warn("store batch failed; retrying", "attempt", 1, "err", errors.New("connection refused"))
	log.Info("not kept")

	var st Status
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get("http://" + srv.Addr() + "/api/status")
		if err != nil {
			t.Fatal(err)
		}
		st = Status{}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(st.History) == 5 || time.Now().After(deadline) {
			break
		}
		<-tick.C // poll until the history is full or the deadline passes
	}
	if len(st.History) != 5 {
		t.Fatalf("history holds %d samples, want the last 5", len(st.History))
	}
	for i := 1; i < len(st.History); i++ {
		if st.History[i].Time.Before(st.History[i-1].Time) {
			t.Errorf("history not oldest first: %v", st.History)
		}
	}
	last := st.History[len(st.History)-1]
	if last.EventsPerS <= 0 || last.Lag != 7 || last.InsertP50ms != 2 || last.InsertP99ms != 9 {
		t.Errorf("last sample %+v", last)
	}
	if !st.Ready || st.Info["group"] != "g" || len(st.Partitions) != 1 || !st.Partitions[0].Paused {
		t.Errorf("status %+v", st)
	}
	if len(st.Errors) != 1 || st.Errors[0].Message != "store batch failed; retrying" || !strings.Contains(st.Errors[0].Attrs, "err=connection refused") {
		t.Errorf("errors %+v", st.Errors)
	}
}

func TestErrorLogRing(t *testing.T) {
	errs := NewErrorLog(2)
	log := slog.New(errs.Handler(slog.DiscardHandler)).With("component", "sink").WithGroup("g")
	log.Warn("one")
	log.Error("two", "err", "boom")
	log.Error("three", slog.Group("x", "k", "v"))
	log.Debug("dropped")
	got := errs.Entries()
	if len(got) != 2 || got[0].Message != "three" || got[1].Message != "two" {
		t.Fatalf("entries %+v, want three, two", got)
	}
	if got[1].Attrs != "component=sink g.err=boom" || got[0].Attrs != "component=sink g.x.k=v" || got[0].Level != "ERROR" {
		t.Errorf("attrs %q / %q", got[1].Attrs, got[0].Attrs)
	}
	long := strings.Repeat("x", 2*maxAttrs)
	slog.New(errs.Handler(slog.DiscardHandler)).Warn("long", "v", long)
	if a := errs.Entries()[0].Attrs; len(a) > maxAttrs+len("…") {
		t.Errorf("attrs not bounded: %d bytes", len(a))
	}
}
