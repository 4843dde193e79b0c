package loadgen

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxRunID and runIDChars bound Config.RunID, which is part of every generated id.
const (
	maxRunID   = 32
	runIDChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"
)

// idScope is what every id of the stream c describes carries: the seed, and the run
// id when there is one ("7", "7-3fa9c2d1").
func (c Config) idScope() string {
	s := strconv.FormatInt(c.Seed, 10)
	if c.RunID != "" {
		s += "-" + c.RunID
	}
	return s
}

// Config describes one reproducible stream. The zero value of every field but Seed and
// the counts takes the default noted beside it.
type Config struct {
	// Seed fixes the stream: the same Config gives the same records, byte for byte.
	// The seed is part of every payment and shipment id (and so of every event_id),
	// so streams of different seeds never share an event id.
	Seed int64
	// RunID, when set, is also part of every id: two runs of the same seed with
	// different run ids publish the same traffic pattern as distinct events (a
	// restarted load generator is not dropped as producer duplicates), and the same
	// Seed and RunID give the same stream. At most 32 letters, digits or '-'.
	RunID string
	// Payments and Shipments are the numbers of records to emit on each topic,
	// including the invalid ones and the duplicates.
	Payments, Shipments int
	// InvalidRate is the share of records that are deliberately invalid (a mix of
	// malformed JSON, missing fields, bad enums, negative amounts, bad currencies, bad
	// timestamps, wrong types and non-JSON bytes). DuplicateRate is the share that
	// re-emit an earlier valid record byte for byte (same event_id, same key), as a
	// producer retry would. Both are in [0, 1] and sum to at most 1.
	InvalidRate, DuplicateRate float64
	// Start is the event time of the first record (default 2026-01-05T09:00:00Z).
	Start time.Time
	// Window is the rollup window the Truth aggregates by (default 1m; whole seconds).
	Window time.Duration
	// Merchants and Hubs size the populations (defaults 500 and 40; Hubs ≥ 2).
	Merchants, Hubs int
	// LateRate is the share of valid events whose occurred_at lies minutes to hours
	// before the stream's current event time (a device that buffered them).
	LateRate float64
	// EventRate is how fast event time advances: records per second of event time
	// (default 1000). With a paced Run, set it to the pace so event time tracks the
	// wall clock.
	EventRate float64
	// PaymentsTopic and ShipmentsTopic name the topics (defaults "payments",
	// "shipments").
	PaymentsTopic, ShipmentsTopic string
}

// DefaultStart is the Start used when Config.Start is zero.
var DefaultStart = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// withDefaults returns c with defaults filled in, or an error naming the bad field.
func (c Config) withDefaults() (Config, error) {
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	c.Start = c.Start.UTC().Truncate(time.Millisecond)
	if c.Window == 0 {
		c.Window = time.Minute
	}
	if c.Merchants == 0 {
		c.Merchants = 500
	}
	if c.Hubs == 0 {
		c.Hubs = 40
	}
	if c.EventRate == 0 {
		c.EventRate = 1000
	}
	if c.PaymentsTopic == "" {
		c.PaymentsTopic = "payments"
	}
	if c.ShipmentsTopic == "" {
		c.ShipmentsTopic = "shipments"
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("loadgen: "+format, args...)) }
	if c.Payments < 0 || c.Shipments < 0 {
		bad("Payments=%d, Shipments=%d: counts must be ≥ 0", c.Payments, c.Shipments)
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"InvalidRate", c.InvalidRate}, {"DuplicateRate", c.DuplicateRate}, {"LateRate", c.LateRate}} {
		if !(r.v >= 0 && r.v <= 1) {
			bad("%s=%v: must be in [0, 1]", r.name, r.v)
		}
	}
	if c.InvalidRate+c.DuplicateRate > 1 {
		bad("InvalidRate+DuplicateRate=%v: must be ≤ 1", c.InvalidRate+c.DuplicateRate)
	}
	if c.Window < time.Second || c.Window%time.Second != 0 {
		bad("Window=%v: must be a positive whole number of seconds (rollup window_start is a DateTime)", c.Window)
	}
	if len(c.RunID) > maxRunID || strings.Trim(c.RunID, runIDChars) != "" {
		bad("RunID=%q: must be at most %d letters, digits or '-'", c.RunID, maxRunID)
	}
	if c.Merchants < 1 {
		bad("Merchants=%d: must be ≥ 1", c.Merchants)
	}
	if c.Hubs < 2 {
		bad("Hubs=%d: must be ≥ 2 (a route has an origin and a destination)", c.Hubs)
	}
	if !(c.EventRate > 0) {
		bad("EventRate=%v: must be > 0", c.EventRate)
	}
	return c, errors.Join(errs...)
}
