package loadgen

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/sluicehq/sluice/schemas"
)

// PaymentKey is one payments rollup row's key.
type PaymentKey struct {
	WindowStart time.Time // UTC, no monotonic reading: safe to compare with ==
	MerchantID  string
	Currency    string
	Method      string
	EventType   string
}

// PaymentAgg is one payments rollup row's aggregates over distinct valid events.
type PaymentAgg struct {
	Events         int64
	AmountMinorSum int64
	AmountMinorMin int64
	AmountMinorMax int64
}

// ShipmentKey is one shipments rollup row's key.
type ShipmentKey struct {
	WindowStart time.Time // UTC, no monotonic reading: safe to compare with ==
	HubID       string
	Carrier     string
	EventType   string
}

// ShipmentAgg is one shipments rollup row's aggregates over distinct valid events.
type ShipmentAgg struct {
	Events         int64
	WeightGramsSum int64
}

// TopicCounts counts the records emitted on one topic.
type TopicCounts struct {
	Topic      string `json:"topic"`
	Records    int64  `json:"records"`    // everything emitted
	Valid      int64  `json:"valid"`      // distinct valid events
	Invalid    int64  `json:"invalid"`    // deliberately invalid records
	Duplicates int64  `json:"duplicates"` // byte-identical re-emissions of valid records
	// Late is how many Valid events have an occurred_at minutes to hours behind the
	// stream (informational; Diff ignores it).
	Late int64 `json:"late"`
	// InvalidByKind splits Invalid by corruption (informational; Diff ignores it).
	InvalidByKind map[string]int64 `json:"invalid_by_kind,omitempty"`
}

// Truth is the exact expected outcome of a stream: per-topic counts and the rollups
// over distinct valid events. It is not safe for concurrent use.
type Truth struct {
	Window         time.Duration
	PaymentCounts  TopicCounts
	ShipmentCounts TopicCounts
	Payments       map[PaymentKey]PaymentAgg
	Shipments      map[ShipmentKey]ShipmentAgg
}

// NewTruth returns an empty Truth aggregating by window.
func NewTruth(window time.Duration, paymentsTopic, shipmentsTopic string) *Truth {
	return &Truth{
		Window:         window,
		PaymentCounts:  TopicCounts{Topic: paymentsTopic},
		ShipmentCounts: TopicCounts{Topic: shipmentsTopic},
		Payments:       map[PaymentKey]PaymentAgg{},
		Shipments:      map[ShipmentKey]ShipmentAgg{},
	}
}

// WindowStart is the start of the window of width w holding t: t floored to a multiple
// of w since the Unix epoch, in UTC (ClickHouse's toStartOfInterval).
func WindowStart(t time.Time, w time.Duration) time.Time {
	ns := t.UnixNano()
	r := ns % int64(w)
	if r < 0 {
		r += int64(w)
	}
	return time.Unix(0, ns-r).UTC()
}

func (t *Truth) counts(topic string) *TopicCounts {
	if topic == t.PaymentCounts.Topic {
		return &t.PaymentCounts
	}
	return &t.ShipmentCounts
}

// AddPayment adds one distinct valid payment (the caller deduplicates by event_id).
func (t *Truth) AddPayment(p *schemas.Payment) {
	t.PaymentCounts.Valid++
	k := PaymentKey{WindowStart(p.OccurredAt, t.Window), p.MerchantID, p.Currency, p.Method, p.EventType}
	a, ok := t.Payments[k]
	if !ok {
		a.AmountMinorMin, a.AmountMinorMax = p.AmountMinor, p.AmountMinor
	}
	a.Events++
	a.AmountMinorSum += p.AmountMinor
	a.AmountMinorMin = min(a.AmountMinorMin, p.AmountMinor)
	a.AmountMinorMax = max(a.AmountMinorMax, p.AmountMinor)
	t.Payments[k] = a
}

// AddShipment adds one distinct valid shipment event (the caller deduplicates).
func (t *Truth) AddShipment(s *schemas.Shipment) {
	t.ShipmentCounts.Valid++
	k := ShipmentKey{WindowStart(s.OccurredAt, t.Window), s.HubID, s.Carrier, s.EventType}
	a := t.Shipments[k]
	a.Events++
	a.WeightGramsSum += s.WeightGrams
	t.Shipments[k] = a
}

// Diff lists the differences between t (expected) and got, at most limit of them
// (limit ≤ 0: all). It compares Records, Valid, Invalid and Duplicates per topic and
// every rollup row; an empty result means equal.
func (t *Truth) Diff(got *Truth, limit int) []string {
	var d []string
	add := func(format string, args ...any) bool {
		if limit <= 0 || len(d) < limit {
			d = append(d, fmt.Sprintf(format, args...))
		}
		return limit > 0 && len(d) >= limit
	}
	for _, c := range [][2]TopicCounts{{t.PaymentCounts, got.PaymentCounts}, {t.ShipmentCounts, got.ShipmentCounts}} {
		w, g := c[0], c[1]
		if w.Records != g.Records || w.Valid != g.Valid || w.Invalid != g.Invalid || w.Duplicates != g.Duplicates {
			add("%s: want records=%d valid=%d invalid=%d duplicates=%d, got %d/%d/%d/%d", w.Topic,
				w.Records, w.Valid, w.Invalid, w.Duplicates, g.Records, g.Valid, g.Invalid, g.Duplicates)
		}
	}
	for _, k := range sortedKeys(t.Payments, got.Payments, comparePaymentKey) {
		w, wok := t.Payments[k]
		g, gok := got.Payments[k]
		if w != g || wok != gok {
			if add("payments %s: want %+v (present=%v), got %+v (present=%v)", k, w, wok, g, gok) {
				return d
			}
		}
	}
	for _, k := range sortedKeys(t.Shipments, got.Shipments, compareShipmentKey) {
		w, wok := t.Shipments[k]
		g, gok := got.Shipments[k]
		if w != g || wok != gok {
			if add("shipments %s: want %+v (present=%v), got %+v (present=%v)", k, w, wok, g, gok) {
				return d
			}
		}
	}
	return d
}

// String formats k for diffs and logs.
func (k PaymentKey) String() string {
	return k.WindowStart.Format(time.RFC3339) + " " + k.MerchantID + " " + k.Currency + " " + k.Method + " " + k.EventType
}

// String formats k for diffs and logs.
func (k ShipmentKey) String() string {
	return k.WindowStart.Format(time.RFC3339) + " " + k.HubID + " " + k.Carrier + " " + k.EventType
}

func comparePaymentKey(a, b PaymentKey) int {
	return cmp.Or(a.WindowStart.Compare(b.WindowStart), cmp.Compare(a.MerchantID, b.MerchantID),
		cmp.Compare(a.Currency, b.Currency), cmp.Compare(a.Method, b.Method), cmp.Compare(a.EventType, b.EventType))
}

func compareShipmentKey(a, b ShipmentKey) int {
	return cmp.Or(a.WindowStart.Compare(b.WindowStart), cmp.Compare(a.HubID, b.HubID),
		cmp.Compare(a.Carrier, b.Carrier), cmp.Compare(a.EventType, b.EventType))
}

func sortedKeys[K comparable, V any](a, b map[K]V, cmpf func(K, K) int) []K {
	keys := make([]K, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, cmpf)
	return keys
}

// JSON form: rows sorted by key, so the same Truth always encodes to the same bytes.

type paymentRow struct {
	WindowStart time.Time `json:"window_start"`
	MerchantID  string    `json:"merchant_id"`
	Currency    string    `json:"currency"`
	Method      string    `json:"method"`
	EventType   string    `json:"event_type"`
	Events      int64     `json:"events"`
	Sum         int64     `json:"amount_minor_sum"`
	Min         int64     `json:"amount_minor_min"`
	Max         int64     `json:"amount_minor_max"`
}

type shipmentRow struct {
	WindowStart time.Time `json:"window_start"`
	HubID       string    `json:"hub_id"`
	Carrier     string    `json:"carrier"`
	EventType   string    `json:"event_type"`
	Events      int64     `json:"events"`
	Sum         int64     `json:"weight_grams_sum"`
}

type truthJSON struct {
	WindowSeconds float64       `json:"window_seconds"`
	Payments      TopicCounts   `json:"payments"`
	Shipments     TopicCounts   `json:"shipments"`
	PaymentRows   []paymentRow  `json:"payment_rollups"`
	ShipmentRows  []shipmentRow `json:"shipment_rollups"`
}

// MarshalJSON encodes the Truth as {"window_seconds", "payments", "shipments",
// "payment_rollups": [...], "shipment_rollups": [...]} with rows sorted by key.
func (t *Truth) MarshalJSON() ([]byte, error) {
	j := truthJSON{WindowSeconds: t.Window.Seconds(), Payments: t.PaymentCounts, Shipments: t.ShipmentCounts,
		PaymentRows: []paymentRow{}, ShipmentRows: []shipmentRow{}}
	for _, k := range sortedKeys(t.Payments, nil, comparePaymentKey) {
		a := t.Payments[k]
		j.PaymentRows = append(j.PaymentRows, paymentRow{k.WindowStart, k.MerchantID, k.Currency, k.Method, k.EventType,
			a.Events, a.AmountMinorSum, a.AmountMinorMin, a.AmountMinorMax})
	}
	for _, k := range sortedKeys(t.Shipments, nil, compareShipmentKey) {
		a := t.Shipments[k]
		j.ShipmentRows = append(j.ShipmentRows, shipmentRow{k.WindowStart, k.HubID, k.Carrier, k.EventType, a.Events, a.WeightGramsSum})
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes what MarshalJSON wrote.
func (t *Truth) UnmarshalJSON(b []byte) error {
	var j truthJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("loadgen: decode truth: %w", err)
	}
	*t = *NewTruth(time.Duration(j.WindowSeconds*float64(time.Second)), j.Payments.Topic, j.Shipments.Topic)
	t.PaymentCounts, t.ShipmentCounts = j.Payments, j.Shipments
	for _, r := range j.PaymentRows {
		t.Payments[PaymentKey{r.WindowStart.UTC(), r.MerchantID, r.Currency, r.Method, r.EventType}] =
			PaymentAgg{r.Events, r.Sum, r.Min, r.Max}
	}
	for _, r := range j.ShipmentRows {
		t.Shipments[ShipmentKey{r.WindowStart.UTC(), r.HubID, r.Carrier, r.EventType}] = ShipmentAgg{r.Events, r.Sum}
	}
	return nil
}

// WriteSummary writes a short human-readable report of t to w.
func (t *Truth) WriteSummary(w io.Writer) error {
	var b strings.Builder
	for _, c := range []TopicCounts{t.PaymentCounts, t.ShipmentCounts} {
		fmt.Fprintf(&b, "%-10s records=%d valid=%d invalid=%d duplicates=%d late=%d\n",
			c.Topic, c.Records, c.Valid, c.Invalid, c.Duplicates, c.Late)
		if len(c.InvalidByKind) > 0 {
			kinds := make([]string, 0, len(c.InvalidByKind))
			for k := range c.InvalidByKind {
				kinds = append(kinds, k)
			}
			sort.Strings(kinds)
			b.WriteString("           invalid:")
			for _, k := range kinds {
				fmt.Fprintf(&b, " %s=%d", k, c.InvalidByKind[k])
			}
			b.WriteByte('\n')
		}
	}
	byCur := map[string][2]int64{} // captured events, amount
	byType := map[string]int64{}
	var first, last time.Time
	span := func(ws time.Time) {
		if first.IsZero() || ws.Before(first) {
			first = ws
		}
		if ws.After(last) {
			last = ws
		}
	}
	for k, a := range t.Payments {
		span(k.WindowStart)
		byType[k.EventType] += a.Events
		if k.EventType == schemas.PaymentCaptured {
			v := byCur[k.Currency]
			byCur[k.Currency] = [2]int64{v[0] + a.Events, v[1] + a.AmountMinorSum}
		}
	}
	for k, a := range t.Shipments {
		span(k.WindowStart)
		byType[k.EventType] += a.Events
	}
	fmt.Fprintf(&b, "rollup rows: payments=%d shipments=%d; windows of %v from %s to %s\n",
		len(t.Payments), len(t.Shipments), t.Window, first.Format(time.RFC3339), last.Format(time.RFC3339))
	curs := make([]string, 0, len(byCur))
	for c := range byCur {
		curs = append(curs, c)
	}
	sort.Strings(curs)
	b.WriteString("captured:")
	for _, c := range curs {
		fmt.Fprintf(&b, " %s %d events %.2f;", c, byCur[c][0], float64(byCur[c][1])/100)
	}
	b.WriteString("\nevents by type:")
	types := make([]string, 0, len(byType))
	for k := range byType {
		types = append(types, k)
	}
	sort.Strings(types)
	for _, k := range types {
		fmt.Fprintf(&b, " %s=%d", k, byType[k])
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}
