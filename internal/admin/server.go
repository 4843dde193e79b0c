package admin

import (
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
var indexHTML []byte

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
	// called with a context bounded by ReadyTimeout; nil means always ready.
	Ready func(ctx context.Context) error
	// Snapshot returns the instance's state now. It must be cheap: it is called once
	// per second and on every /api/status request. Nil shows an empty page.
	Snapshot func() Snapshot
	// Errors are shown on the status page; nil shows none.
	Errors *ErrorLog
	// Info is shown on the status page as is (e.g. group, topics, database). Never put
	// secrets in it.
	Info map[string]string
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
	InsertP50  time.Duration `json:"-"`
	InsertP99  time.Duration `json:"-"`
	Inserts    int           `json:"recent_inserts"`
	Partitions []Partition   `json:"partitions"`
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
	Time        time.Time `json:"t"`
	EventsPerS  float64   `json:"events_per_s"`
	Lag         int64     `json:"lag"` // -1 while unknown (Snapshot.LagKnown false)
	InsertP50ms float64   `json:"insert_p50_ms"`
	InsertP99ms float64   `json:"insert_p99_ms"`
}

// Status is the body of /api/status.
type Status struct {
	Now         time.Time         `json:"now"`
	Started     time.Time         `json:"started"`
	Info        map[string]string `json:"info"`
	Ready       bool              `json:"ready"`
	ReadyReason string            `json:"ready_reason,omitempty"`
	EventsPerS  float64           `json:"events_per_s"`
	InsertP50ms float64           `json:"insert_p50_ms"`
	InsertP99ms float64           `json:"insert_p99_ms"`
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
	ready    error
	readyAt  time.Time
	lastRate float64
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
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(s.status())
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
		_, _ = w.Write(indexHTML)
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

// sample records one Sample per SampleInterval until ctx is done.
func (s *Server) sample(ctx context.Context) {
	t := time.NewTicker(s.o.SampleInterval)
	defer t.Stop()
	s.mu.Lock()
	s.prev, s.prevAt = s.snapshot(), time.Now()
	s.mu.Unlock()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		snap, now := s.snapshot(), time.Now()
		ready := s.checkReady(ctx)
		s.mu.Lock()
		rate := 0.0
		if dt := now.Sub(s.prevAt).Seconds(); dt > 0 {
			rate = float64(snap.Records-s.prev.Records) / dt
		}
		s.prev, s.prevAt, s.lastRate = snap, now, rate
		s.ready, s.readyAt = ready, now
		p := Sample{Time: now, EventsPerS: rate, Lag: snap.Lag, InsertP50ms: ms(snap.InsertP50), InsertP99ms: ms(snap.InsertP99)}
		if !snap.LagKnown {
			p.Lag = -1
		}
		if len(s.history) < s.o.History {
			s.history = append(s.history, p)
		} else {
			s.history[s.next] = p
			s.next = (s.next + 1) % len(s.history)
		}
		s.mu.Unlock()
	}
}

// status assembles /api/status: the snapshot now, the rate and readiness of the
// last sample, the errors and the history.
func (s *Server) status() Status {
	snap := s.snapshot()
	st := Status{
		Now: time.Now(), Started: s.started, Info: s.o.Info, Snapshot: snap,
		InsertP50ms: ms(snap.InsertP50), InsertP99ms: ms(snap.InsertP99),
		Errors: []ErrorEntry{},
	}
	if st.Partitions == nil {
		st.Partitions = []Partition{}
	}
	if s.o.Errors != nil {
		st.Errors = s.o.Errors.Entries()
	}
	s.mu.Lock()
	st.EventsPerS = s.lastRate
	st.Ready = s.ready == nil && !s.readyAt.IsZero()
	switch {
	case s.readyAt.IsZero():
		st.ReadyReason = "not checked yet"
	case s.ready != nil:
		st.ReadyReason = s.ready.Error()
	}
	st.History = make([]Sample, 0, len(s.history))
	st.History = append(st.History, s.history[s.next:]...)
	st.History = append(st.History, s.history[:s.next]...)
	s.mu.Unlock()
	return st
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
