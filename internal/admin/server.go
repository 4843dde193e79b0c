package admin

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"
)

//go:embed index.html
var indexHTML string

// ReadyTimeout bounds one readiness check.
const ReadyTimeout = time.Second

// Options configures a Server.
type Options struct {
	// Addr is the listen address, host:port (port 0 picks a free one; see Addr).
	Addr string
	// Pprof also serves /debug/pprof/.
	Pprof bool
	// Metrics serves /metrics; nil answers 404.
	Metrics http.Handler
	// Ready returns nil when the instance is ready, else the reason it is not. It is
	// called for every /readyz, /api/status and page request, with a context bounded
	// by ReadyTimeout; nil means always ready.
	Ready func(ctx context.Context) error
	// Snapshot returns the instance's state now. It must be cheap: it is called once
	// per second and on every /api/status request. Nil shows an empty page.
	Snapshot func() Snapshot
	// Errors are shown on the status page; nil shows none.
	Errors *ErrorLog
	// Info is shown on the status page as is, in key order (e.g. group, topics, the
	// broker and ClickHouse addresses). Never put secrets in it.
	Info map[string]string
	// Version names the running binary on the status page.
	Version string
	// Logger receives the server's own failures.
	Logger *slog.Logger
	// SampleInterval is how often the sampler records a point (default 1s); History
	// is how many points it keeps (default 120).
	SampleInterval time.Duration
	History        int
}

// Snapshot is what an instance reports to the status page at one moment.
type Snapshot struct {
	Records    int64 `json:"records"`
	Valid      int64 `json:"valid"`
	Invalid    int64 `json:"invalid"`
	Duplicates int64 `json:"duplicates"`
	Rows       int64 `json:"rows"`
	Flushes    int64 `json:"flushes"`
	Retries    int64 `json:"retries"`
	// Lag is the total consumer lag of the owned partitions; LagKnown is false (and
	// Lag 0) until the member has joined and every owned partition's lag was polled.
	Lag      int64 `json:"lag"`
	LagKnown bool  `json:"lag_known"`
	// InsertP50 and InsertP99 are over the recent Store calls (Inserts of them).
	InsertP50 time.Duration `json:"-"`
	InsertP99 time.Duration `json:"-"`
	Inserts   int           `json:"recent_inserts"`
	// LastInsert is when the last successful insert started (zero before any).
	LastInsert time.Time `json:"last_insert,omitzero"`
	// Freshness is the time from the Kafka timestamp of the events stored in the
	// last FreshnessWindow to their insert: FreshEvents of them, at the median and
	// the 99th percentile.
	FreshnessP50    time.Duration `json:"-"`
	FreshnessP99    time.Duration `json:"-"`
	FreshEvents     int64         `json:"fresh_events"`
	FreshnessWindow time.Duration `json:"-"`
	// FreshNowP50 and FreshNowP99 are the freshness of the events stored in the last
	// few seconds (FreshNowEvents of them), for the chart.
	FreshNowP50    time.Duration `json:"-"`
	FreshNowP99    time.Duration `json:"-"`
	FreshNowEvents int64         `json:"-"`
	// ClickHouseDown is since when ClickHouse has not answered (zero while it does).
	ClickHouseDown time.Time   `json:"clickhouse_down_since,omitzero"`
	Partitions     []Partition `json:"partitions"`
	// Topics are the per-topic counters, in name order.
	Topics []Topic `json:"topics"`
	// Members are the consumer group's members at MembersAt (zero before the first
	// look), or why they could not be listed (MembersError).
	Members      []Member  `json:"members"`
	MembersAt    time.Time `json:"members_at,omitzero"`
	MembersError string    `json:"members_error,omitempty"`
	// Memory is where the memory budget goes.
	Memory *Memory `json:"memory,omitempty"`
}

// Memory is the memory budget (SLUICE_MEMORY_LIMIT): its size and where it came
// from, the Go soft memory limit that goes with it (GOMEMLIMIT, when set, wins), one
// owned partition's shares now, and what all partitions hold against it.
type Memory struct {
	BudgetBytes  int64  `json:"budget_bytes"`
	From         string `json:"from"`
	GoLimitBytes int64  `json:"go_limit_bytes"`
	Partitions   int    `json:"partitions"`
	// FetchShareBytes is the fetched records a partition may hold before its
	// fetching pauses, BatchShareBytes the size each of its batches may always
	// grow to (busy partitions grow beyond it into the shared batch pool),
	// DedupShareIDs the ids its duplicate filter remembers at most.
	FetchShareBytes int64 `json:"fetch_share_bytes"`
	BatchShareBytes int64 `json:"batch_share_bytes"`
	DedupShareIDs   int64 `json:"dedup_share_ids"`
	FetchedBytes    int64 `json:"fetched_bytes"`
	BatchesBytes    int64 `json:"batches_bytes"`
	DedupBytes      int64 `json:"dedup_bytes"`
}

// Topic is one source topic's counters.
type Topic struct {
	Topic        string `json:"topic"`
	Records      int64  `json:"records"`
	Valid        int64  `json:"valid"`
	DeadLettered int64  `json:"dead_lettered"`
	Duplicates   int64  `json:"duplicates"`
	Committable  int64  `json:"committable"`
	// EventsPerS is filled in by the server from its samples.
	EventsPerS float64 `json:"events_per_s"`
	// DeadLetters are the dead letters of flushed batches by reason, most first.
	DeadLetters []ReasonCount `json:"dead_letters"`
}

// ReasonCount is how many records were dead-lettered for one reason.
type ReasonCount struct {
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
}

// Member is one member of the consumer group.
type Member struct {
	ID       string `json:"id"`
	ClientID string `json:"client_id"`
	Host     string `json:"host"`
	// Partitions is how many partitions the member was assigned.
	Partitions int `json:"partitions"`
	// Self marks this instance.
	Self bool `json:"self"`
}

// Partition is one owned partition on the status page.
type Partition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Queued    int    `json:"queued"`
	Paused    bool   `json:"paused"`
	// Lag is -1 when unknown.
	Lag int64 `json:"lag"`
}

// Sample is one point of the status page's charts.
type Sample struct {
	Time       time.Time `json:"t"`
	EventsPerS float64   `json:"events_per_s"`
	// TopicEventsPerS is the rate of each topic, in the order of Snapshot.Topics.
	TopicEventsPerS []TopicRate `json:"topics"`
	Lag             int64       `json:"lag"`
	LagKnown        bool        `json:"lag_known"`
	InsertP50ms     float64     `json:"insert_p50_ms"`
	InsertP99ms     float64     `json:"insert_p99_ms"`
	// Inserts is how many recent inserts the latencies cover (0: none to show).
	Inserts int `json:"recent_inserts"`
	// FreshP50ms and FreshP99ms are the freshness of the events stored in the last few
	// seconds; FreshEvents how many (0: none to show).
	FreshP50ms  float64 `json:"freshness_p50_ms"`
	FreshP99ms  float64 `json:"freshness_p99_ms"`
	FreshEvents int64   `json:"fresh_events"`
}

// TopicRate is one topic's records per second in a Sample.
type TopicRate struct {
	Topic      string  `json:"topic"`
	EventsPerS float64 `json:"events_per_s"`
}

// Status is the body of /api/status.
type Status struct {
	Now         time.Time         `json:"now"`
	Started     time.Time         `json:"started"`
	Info        map[string]string `json:"info"`
	Version     string            `json:"version"`
	Ready       bool              `json:"ready"`
	ReadyReason string            `json:"ready_reason,omitempty"`
	EventsPerS  float64           `json:"events_per_s"`
	InsertP50ms float64           `json:"insert_p50_ms"`
	InsertP99ms float64           `json:"insert_p99_ms"`
	// FreshnessP50ms and FreshnessP99ms are Snapshot's freshness quantiles, over the
	// last FreshnessWindowS seconds.
	FreshnessP50ms   float64 `json:"freshness_p50_ms"`
	FreshnessP99ms   float64 `json:"freshness_p99_ms"`
	FreshnessWindowS float64 `json:"freshness_window_s"`
	Snapshot
	Errors  []ErrorEntry `json:"errors"`
	History []Sample     `json:"history"`
}

// Server is a running admin listener.
type Server struct {
	o       Options
	ln      net.Listener
	srv     *http.Server
	started time.Time
	stop    context.CancelFunc
	wg      sync.WaitGroup

	mu       sync.Mutex // guards the fields below
	history  []Sample   // ring, oldest first once rotated by samples()
	next     int
	prev     Snapshot
	prevAt   time.Time
	lastRate float64
	// lastTopics are the per-topic rates of the last sample.
	lastTopics []TopicRate
}

// Start listens on o.Addr and serves until Close. It returns once the listener is
// bound, so Addr is valid at once.
func Start(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SampleInterval <= 0 {
		o.SampleInterval = time.Second
	}
	if o.History <= 0 {
		o.History = 120
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listen on %s: %w", o.Addr, err)
	}
	s := &Server{o: o, ln: ln, started: time.Now()}
	// The sampler's rates start from here.
	s.prev, s.prevAt = s.snapshot(), time.Now()
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.Logger.Error("admin server failed", "addr", ln.Addr().String(), "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		s.sample(ctx)
	}()
	return s, nil
}

// Addr is the bound address, host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the sampler and the server, waiting for requests in flight until ctx
// is done, and returns once both goroutines have ended.
func (s *Server) Close(ctx context.Context) error {
	s.stop()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	s.wg.Wait()
	return err
}

// Handler returns the server's routes; it is what Start serves.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	if s.o.Metrics != nil {
		mux.Handle("GET /metrics", s.o.Metrics)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := s.checkReady(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(s.status(r.Context()))
	})
	// The page is drawn here, on the server, so it reads right before (or without)
	// scripts; its script then fetches ?view=live every second and swaps that part.
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
		name := "page"
		if r.URL.Query().Get("view") == "live" {
			name = "live"
		}
		var b bytes.Buffer
		if err := page.ExecuteTemplate(&b, name, newView(s.status(r.Context()))); err != nil {
			s.o.Logger.Error("status page failed", "err", err)
			http.Error(w, "status page failed; see the log", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(b.Bytes())
	})
	if s.o.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// checkReady runs Options.Ready under ReadyTimeout.
func (s *Server) checkReady(ctx context.Context) error {
	if s.o.Ready == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, ReadyTimeout)
	defer cancel()
	return s.o.Ready(ctx)
}

func (s *Server) snapshot() Snapshot {
	if s.o.Snapshot == nil {
		return Snapshot{}
	}
	return s.o.Snapshot()
}

// sample records one Sample per SampleInterval until ctx is done. Start took the
// first snapshot.
func (s *Server) sample(ctx context.Context) {
	t := time.NewTicker(s.o.SampleInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		snap, now := s.snapshot(), time.Now()
		s.mu.Lock()
		rate := 0.0
		if dt := now.Sub(s.prevAt).Seconds(); dt > 0 {
			rate = float64(snap.Records-s.prev.Records) / dt
		}
		p := Sample{Time: now, EventsPerS: rate, Lag: snap.Lag, LagKnown: snap.LagKnown, Inserts: snap.Inserts,
			InsertP50ms: ms(snap.InsertP50), InsertP99ms: ms(snap.InsertP99),
			TopicEventsPerS: topicRates(s.prev.Topics, snap.Topics, now.Sub(s.prevAt)),
			FreshP50ms:      ms(snap.FreshNowP50), FreshP99ms: ms(snap.FreshNowP99), FreshEvents: snap.FreshNowEvents}
		s.prev, s.prevAt, s.lastRate, s.lastTopics = snap, now, rate, p.TopicEventsPerS
		if len(s.history) < s.o.History {
			s.history = append(s.history, p)
		} else {
			s.history[s.next] = p
			s.next = (s.next + 1) % len(s.history)
		}
		s.mu.Unlock()
	}
}

// status assembles /api/status and the page: readiness checked now (before the
// snapshot, so that both tell the same story), the snapshot, the rates of the last
// sample, the errors and the history.
func (s *Server) status(ctx context.Context) Status {
	ready := s.checkReady(ctx)
	snap := s.snapshot()
	st := Status{
		Now: time.Now(), Started: s.started, Info: s.o.Info, Version: s.o.Version, Snapshot: snap,
		InsertP50ms: ms(snap.InsertP50), InsertP99ms: ms(snap.InsertP99),
		FreshnessP50ms: ms(snap.FreshnessP50), FreshnessP99ms: ms(snap.FreshnessP99), FreshnessWindowS: snap.FreshnessWindow.Seconds(),
		Errors: []ErrorEntry{},
	}
	if st.Partitions == nil {
		st.Partitions = []Partition{}
	}
	if st.Topics == nil {
		st.Topics = []Topic{}
	}
	if st.Members == nil {
		st.Members = []Member{}
	}
	if s.o.Errors != nil {
		st.Errors = s.o.Errors.Entries()
	}
	s.mu.Lock()
	st.EventsPerS = s.lastRate
	for i := range st.Topics {
		for _, r := range s.lastTopics {
			if r.Topic == st.Topics[i].Topic {
				st.Topics[i].EventsPerS = r.EventsPerS
			}
		}
	}
	st.Ready = ready == nil
	if ready != nil {
		st.ReadyReason = ready.Error()
	}
	st.History = make([]Sample, 0, len(s.history))
	st.History = append(st.History, s.history[s.next:]...)
	st.History = append(st.History, s.history[:s.next]...)
	s.mu.Unlock()
	return st
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// topicRates is each topic's records per second between two snapshots dt apart.
func topicRates(prev, now []Topic, dt time.Duration) []TopicRate {
	out := make([]TopicRate, 0, len(now))
	for _, t := range now {
		r := TopicRate{Topic: t.Topic}
		for _, p := range prev {
			if p.Topic == t.Topic && dt > 0 {
				r.EventsPerS = float64(t.Records-p.Records) / dt.Seconds()
			}
		}
		out = append(out, r)
	}
	return out
}
