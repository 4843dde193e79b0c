package schemas

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// These tests hold the runtime-compiled built-in types (payment.schema.json and
// shipment.schema.json) to the hand-written decoders and batches: the same
// verdict, reason and field for every record, and the same Blocks (tables, column
// names, Go column types and values), Events and Bytes after every flush.

// BuiltinType returns the built-in event type whose Name is name.
func BuiltinType(t testing.TB, name string) *EventType {
	t.Helper()
	for _, et := range BuiltinEventTypes() {
		if et.Name() == name {
			return et
		}
	}
	t.Fatalf("no built-in type %q", name)
	return nil
}

// DiffRecord is one record of a differential run.
type DiffRecord struct {
	Value []byte
	Meta  Meta
}

// SameAdd fails unless the two results of Batch.Add agree: both nil, both
// ErrDuplicate, or *Invalid errors with the same Reason and Field.
func SameAdd(t testing.TB, rec []byte, want, got error) {
	t.Helper()
	if errors.Is(want, ErrDuplicate) || errors.Is(got, ErrDuplicate) || want == nil || got == nil {
		if !errors.Is(got, want) && !(want == nil && got == nil) {
			t.Fatalf("%.300q: hand-written %v, runtime %v", rec, want, got)
		}
		return
	}
	wi, ok1 := errors.AsType[*Invalid](want)
	gi, ok2 := errors.AsType[*Invalid](got)
	if !ok1 || !ok2 || wi.Reason != gi.Reason || wi.Field != gi.Field {
		t.Fatalf("%.300q: hand-written %v, runtime %v", rec, want, got)
	}
}

// SameBlocks fails unless two batches hold the same Blocks, Events and Bytes.
func SameBlocks(t testing.TB, want, got Batch) {
	t.Helper()
	if want.Events() != got.Events() || want.Bytes() != got.Bytes() {
		t.Fatalf("events %d/%d, bytes %d/%d (hand-written/runtime)", want.Events(), got.Events(), want.Bytes(), got.Bytes())
	}
	wb, gb := want.Blocks(), got.Blocks()
	if len(wb) != len(gb) {
		t.Fatalf("%d blocks, runtime %d", len(wb), len(gb))
	}
	for i := range wb {
		w, g := wb[i], gb[i]
		if w.Table != g.Table || w.Rows != g.Rows || !reflect.DeepEqual(w.Names, g.Names) || len(w.Columns) != len(g.Columns) {
			t.Fatalf("block %d: %s %d rows %v, runtime %s %d rows %v", i, w.Table, w.Rows, w.Names, g.Table, g.Rows, g.Names)
		}
		for j := range w.Columns {
			if reflect.TypeOf(w.Columns[j]) != reflect.TypeOf(g.Columns[j]) {
				t.Fatalf("%s.%s: column %T, runtime %T", w.Table, w.Names[j], w.Columns[j], g.Columns[j])
			}
			if wv, gv := PlainColumn(w.Columns[j]), PlainColumn(g.Columns[j]); !reflect.DeepEqual(wv, gv) {
				t.Fatalf("%s.%s:\n%v\nruntime\n%v", w.Table, w.Names[j], wv, gv)
			}
		}
	}
}

// CompareBatches adds recs to both batches, comparing every Add, and compares the
// Blocks every flush records and at the end.
func CompareBatches(t testing.TB, want, got Batch, recs []DiffRecord, flush int) {
	t.Helper()
	for i, r := range recs {
		SameAdd(t, r.Value, want.Add(r.Value, &r.Meta), got.Add(r.Value, &r.Meta))
		if (i+1)%flush == 0 {
			SameBlocks(t, want, got)
			want.Reset()
			got.Reset()
		}
	}
	SameBlocks(t, want, got)
}

// diffOptions are the batch configurations the differential tests run.
func diffOptions() map[string]func() Options {
	lim := Limits{MaxLateness: 48 * time.Hour, MaxClockSkew: 10 * time.Minute}
	return map[string]func() Options{
		"raw":      func() Options { return Options{Raw: true} },
		"rollup":   func() Options { return Options{} },
		"raw only": func() Options { return Options{Raw: true, SkipRollups: true} },
		"5m dedup": func() Options {
			return Options{Raw: true, Window: 5 * time.Minute, Dedup: &fakeDedup{seen: map[string]bool{}}}
		},
		"time policy": func() Options { return Options{Raw: true, Window: time.Hour, Limits: lim} },
		// Deployment limits below the documents' bounds apply to both.
		"small limits": func() Options {
			return Options{Raw: true, Limits: Limits{MaxRecordBytes: 300, MaxStringBytes: 8, MaxMetadataEntries: 1}}
		},
	}
}

func diffRecords(ins []namedInput) []DiffRecord {
	pub := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var out []DiffRecord
	for i, in := range ins {
		out = append(out, DiffRecord{in.data, Meta{Topic: "t", Partition: int32(i % 3), Offset: int64(i),
			IngestedAt: time.UnixMilli(int64(i) * 7), Timestamp: pub.Add(time.Duration(i%5) * 24 * time.Hour)}})
	}
	return out
}

// rejectInputs turns reject cases into inputs, with valid records between them
// so that the Blocks are not empty.
func rejectInputs(cases []rejectCase, valid string) []namedInput {
	var out []namedInput
	for i, c := range cases {
		out = append(out, namedInput{c.name, []byte(c.rec)})
		out = append(out, namedInput{"valid", []byte(with(valid, "event_id", fmt.Sprintf(`"v%d"`, i)))})
	}
	return out
}

func TestBuiltinTypesMatchHandWritten(t *testing.T) {
	pay := append(paymentInputs(t), rejectInputs(paymentRejects(), validPayment)...)
	ship := append(shipmentInputs(t), rejectInputs(shipmentRejects(), validShipment)...)
	for i := range 200 { // many rollup keys and windows
		pay = append(pay, namedInput{"key", payRec(fmt.Sprint(i%150), fmt.Sprintf("2026-03-0%dT10:%02d:%02dZ", 1+i%3, i%60, i%7),
			fmt.Sprintf("m%d", i%13), []string{"INR", "USD"}[i%2], []string{"upi", "card", ""}[i%3], PaymentCaptured, int64(i*37))})
		ship = append(ship, namedInput{"key", shipRec(fmt.Sprint(i%150), fmt.Sprintf("2026-03-01T1%d:%02d:00Z", i%4, i%60),
			fmt.Sprintf("h%d", i%5), []string{"a", "b", "c"}[i%3], ShipmentScanned, int64(i))})
	}
	payType, shipType := BuiltinType(t, "payment"), BuiltinType(t, "shipment")
	for name, opts := range diffOptions() {
		t.Run(name, func(t *testing.T) {
			CompareBatches(t, NewPaymentBatch(opts()), payType.NewBatch(opts()), diffRecords(pay), 97)
			CompareBatches(t, NewShipmentBatch(opts()), shipType.NewBatch(opts()), diffRecords(ship), 89)
		})
	}
}

// paymentRow is the row EventType.Decode gives for p.
func paymentRow(p *Payment) map[string]any {
	meta := p.Metadata
	if len(meta) == 0 {
		meta = nil
	}
	return map[string]any{
		"event_id": p.EventID, "event_type": p.EventType, "occurred_at": p.OccurredAt.Truncate(time.Millisecond),
		"merchant_id": p.MerchantID, "customer_id": p.CustomerID, "amount_minor": p.AmountMinor,
		"currency": p.Currency, "method": p.Method, "status": p.Status, "country": p.Country, "city": p.City,
		"risk_score": p.RiskScore, "metadata": meta,
	}
}

// shipmentRow is the row EventType.Decode gives for s.
func shipmentRow(s *Shipment) map[string]any {
	return map[string]any{
		"event_id": s.EventID, "event_type": s.EventType, "occurred_at": s.OccurredAt.Truncate(time.Millisecond),
		"shipment_id": s.ShipmentID, "hub_id": s.HubID, "carrier": s.Carrier, "route": s.Route,
		"weight_grams": s.WeightGrams, "lat": s.Lat, "lon": s.Lon, "eta_minutes": s.ETAMinutes,
	}
}

// sameDecode checks Validate and Decode of et against a hand-written decode of
// data: the same verdict, and the same fields for a valid record.
func sameDecode(t testing.TB, et *EventType, data []byte, want error, wantRow func() map[string]any) {
	t.Helper()
	SameAdd(t, data, want, et.Validate(data, Limits{}))
	row, err := et.Decode(data, Limits{})
	SameAdd(t, data, want, err)
	if err == nil && !reflect.DeepEqual(row, wantRow()) {
		t.Fatalf("%q: row\n%v\nwant\n%v", data, row, wantRow())
	}
}

// TestBuiltinValidateAndDecode checks the validation-only and row entry points
// against DecodePayment and DecodeShipment.
func TestBuiltinValidateAndDecode(t *testing.T) {
	payType, shipType := BuiltinType(t, "payment"), BuiltinType(t, "shipment")
	for _, in := range paymentInputs(t) {
		var p Payment
		err := DecodePayment(in.data, &p, Limits{})
		sameDecode(t, payType, in.data, err, func() map[string]any { return paymentRow(&p) })
	}
	for _, in := range shipmentInputs(t) {
		var s Shipment
		err := DecodeShipment(in.data, &s, Limits{})
		sameDecode(t, shipType, in.data, err, func() map[string]any { return shipmentRow(&s) })
	}
}

func TestBuiltinTypesDescribe(t *testing.T) {
	pay := BuiltinType(t, "payment")
	if pay.Topic() != "payments" || pay.Table() != "payments" || !pay.Raw() || pay.EventID() != "event_id" || pay.EventTime() != "occurred_at" {
		t.Fatalf("payments: %v", pay)
	}
	if got := strings.Join(pay.ColumnNames(), ","); got != strings.Join(PaymentColumns, ",") {
		t.Fatalf("columns %s", got)
	}
	if got := pay.RollupTables(5 * time.Minute); len(got) != 1 || got[0] != "payments_5m" {
		t.Fatalf("rollup tables %v", got)
	}
	if got := pay.WithTopic("p2").WithRaw(false); got.Topic() != "p2" || got.Raw() || pay.Topic() != "payments" || !pay.Raw() {
		t.Fatal("WithTopic/WithRaw changed the original or did not apply")
	}
}
