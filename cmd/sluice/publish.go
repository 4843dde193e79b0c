package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/encoding/json"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/producers"
)

// Exit statuses of the commands that publish lines (produce, dlq --republish), beside
// dispatch's 0 (done), 1 (failed) and 2 (bad command line).
const (
	// exitInvalid: some input lines were invalid and not published; every valid
	// line was (or the input could not be read).
	exitInvalid = 1
	// exitPublish: a publish failed (no broker within --timeout, a refused
	// record): not every line meant for Kafka is there; stdout says how many are.
	exitPublish = 3
)

// exitError is a command failure with its own exit status; dispatch prints it as any
// other failure and exits with code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// defaultPublishTimeout is --timeout's default: how long outstanding records may go
// without any of them being acknowledged before the rest are given up as failed.
const defaultPublishTimeout = 10 * time.Second

// minPublishTimeout is the least --timeout taken (a guard ticks at a quarter of it).
const minPublishTimeout = time.Second

// errNoAck is the cause of a guardedPublisher's cancellation.
var errNoAck = errors.New("no broker acknowledged")

// guardedPublisher is a Publisher whose outstanding records fail when none of them
// completes within timeout (no broker, a broker that does not answer), instead of
// waiting forever. It is a loadgen sink. A record's own timestamp plays no part
// (kgo's RecordDeliveryTimeout counts from it, and loadgen and dlq --republish
// publish with old timestamps).
type guardedPublisher struct {
	*producers.Publisher
	timeout     time.Duration
	ctx         context.Context // the caller's, cancelled with errNoAck on a stall
	cancel      context.CancelCauseFunc
	outstanding atomic.Int64
	completed   atomic.Int64
	stop        chan struct{}
	stopped     chan struct{}
}

// newLinePublisher builds the publisher of a command that publishes lines: the
// environment's Kafka security and the given seed brokers; records fail when no
// broker acknowledges any within timeout. It publishes until ctx is done; Close
// it.
func newLinePublisher(ctx context.Context, pc publisherConfig, brokers string, timeout time.Duration, opts ...producers.Option) (*guardedPublisher, error) {
	kopts, err := pc.kafkaClientOpts(splitList(brokers))
	if err != nil {
		return nil, err
	}
	// A record sent to a broker that then stopped answering may be given up too;
	// if it was written after all, it lands twice, and Sluice drops the copy as a
	// producer duplicate (same event_id).
	kopts = append(kopts, kgo.AllowIdempotentProduceCancellation())
	pub, err := producers.NewPublisher(append([]producers.Option{producers.Brokers(splitList(brokers)...), producers.ClientOptions(kopts...)}, opts...)...)
	if err != nil {
		return nil, err
	}
	g := &guardedPublisher{Publisher: pub, timeout: timeout, stop: make(chan struct{}), stopped: make(chan struct{})}
	g.ctx, g.cancel = context.WithCancelCause(ctx)
	go g.watch()
	return g, nil
}

// watch cancels g.ctx when records are outstanding and none completed for g.timeout.
func (g *guardedPublisher) watch() {
	defer close(g.stopped)
	t := time.NewTicker(g.timeout / 4)
	defer t.Stop()
	last, since := g.completed.Load(), time.Now()
	for {
		select {
		case <-g.stop:
			return
		case now := <-t.C:
			switch c := g.completed.Load(); {
			case c != last || g.outstanding.Load() == 0:
				last, since = c, now
			case now.Sub(since) >= g.timeout:
				g.cancel(errNoAck)
				return
			}
		}
	}
}

// track counts a record handed out and returns its callback, which calls done.
func (g *guardedPublisher) track(done func(error)) func(error) {
	g.outstanding.Add(1)
	return func(err error) {
		g.completed.Add(1)
		g.outstanding.Add(-1)
		done(err)
	}
}

// Produce is Publisher.Produce under the guard; ctx is ignored for g's own.
func (g *guardedPublisher) Produce(_ context.Context, topic string, key, value []byte, done func(error)) {
	g.Publisher.Produce(g.ctx, topic, key, value, g.track(done))
}

// ProduceAt is Publisher.ProduceAt under the guard.
func (g *guardedPublisher) ProduceAt(_ context.Context, topic string, key, value []byte, ts time.Time, done func(error)) {
	g.Publisher.ProduceAt(g.ctx, topic, key, value, ts, g.track(done))
}

// ProduceRecord is Publisher.ProduceRecord under the guard.
func (g *guardedPublisher) ProduceRecord(_ context.Context, r *kgo.Record, done func(error)) {
	g.Publisher.ProduceRecord(g.ctx, r, g.track(done))
}

// Flush waits for every outstanding record, or until the guard (or the caller's
// context) gives them up; then it still waits for their callbacks, which follow
// at once, so that the counts are final when it returns.
func (g *guardedPublisher) Flush(_ context.Context) error {
	err := g.Publisher.Flush(g.ctx)
	if err != nil && g.ctx.Err() != nil {
		_ = g.Publisher.Flush(context.Background()) // cancelled records fail without waiting for a broker
	}
	return err
}

// Close stops the guard and closes the publisher; records still buffered fail.
func (g *guardedPublisher) Close() {
	close(g.stop)
	<-g.stopped
	g.cancel(context.Canceled)
	g.Publisher.Close()
}

// explain turns a failure of g's records into what the operator should check.
func (g *guardedPublisher) explain(err error, brokers string) error {
	if errors.Is(context.Cause(g.ctx), errNoAck) {
		return fmt.Errorf("no broker of %s acknowledged a record within --timeout=%v; check the address and that Kafka runs", brokers, g.timeout)
	}
	return err
}

// acks counts the outcomes of asynchronous publishes; done is their callback.
type acks struct {
	mu     sync.Mutex // guards the fields below
	acked  int64
	failed int64
	first  error
	stop   chan struct{} // closed at the first failure
}

func newAcks() *acks { return &acks{stop: make(chan struct{})} }

// done records one publish's outcome; it is a producers callback.
func (a *acks) done(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err == nil {
		a.acked++
		return
	}
	a.failed++
	if a.first == nil {
		a.first = err
		close(a.stop)
	}
}

// failing reports whether a publish has failed, so that a command stops sending.
func (a *acks) failing() bool {
	select {
	case <-a.stop:
		return true
	default:
		return false
	}
}

// result returns the counts and the first failure.
func (a *acks) result() (acked, failed int64, first error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.acked, a.failed, a.first
}

// publishError is the exitPublish failure for the first failed publish of g.
func publishError(g *guardedPublisher, first error, brokers string, acked, sent int64) error {
	return &exitError{code: exitPublish, err: fmt.Errorf("%d of %d records published: %w", acked, sent, g.explain(first, brokers))}
}

// headerFlag is a repeatable --header k=v flag.
type headerFlag []kgo.RecordHeader

func (h *headerFlag) String() string {
	var parts []string
	for _, x := range *h {
		parts = append(parts, x.Key+"="+string(x.Value))
	}
	return strings.Join(parts, ",")
}

func (h *headerFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	*h = append(*h, kgo.RecordHeader{Key: k, Value: []byte(v)})
	return nil
}

// keySpec builds a record key from an event's JSON: a field name ("merchant_id") or
// a template of literal text and {field} placeholders ("{merchant_id}/{currency}").
// A string field gives its text, any other value its JSON, a missing one nothing.
type keySpec struct {
	parts []keyPart
}

// keyPart is a literal or, when field is set, a top-level JSON field.
type keyPart struct {
	text  string
	field bool
}

// parseKeySpec reads a --key value.
func parseKeySpec(s string) (keySpec, error) {
	if !strings.ContainsAny(s, "{}") {
		return keySpec{parts: []keyPart{{text: s, field: true}}}, nil
	}
	var k keySpec
	for rest := s; rest != ""; {
		open := strings.IndexByte(rest, '{')
		if close := strings.IndexByte(rest, '}'); close >= 0 && (open < 0 || close < open) {
			return keySpec{}, fmt.Errorf("%q: '}' without '{'", s)
		}
		if open < 0 {
			k.parts = append(k.parts, keyPart{text: rest})
			break
		}
		if open > 0 {
			k.parts = append(k.parts, keyPart{text: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return keySpec{}, fmt.Errorf("%q: '{' without '}'", s)
		}
		name := rest[open+1 : open+end]
		if name == "" || strings.ContainsAny(name, "{") {
			return keySpec{}, fmt.Errorf("%q: want {field}", s)
		}
		k.parts = append(k.parts, keyPart{text: name, field: true})
		rest = rest[open+end+1:]
	}
	return k, nil
}

// key returns the key of the event line (nil when it is empty: no key).
func (k keySpec) key(line []byte) []byte {
	var fields map[string]json.RawMessage
	var out []byte
	for _, p := range k.parts {
		if !p.field {
			out = append(out, p.text...)
			continue
		}
		if fields == nil {
			fields = map[string]json.RawMessage{}
			_ = json.Unmarshal(line, &fields) // an unparsable line has no fields
		}
		raw, ok := fields[p.text]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out = append(out, s...)
		} else {
			out = append(out, raw...)
		}
	}
	return out
}

// openInput opens a command's input: the file name, or stdin for "-". It returns the
// reader, the name to report lines by, and what closes it.
func openInput(name string) (r io.Reader, display string, closeFn func(), err error) {
	if name == "-" {
		return os.Stdin, "stdin", func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, "", nil, err
	}
	return f, name, func() { f.Close() }, nil
}
