package pipeline

import (
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
)

// outage tells of a store outage (ClickHouse down or refusing) in two log lines,
// however many partitions it stalls: a warning when the first store call fails, and
// a summary when the last failing one succeeds again, with how long it lasted, how
// many partitions waited (their fetching paused meanwhile) and how many attempts
// failed. Each failed attempt is logged by its worker at debug level only.
//
// One outage is shared by every worker of a Pipeline. A worker calls it only while
// a store call of its fails: fail on each failed attempt, end when the call
// returns; a call that succeeds at once never touches it, so the hot path takes no
// lock. It is safe for concurrent use.
type outage struct {
	log *slog.Logger
	now func() time.Time

	mu         sync.Mutex
	failing    int                       // store calls failing now
	since      time.Time                 // when the first of them failed
	retries    int64                     // failed attempts since then
	partitions map[partitionKey]struct{} // partitions that waited since then
}

// hint is an error of a Sink, Ledger or SeenIDs call that says what an operator
// should do about it ("run `sluice migrate`"); the outage warning shows it.
type hint interface {
	error
	Hint() string
}

// partitionKey names one partition of a topic.
type partitionKey struct {
	topic     string
	partition int32
}

func newOutage(log *slog.Logger) *outage {
	return &outage{log: log, now: time.Now, partitions: make(map[partitionKey]struct{})}
}

// fail records a failed attempt of a store call of partition p; first says it is
// the call's first failure. The first failure of the first failing call starts an
// outage and logs it, with the innermost cause of err and what to do (its hint).
func (o *outage) fail(p partitionKey, first bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if first {
		o.failing++
		if o.failing == 1 {
			o.since, o.retries = o.now(), 0
			clear(o.partitions)
			args := []any{"cause", rootCause(err)}
			if h, ok := errors.AsType[hint](err); ok {
				args = append(args, "hint", h.Hint())
			}
			o.log.Warn("ClickHouse calls are failing; retrying until they succeed (fetching pauses, nothing is lost or committed meanwhile)", args...)
		}
	}
	o.retries++
	o.partitions[p] = struct{}{}
}

// end records that a store call which failed at least once returned: recovered
// when it finally succeeded, not when it gave up (its partition stopped or was
// revoked). The end of the last failing call ends the outage and logs its summary.
func (o *outage) end(recovered bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failing--
	if o.failing > 0 {
		return
	}
	args := []any{"after", o.now().Sub(o.since).Round(time.Millisecond), "partitions_paused", len(o.partitions), "retries", o.retries}
	if recovered {
		o.log.Info("ClickHouse calls succeed again; the outage is over", args...)
	} else {
		o.log.Warn("ClickHouse calls were still failing when the last waiting partition stopped", args...)
	}
}

// rootCause is what err met, without the adapter's description of the call: the
// network error where there is one ("dial tcp 10.0.0.7:9000: connect: connection
// refused"), else the innermost error of its chain (of the first of joined errors)
// that is only wrapped by the errors around it, whose messages end with its own.
// An error that says something else than what it wraps (a server exception over
// its bare code) is where it stops.
func rootCause(err error) string {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Error()
	}
	for {
		var next error
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			if errs := u.Unwrap(); len(errs) > 0 {
				err = errs[0]
				continue
			}
		case interface{ Unwrap() error }:
			next = u.Unwrap()
		}
		// A hint is shown on its own, beside the cause.
		if _, ok := err.(hint); ok && next != nil {
			err = next
			continue
		}
		if next == nil || !strings.HasSuffix(err.Error(), next.Error()) {
			return err.Error()
		}
		err = next
	}
}
