package schemas

import (
	"errors"
	"testing"
	"time"
)

// TestTimePolicy checks the lateness horizon and clock-skew allowance, both measured
// against the record's Kafka timestamp.
func TestTimePolicy(t *testing.T) {
	pub := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	lim := Limits{MaxLateness: 48 * time.Hour, MaxClockSkew: 10 * time.Minute}
	payment := func(occurred time.Time) []byte {
		return []byte(`{"event_id":"e1","event_type":"payment.captured","occurred_at":"` + occurred.Format(time.RFC3339Nano) +
			`","merchant_id":"m1","amount_minor":100,"currency":"INR"}`)
	}
	shipment := func(occurred time.Time) []byte {
		return []byte(`{"event_id":"s1","event_type":"shipment.scanned","occurred_at":"` + occurred.Format(time.RFC3339Nano) +
			`","shipment_id":"x","hub_id":"h","carrier":"c"}`)
	}
	cases := []struct {
		name     string
		occurred time.Time
		ts       time.Time
		lim      Limits
		reason   string
	}{
		{"on time", pub.Add(-time.Second), pub, lim, ""},
		{"late within horizon", pub.Add(-47 * time.Hour), pub, lim, ""},
		{"too late", pub.Add(-49 * time.Hour), pub, lim, ReasonTooLate},
		{"small skew", pub.Add(9 * time.Minute), pub, lim, ""},
		{"from the future", pub.Add(11 * time.Minute), pub, lim, ReasonFromFuture},
		{"no timestamp: no check", pub.Add(-1000 * time.Hour), time.Time{}, lim, ""},
		{"limits off", pub.Add(-1000 * time.Hour), pub, Limits{}, ""},
	}
	for _, c := range cases {
		for name, mk := range map[string]func(time.Time) Batch{
			"payments":  func(time.Time) Batch { return NewPaymentBatch(Options{Raw: true, Limits: c.lim}) },
			"shipments": func(time.Time) Batch { return NewShipmentBatch(Options{Raw: true, Limits: c.lim}) },
		} {
			b := mk(c.ts)
			v := payment(c.occurred)
			if name == "shipments" {
				v = shipment(c.occurred)
			}
			err := b.Add(v, &Meta{Topic: name, Offset: 1, Timestamp: c.ts})
			var inv *Invalid
			switch {
			case c.reason == "" && err != nil:
				t.Errorf("%s/%s: unexpected error %v", c.name, name, err)
			case c.reason != "" && (!errors.As(err, &inv) || inv.Reason != c.reason || inv.Field != "occurred_at"):
				t.Errorf("%s/%s: got %v, want reason %s on occurred_at", c.name, name, err, c.reason)
			case c.reason != "" && b.Events() != 0:
				t.Errorf("%s/%s: an invalid event was added", c.name, name)
			}
		}
	}
}
