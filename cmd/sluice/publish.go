package main

import (
	"errors"
	"fmt"
	"strings"
	"sync"
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

// defaultPublishTimeout is --timeout's default: how long a record may wait for a
// broker before it is given up as failed.
const defaultPublishTimeout = 10 * time.Second

// minPublishTimeout is the least --timeout the Kafka client takes.
const minPublishTimeout = time.Second

// newLinePublisher builds the publisher of a command that publishes lines: the
// environment's Kafka security, the given seed brokers, and records that fail after
// timeout instead of waiting for a broker forever.
func newLinePublisher(pc publisherConfig, brokers string, timeout time.Duration) (*producers.Publisher, error) {
	kopts, err := pc.kafkaClientOpts(splitList(brokers))
	if err != nil {
		return nil, err
	}
	kopts = append(kopts, kgo.RecordDeliveryTimeout(timeout))
	return producers.NewPublisher(producers.Brokers(splitList(brokers)...), producers.ClientOptions(kopts...))
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

// publishError is the exitPublish failure for the first failed publish: it says
// what the operator should check.
func publishError(first error, brokers string, timeout time.Duration, acked, sent int64) error {
	if errors.Is(first, kgo.ErrRecordTimeout) {
		first = fmt.Errorf("no broker of %s acknowledged within --timeout=%v; check the address and that Kafka runs: %w", brokers, timeout, first)
	}
	return &exitError{code: exitPublish, err: fmt.Errorf("%d of %d records published: %w", acked, sent, first)}
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
