package admin

import (
	"context"
	"errors"
	"net"
)

// Cause is the part of err an operator acts on: the innermost network error (which
// names the address and what the system said), or else the innermost wrapped error.
// The wrapping layers' context (internal names, ranges, offsets) is left out; it
// stays in the logs and in /api/status.
func Cause(err error) string {
	if err == nil {
		return ""
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer in time"
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Error()
	}
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}
