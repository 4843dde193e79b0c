package main

import (
	"bytes"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/sluicehq/sluice/producers"
)

// With OTEL_EXPORTER_OTLP_ENDPOINT set, loadgen publishes every record in a span of
// its own, exported over OTLP/HTTP, and the record carries that span's traceparent.
func TestLoadgenTraced(t *testing.T) {
	var mu sync.Mutex
	spans := map[string]bool{} // traceparent-style "traceid-spanid" of exported publish spans
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var msg coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &msg); err != nil {
			t.Errorf("OTLP request: %v", err)
		}
		mu.Lock()
		for _, rs := range msg.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					if strings.HasPrefix(s.GetName(), "publish ") {
						spans[string(s.GetTraceId())+string(s.GetSpanId())] = true
					}
				}
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	brokers := fakeKafka(t, "payments", "shipments")
	var out, errOut bytes.Buffer
	if err := loadgenCommand(t.Context(), []string{"--brokers", brokers, "--seed", "4", "--count", "20", "--payments-share", "1"}, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	recs := fetchAll(t, brokers, "payments", 20)
	mu.Lock()
	defer mu.Unlock()
	if len(spans) != 20 {
		t.Fatalf("%d publish spans exported, want 20", len(spans))
	}
	for _, r := range recs {
		var tp []byte
		for _, h := range r.Headers {
			if h.Key == producers.HeaderTraceparent {
				tp = h.Value
			}
		}
		sc, ok := parseTP(tp)
		if !ok || !spans[sc] {
			t.Errorf("record %d/%d: traceparent %q is not an exported publish span", r.Partition, r.Offset, tp)
		}
	}
}

// parseTP turns a traceparent into the raw trace and span id bytes the receiver keys by.
func parseTP(tp []byte) (string, bool) {
	parts := strings.Split(string(tp), "-")
	if len(parts) != 4 {
		return "", false
	}
	ids, err := hex.DecodeString(parts[1] + parts[2])
	return string(ids), err == nil
}
