package producers

import (
	"errors"
	"fmt"
)

// ErrClosed is returned (or passed to a callback) for a publish attempted after Close
// has begun. Nothing accepted before Close is dropped: Close flushes it first.
var ErrClosed = errors.New("producers: publisher closed")

// ErrNotDeadLetter is returned by ParseDeadLetter for a record that lacks the headers
// DeadLetters.Send writes.
var ErrNotDeadLetter = errors.New("producers: record is not a sluice dead letter")

// InvalidEventError reports an event that failed schema validation at the publisher and
// was therefore never sent. Err is the validator's error (usually a *schemas.Invalid,
// reachable through errors.As).
type InvalidEventError struct {
	Topic   string
	EventID string
	Err     error
}

// Error names the topic and event id and gives the validation error.
func (e *InvalidEventError) Error() string {
	return fmt.Sprintf("producers: refusing to publish event %q to %s: %v", e.EventID, e.Topic, e.Err)
}

// Unwrap returns the validation error.
func (e *InvalidEventError) Unwrap() error { return e.Err }

func errorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrNotDeadLetter}, args...)...)
}
