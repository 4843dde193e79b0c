package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/producers"
	"github.com/sluicehq/sluice/producers/loadgen"
)

// otlpReceiver is an OTLP/HTTP traces endpoint that decodes the real protobuf
// messages and keeps every span.
type otlpReceiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	requests int
	spans    []*tracepb.Span
	service  []string // service.name of each resource
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("OTLP request %s %s (%s)", req.Method, req.URL.Path, req.Header.Get("Content-Type"))
			http.Error(w, "want POST /v1/traces application/x-protobuf", http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(req.Body)
		var msg coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &msg)
		}
		if err != nil {
			t.Errorf("OTLP request: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.requests++
		for _, rs := range msg.GetResourceSpans() {
			for _, a := range rs.GetResource().GetAttributes() {
				if a.GetKey() == "service.name" {
					r.service = append(r.service, a.GetValue().GetStringValue())
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				r.spans = append(r.spans, ss.GetSpans()...)
			}
		}
		r.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *otlpReceiver) snapshot() (int, []*tracepb.Span, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests, slices.Clone(r.spans), slices.Clone(r.service)
}

// tracedPublish publishes every record of gen with the producers library, each inside
// its own span of a test tracer provider, and returns each event_id's span context.
func (s *stack) tracedPublish(t *testing.T, gen *loadgen.Generator) map[string]trace.SpanContext {
	t.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr := tp.Tracer("test-publisher")
	pub, err := producers.NewPublisher(producers.Brokers(s.kafka.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]trace.SpanContext{}
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for {
		rec, ok := gen.Next()
		if !ok {
			break
		}
		ctx, span := tr.Start(t.Context(), "publish")
		var ev struct {
			EventID string `json:"event_id"`
		}
		_ = json.Unmarshal(rec.Value, &ev)
		out[ev.EventID] = span.SpanContext()
		wg.Add(1)
		pub.ProduceAt(ctx, rec.Topic, rec.Key, rec.Value, rec.Timestamp, func(err error) {
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
			wg.Done()
		})
		span.End()
	}
	wg.Wait()
	pub.Close()
	select {
	case err := <-errs:
		t.Fatalf("publish: %v", err)
	default:
	}
	return out
}

func attrs(kvs []*commonpb.KeyValue) map[string]*commonpb.AnyValue {
	m := map[string]*commonpb.AnyValue{}
	for _, kv := range kvs {
		m[kv.GetKey()] = kv.GetValue()
	}
	return m
}

// TestTracing publishes traced payments (and one traced invalid shipment) with the
// producers library to an instance that exports to an OTLP/HTTP receiver in the test,
// and checks: each stored event's trace is linked from the flush span that stored
// it, whose offsets are ClickHouse's _offset range of its rows and whose attributes
// and child spans (decode, dedup, ledger, store with one insert per table, commit)
// are there; the dead letter keeps the record's traceparent. Then, with the SDK
// disabled, nothing is exported.
func TestTracing(t *testing.T) {
	recv := newOTLPReceiver(t)
	s := newStack(t, 2, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": recv.srv.URL, "OTEL_SERVICE_NAME": "sluice-e2e"})
	if !s.cfg.Tracing.Enabled() {
		t.Fatal("tracing is off in the test's configuration")
	}
	published := s.tracedPublish(t, generator(t, 19, 300, 40, 0, 0))
	bad := s.tracedPublish(t, invalidShipment(t))
	in := s.start(t, "a")
	waitFor(t, time.Minute, "all offsets committed", func() bool { return s.committedAll(t) })
	in.stop(t) // exports the last spans

	_, spans, services := recv.snapshot()
	if len(spans) == 0 || !slices.Contains(services, "sluice-e2e") {
		t.Fatalf("%d spans exported, services %v", len(spans), services)
	}
	byID := map[string]*tracepb.Span{}
	children := map[string][]*tracepb.Span{}
	for _, sp := range spans {
		byID[string(sp.GetSpanId())] = sp
		children[string(sp.GetParentSpanId())] = append(children[string(sp.GetParentSpanId())], sp)
	}
	names := func(ss []*tracepb.Span) []string {
		var out []string
		for _, sp := range ss {
			out = append(out, sp.GetName())
		}
		slices.Sort(out)
		return out
	}

	// Every stored payment: its flush span covers its offset and links its trace.
	type row struct {
		id   string
		part int32
		off  int64
	}
	var rows []row
	q, err := s.ch.Conn(t).Query(t.Context(), "SELECT event_id, _partition, _offset FROM `"+s.ch.Database+"`.payments")
	if err != nil {
		t.Fatal(err)
	}
	for q.Next() {
		var r row
		if err := q.Scan(&r.id, &r.part, &r.off); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	q.Close()
	if len(rows) != 300 {
		t.Fatalf("%d payment rows stored, 300 published", len(rows))
	}
	flushes, allLinked := 0, 0
	for _, sp := range spans {
		if sp.GetName() != "flush payments" {
			continue
		}
		flushes++
		a := attrs(sp.GetAttributes())
		part, first, last := int32(a["sluice.partition"].GetIntValue()), a["sluice.offset.first"].GetIntValue(), a["sluice.offset.last"].GetIntValue()
		var in []row
		for _, r := range rows {
			if r.part == part && r.off >= first && r.off <= last {
				in = append(in, r)
			}
		}
		if len(in) == 0 || slices.MinFunc(in, func(a, b row) int { return int(a.off - b.off) }).off != first ||
			slices.MaxFunc(in, func(a, b row) int { return int(a.off - b.off) }).off != last {
			t.Errorf("flush span %d/[%d, %d] does not match the _offset range of its %d rows", part, first, last, len(in))
		}
		if got := a["sluice.events"].GetIntValue(); got != int64(len(in)) {
			t.Errorf("flush span %d/[%d, %d]: sluice.events %d, %d rows", part, first, last, got, len(in))
		}
		if got := a["sluice.rows.payments"].GetIntValue(); got != int64(len(in)) {
			t.Errorf("flush span %d/[%d, %d]: sluice.rows.payments %d, %d rows", part, first, last, got, len(in))
		}
		// The token names the topic's incarnation: group:payments@<topic id>:partition:first-last.
		if tok := a["sluice.token"].GetStringValue(); a["sluice.topic"].GetStringValue() != "payments" || !strings.Contains(tok, ":payments@") ||
			!strings.HasSuffix(tok, ":"+itoa(int64(part))+":"+itoa(first)+"-"+itoa(last)) {
			t.Errorf("flush span attributes %v", a)
		}
		if _, ok := a["sluice.rows.payments_1m"]; !ok {
			t.Errorf("flush span without rows of payments_1m: %v", a)
		}
		links := map[string]bool{}
		for _, l := range sp.GetLinks() {
			links[hex.EncodeToString(l.GetTraceId())+"/"+hex.EncodeToString(l.GetSpanId())] = true
		}
		// Every event's trace is linked, up to pipeline.MaxLinks; the others are counted.
		linked := 0
		for _, r := range in {
			sc := published[r.id]
			if links[sc.TraceID().String()+"/"+sc.SpanID().String()] {
				linked++
			}
		}
		dropped := a["sluice.links_dropped"].GetIntValue()
		if want := min(len(in), pipeline.MaxLinks); linked != want || len(links) != want || dropped != int64(len(in)-want) {
			t.Errorf("flush span %d/[%d, %d] of %d events links %d of them (%d links, %d dropped), want %d linked and %d dropped",
				part, first, last, len(in), linked, len(links), dropped, want, len(in)-want)
		}
		if len(in) <= pipeline.MaxLinks {
			allLinked++
		}
		kids := children[string(sp.GetSpanId())]
		if got, want := names(kids), []string{"commit", "decode", "ledger", "store"}; !slices.Equal(got, want) {
			t.Errorf("flush span %d/[%d, %d] children %v, want %v", part, first, last, got, want)
		}
		for _, k := range kids {
			if k.GetName() != "store" {
				continue
			}
			if got, want := names(children[string(k.GetSpanId())]), []string{"insert payments", "insert payments_1m"}; !slices.Equal(got, want) {
				t.Errorf("store span children %v, want %v", got, want)
			}
		}
	}
	if flushes == 0 || allLinked == 0 {
		t.Fatalf("%d flush spans for payments, %d with every event linked", flushes, allLinked)
	}

	// The dead letter keeps the invalid record's trace context.
	var dlq []*kgo.Record
	s.consumeAll(t, []string{"sluice.dlq"}, func(r *kgo.Record) { dlq = append(dlq, r) })
	if len(dlq) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dlq))
	}
	var sc trace.SpanContext
	for _, v := range bad {
		sc = v
	}
	var tp []byte
	for _, h := range dlq[0].Headers {
		if h.Key == producers.HeaderTraceparent {
			tp = h.Value
		}
	}
	if !bytes.Equal(tp, producers.Traceparent(sc)) {
		t.Errorf("dead letter traceparent %q, want %q", tp, producers.Traceparent(sc))
	}

	// Tracing off (the SDK disabled, the endpoint still set): nothing is exported,
	// although the records carry trace context.
	off := newOTLPReceiver(t)
	s2 := newStack(t, 2, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": off.srv.URL, "OTEL_SDK_DISABLED": "true"})
	s2.tracedPublish(t, generator(t, 20, 100, 20, 0, 0))
	in2 := s2.start(t, "b")
	waitFor(t, time.Minute, "all offsets committed with tracing off", func() bool { return s2.committedAll(t) })
	in2.stop(t)
	if n, spans, _ := off.snapshot(); n != 0 || len(spans) != 0 {
		t.Errorf("tracing off: %d export requests, %d spans", n, len(spans))
	}
}

// invalidShipment is a generator of one shipment that fails validation.
func invalidShipment(t *testing.T) *loadgen.Generator {
	t.Helper()
	gen, err := loadgen.NewGenerator(loadgen.Config{Seed: 5, Shipments: 1, InvalidRate: 1})
	if err != nil {
		t.Fatal(err)
	}
	return gen
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
