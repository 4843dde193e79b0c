package schemas

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

const validPayment = `{"event_id":"evt-0001","event_type":"payment.captured","occurred_at":"2026-03-01T10:15:30.123Z",` +
	`"merchant_id":"m-42","customer_id":"c-7","amount_minor":12345,"currency":"INR","method":"upi",` +
	`"status":"ok","country":"IN","city":"Bengaluru","risk_score":0.25,"metadata":{"order_id":"o-1","channel":"app"}}`

const validShipment = `{"event_id":"s-0001","event_type":"shipment.scanned","occurred_at":"2026-03-01T10:15:30+05:30",` +
	`"shipment_id":"sh-9","hub_id":"BLR1","carrier":"bluedart","route":"BLR-DEL","weight_grams":1200,` +
	`"lat":12.97,"lon":77.59,"eta_minutes":90}`

// with returns the valid record with field set to raw JSON (or removed when raw is "").
func with(base, field, raw string) string {
	i := strings.Index(base, `"`+field+`":`)
	if i < 0 {
		return base[:len(base)-1] + `,"` + field + `":` + raw + `}`
	}
	j := i + len(field) + 3
	depth := 0
	k := j
	for inStr := false; k < len(base); k++ {
		c := base[k]
		if inStr {
			if c == '\\' {
				k++
			} else if c == '"' {
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
		if depth < 0 || (depth == 0 && c == ',') {
			break
		}
	}
	if raw == "" {
		if base[k] == ',' {
			return base[:i] + base[k+1:]
		}
		return strings.TrimSuffix(base[:i], ",") + base[k:]
	}
	return base[:j] + raw + base[k:]
}

func TestDecodePaymentValid(t *testing.T) {
	var p Payment
	if err := DecodePayment([]byte(validPayment), &p, Limits{}); err != nil {
		t.Fatal(err)
	}
	want := Payment{
		EventID: "evt-0001", EventType: PaymentCaptured,
		OccurredAt: time.Date(2026, 3, 1, 10, 15, 30, 123e6, time.UTC),
		MerchantID: "m-42", CustomerID: "c-7", AmountMinor: 12345, Currency: "INR", Method: "upi",
		Status: "ok", Country: "IN", City: "Bengaluru", RiskScore: 0.25,
		Metadata: map[string]string{"order_id": "o-1", "channel": "app"},
	}
	if !paymentEqual(p, want) {
		t.Fatalf("got %+v\nwant %+v", p, want)
	}
}

func paymentEqual(a, b Payment) bool {
	if !a.OccurredAt.Equal(b.OccurredAt) || a.OccurredAt.Location() != time.UTC {
		return false
	}
	a.OccurredAt, b.OccurredAt = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

func TestDecodePaymentAccepts(t *testing.T) {
	for name, rec := range map[string]string{
		"amount zero":         with(validPayment, "amount_minor", "0"),
		"amount minus zero":   with(validPayment, "amount_minor", "-0"),
		"amount max int64":    with(validPayment, "amount_minor", "9223372036854775807"),
		"unknown fields":      with(validPayment, "extra", `{"a":[1,2,{"b":null}],"c":"\u00e9"}`),
		"optional null":       with(validPayment, "city", "null"),
		"metadata null":       with(validPayment, "metadata", "null"),
		"metadata empty":      with(validPayment, "metadata", "{}"),
		"no metadata":         with(validPayment, "metadata", ""),
		"escaped strings":     with(validPayment, "city", `"M\u00fcnchen \"x\" \ud83d\ude00"`),
		"utf8 string":         with(validPayment, "city", `"São Paulo"`),
		"risk bounds":         with(validPayment, "risk_score", "1"),
		"risk exponent":       with(validPayment, "risk_score", "1e-3"),
		"offset timestamp":    with(validPayment, "occurred_at", `"2026-03-01T10:15:30-08:00"`),
		"no fraction":         with(validPayment, "occurred_at", `"2026-03-01T10:15:30Z"`),
		"long fraction":       with(validPayment, "occurred_at", `"2026-03-01T10:15:30.1234567891Z"`),
		"lowercase t z":       with(validPayment, "occurred_at", `"2026-03-01t10:15:30z"`),
		"leap day":            with(validPayment, "occurred_at", `"2024-02-29T00:00:00Z"`),
		"whitespace":          " \n\t" + validPayment + " \r\n",
		"event_id 64 bytes":   with(validPayment, "event_id", `"`+strings.Repeat("a", 64)+`"`),
		"string at limit":     with(validPayment, "city", `"`+strings.Repeat("a", 1024)+`"`),
		"64 metadata":         with(validPayment, "metadata", metadataN(64)),
		"unknown dup ignored": with(with(validPayment, "x", "1"), "y", "2")[:0] + `{"x":1,"x":2,` + validPayment[1:],
	} {
		t.Run(name, func(t *testing.T) {
			var p Payment
			if err := DecodePayment([]byte(rec), &p, Limits{}); err != nil {
				t.Fatalf("%s: %v", rec, err)
			}
			if err := ValidatePayment(&p); err != nil {
				t.Fatalf("decoded value fails ValidatePayment: %v", err)
			}
		})
	}
}

func metadataN(n int) string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`"k` + strings.Repeat("x", i) + `":"v"`)
	}
	sb.WriteByte('}')
	return sb.String()
}

func TestDecodePaymentTimestamp(t *testing.T) {
	var p Payment
	rec := with(validPayment, "occurred_at", `"2026-03-01T10:15:30.5+05:30"`)
	if err := DecodePayment([]byte(rec), &p, Limits{}); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 3, 1, 4, 45, 30, 5e8, time.UTC); !p.OccurredAt.Equal(want) || p.OccurredAt.Location() != time.UTC {
		t.Fatalf("occurred_at = %v, want %v", p.OccurredAt, want)
	}
}

type rejectCase struct {
	name, rec, reason, field string
}

// paymentRejects are records DecodePayment must reject, with the reason and field.
func paymentRejects() []rejectCase {
	return []rejectCase{
		{"empty", "", ReasonMalformed, ""},
		{"whitespace only", "  ", ReasonMalformed, ""},
		{"not object", `[1]`, ReasonMalformed, ""},
		{"string top", `"x"`, ReasonMalformed, ""},
		{"null top", `null`, ReasonMalformed, ""},
		{"truncated", validPayment[:100], ReasonMalformed, ""},
		{"trailing garbage", validPayment + "x", ReasonMalformed, ""},
		{"two events", validPayment + validPayment, ReasonMalformed, ""},
		{"trailing comma", validPayment[:len(validPayment)-1] + ",}", ReasonMalformed, ""},
		{"missing colon", `{"event_id" "x"}`, ReasonMalformed, ""},
		{"NaN", with(validPayment, "risk_score", "NaN"), ReasonMalformed, ""},
		{"Infinity", with(validPayment, "risk_score", "Infinity"), ReasonMalformed, ""},
		{"leading zero", with(validPayment, "amount_minor", "012"), ReasonMalformed, ""},
		{"bad unknown array", with(validPayment, "x", "[1 2]"), ReasonMalformed, ""},
		{"bad unknown object", with(validPayment, "x", `{"a" 1}`), ReasonMalformed, ""},
		{"mismatched brackets", with(validPayment, "x", `[1}`), ReasonMalformed, ""},
		{"control char", with(validPayment, "city", "\"a\x01b\""), ReasonMalformed, ""},
		{"bad escape", with(validPayment, "city", `"a\qb"`), ReasonMalformed, ""},
		{"too deep", with(validPayment, "x", strings.Repeat("[", 40)+strings.Repeat("]", 40)), ReasonTooDeep, ""},
		{"too large", with(validPayment, "x", `"`+strings.Repeat("a", 64<<10)+`"`), ReasonTooLarge, ""},
		{"dup field", `{"event_id":"a",` + validPayment[1:], ReasonDuplicateField, "event_id"},
		{"dup amount", with(validPayment, "x", "1")[:0] + `{"amount_minor":null,` + validPayment[1:], ReasonDuplicateField, "amount_minor"},
		{"dup metadata key", with(validPayment, "metadata", `{"a":"1","a":"2"}`), ReasonDuplicateField, "metadata"},
		{"missing event_id", with(validPayment, "event_id", ""), ReasonMissingField, "event_id"},
		{"empty event_id", with(validPayment, "event_id", `""`), ReasonMissingField, "event_id"},
		{"null event_id", with(validPayment, "event_id", "null"), ReasonMissingField, "event_id"},
		{"missing event_type", with(validPayment, "event_type", ""), ReasonMissingField, "event_type"},
		{"missing occurred_at", with(validPayment, "occurred_at", ""), ReasonMissingField, "occurred_at"},
		{"null occurred_at", with(validPayment, "occurred_at", "null"), ReasonMissingField, "occurred_at"},
		{"missing merchant", with(validPayment, "merchant_id", ""), ReasonMissingField, "merchant_id"},
		{"missing amount", with(validPayment, "amount_minor", ""), ReasonMissingField, "amount_minor"},
		{"null amount", with(validPayment, "amount_minor", "null"), ReasonMissingField, "amount_minor"},
		{"missing currency", with(validPayment, "currency", ""), ReasonMissingField, "currency"},
		{"event_id number", with(validPayment, "event_id", "1"), ReasonBadType, "event_id"},
		{"merchant object", with(validPayment, "merchant_id", `{"a":1}`), ReasonBadType, "merchant_id"},
		{"city array", with(validPayment, "city", `["x"]`), ReasonBadType, "city"},
		{"amount float", with(validPayment, "amount_minor", "1.5"), ReasonBadType, "amount_minor"},
		{"amount exponent", with(validPayment, "amount_minor", "1e3"), ReasonBadType, "amount_minor"},
		{"amount string", with(validPayment, "amount_minor", `"100"`), ReasonBadType, "amount_minor"},
		{"amount bool", with(validPayment, "amount_minor", `true`), ReasonBadType, "amount_minor"},
		{"risk string", with(validPayment, "risk_score", `"0.5"`), ReasonBadType, "risk_score"},
		{"occurred number", with(validPayment, "occurred_at", `1700000000`), ReasonBadType, "occurred_at"},
		{"metadata array", with(validPayment, "metadata", `["a"]`), ReasonBadType, "metadata"},
		{"metadata number value", with(validPayment, "metadata", `{"a":1}`), ReasonBadType, "metadata.a"},
		{"metadata null value", with(validPayment, "metadata", `{"a":null}`), ReasonBadType, "metadata.a"},
		{"metadata nested", with(validPayment, "metadata", `{"a":{"b":"c"}}`), ReasonBadType, "metadata.a"},
		{"bad enum", with(validPayment, "event_type", `"payment.settled"`), ReasonBadEnum, "event_type"},
		{"enum case", with(validPayment, "event_type", `"Payment.Captured"`), ReasonBadEnum, "event_type"},
		{"shipment enum", with(validPayment, "event_type", `"shipment.created"`), ReasonBadEnum, "event_type"},
		{"currency lower", with(validPayment, "currency", `"inr"`), ReasonBadFormat, "currency"},
		{"currency long", with(validPayment, "currency", `"INRR"`), ReasonBadFormat, "currency"},
		{"negative amount", with(validPayment, "amount_minor", "-1"), ReasonOutOfRange, "amount_minor"},
		{"amount overflow", with(validPayment, "amount_minor", "99999999999999999999"), ReasonOutOfRange, "amount_minor"},
		{"amount max+1", with(validPayment, "amount_minor", "9223372036854775808"), ReasonOutOfRange, "amount_minor"},
		{"risk huge", with(validPayment, "risk_score", "1e400"), ReasonOutOfRange, "risk_score"},
		{"risk above", with(validPayment, "risk_score", "1.01"), ReasonOutOfRange, "risk_score"},
		{"risk negative", with(validPayment, "risk_score", "-0.1"), ReasonOutOfRange, "risk_score"},
		{"occurred before 1970", with(validPayment, "occurred_at", `"1969-12-31T23:59:59Z"`), ReasonOutOfRange, "occurred_at"},
		{"ts garbage", with(validPayment, "occurred_at", `"yesterday"`), ReasonBadTimestamp, "occurred_at"},
		{"ts no zone", with(validPayment, "occurred_at", `"2026-03-01T10:15:30"`), ReasonBadTimestamp, "occurred_at"},
		{"ts space", with(validPayment, "occurred_at", `"2026-03-01 10:15:30Z"`), ReasonBadTimestamp, "occurred_at"},
		{"ts feb 30", with(validPayment, "occurred_at", `"2026-02-30T10:15:30Z"`), ReasonBadTimestamp, "occurred_at"},
		{"ts 2025 feb 29", with(validPayment, "occurred_at", `"2025-02-29T10:15:30Z"`), ReasonBadTimestamp, "occurred_at"},
		{"ts hour 24", with(validPayment, "occurred_at", `"2026-03-01T24:00:00Z"`), ReasonBadTimestamp, "occurred_at"},
		{"ts leap second", with(validPayment, "occurred_at", `"2026-03-01T23:59:60Z"`), ReasonBadTimestamp, "occurred_at"},
		{"ts empty fraction", with(validPayment, "occurred_at", `"2026-03-01T10:15:30.Z"`), ReasonBadTimestamp, "occurred_at"},
		{"ts bad offset", with(validPayment, "occurred_at", `"2026-03-01T10:15:30+0530"`), ReasonBadTimestamp, "occurred_at"},
		{"ts unix", with(validPayment, "occurred_at", `"1700000000"`), ReasonBadTimestamp, "occurred_at"},
		{"unknown field bad utf8", with(validPayment, "x", "[\"\xff\"]"), ReasonBadUTF8, ""},
		{"unknown key bad utf8", with(validPayment, "\xff", "1"), ReasonBadUTF8, ""},
		{"invalid utf8", with(validPayment, "city", "\"\xff\xfe\""), ReasonBadUTF8, "city"},
		{"overlong utf8", with(validPayment, "city", "\"\xc0\xaf\""), ReasonBadUTF8, "city"},
		{"lone high surrogate", with(validPayment, "city", `"\ud800"`), ReasonBadUTF8, "city"},
		{"lone low surrogate", with(validPayment, "city", `"\udc00x"`), ReasonBadUTF8, "city"},
		{"reversed surrogates", with(validPayment, "city", `"\ude00\ud83d"`), ReasonBadUTF8, "city"},
		{"metadata bad utf8 value", with(validPayment, "metadata", "{\"a\":\"\xff\"}"), ReasonBadUTF8, "metadata.a"},
		{"metadata bad utf8 key", with(validPayment, "metadata", "{\"\xff\":\"a\"}"), ReasonBadUTF8, "metadata"},
		{"event_id too long", with(validPayment, "event_id", `"`+strings.Repeat("a", 65)+`"`), ReasonStringTooLong, "event_id"},
		{"city too long", with(validPayment, "city", `"`+strings.Repeat("a", 1025)+`"`), ReasonStringTooLong, "city"},
		{"escaped too long", with(validPayment, "city", `"`+strings.Repeat("é", 513)+`"`), ReasonStringTooLong, "city"},
		{"metadata value too long", with(validPayment, "metadata", `{"a":"`+strings.Repeat("a", 1025)+`"}`), ReasonStringTooLong, "metadata.a"},
		{"metadata key too long", with(validPayment, "metadata", `{"`+strings.Repeat("a", 1025)+`":"a"}`), ReasonStringTooLong, "metadata"},
		{"too many metadata", with(validPayment, "metadata", metadataN(65)), ReasonTooManyMetadata, "metadata"},
	}
}

func TestDecodePaymentRejects(t *testing.T) {
	for _, c := range paymentRejects() {
		t.Run(c.name, func(t *testing.T) {
			var p Payment
			checkReject(t, c, DecodePayment([]byte(c.rec), &p, Limits{}))
		})
	}
}

func checkReject(t *testing.T, c rejectCase, err error) {
	t.Helper()
	var inv *Invalid
	if !errors.As(err, &inv) {
		t.Fatalf("%q: got %v, want *Invalid %s", c.rec, err, c.reason)
	}
	if inv.Reason != c.reason || inv.Field != c.field {
		t.Fatalf("%.200q: got %v (reason %q field %q), want reason %q field %q", c.rec, inv, inv.Reason, inv.Field, c.reason, c.field)
	}
	if inv.Error() == "" || (inv.Field != "" && !strings.Contains(inv.Error(), inv.Field)) {
		t.Fatalf("error text %q does not name the field", inv.Error())
	}
}

func TestDecodeLimits(t *testing.T) {
	lim := Limits{MaxRecordBytes: 100, MaxStringBytes: 4, MaxMetadataEntries: 1}
	for _, c := range []rejectCase{
		{"record", validPayment, ReasonTooLarge, ""},
		{"string", `{"city":"Paris"}`, ReasonStringTooLong, "city"},
		{"metadata", `{"metadata":{"a":"b","c":"d"}}`, ReasonTooManyMetadata, "metadata"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var p Payment
			checkReject(t, c, DecodePayment([]byte(c.rec), &p, lim))
		})
	}
}

func TestDecodeShipmentValid(t *testing.T) {
	var s Shipment
	if err := DecodeShipment([]byte(validShipment), &s, Limits{}); err != nil {
		t.Fatal(err)
	}
	want := Shipment{
		EventID: "s-0001", EventType: ShipmentScanned,
		OccurredAt: time.Date(2026, 3, 1, 4, 45, 30, 0, time.UTC),
		ShipmentID: "sh-9", HubID: "BLR1", Carrier: "bluedart", Route: "BLR-DEL",
		WeightGrams: 1200, Lat: 12.97, Lon: 77.59, ETAMinutes: 90,
	}
	if !s.OccurredAt.Equal(want.OccurredAt) {
		t.Fatalf("occurred_at %v, want %v", s.OccurredAt, want.OccurredAt)
	}
	s.OccurredAt = want.OccurredAt
	if s != want {
		t.Fatalf("got %+v\nwant %+v", s, want)
	}
	for _, rec := range []string{
		with(validShipment, "route", ""), with(validShipment, "weight_grams", ""),
		with(validShipment, "lat", "-90"), with(validShipment, "lon", "180"),
		with(validShipment, "eta_minutes", "null"), with(validShipment, "weight_grams", "0"),
	} {
		if err := DecodeShipment([]byte(rec), &s, Limits{}); err != nil {
			t.Errorf("%s: %v", rec, err)
		}
	}
}

// shipmentRejects are records DecodeShipment must reject, with the reason and field.
func shipmentRejects() []rejectCase {
	return []rejectCase{
		{"truncated", validShipment[:50], ReasonMalformed, ""},
		{"dup", `{"hub_id":"x",` + validShipment[1:], ReasonDuplicateField, "hub_id"},
		{"missing shipment_id", with(validShipment, "shipment_id", ""), ReasonMissingField, "shipment_id"},
		{"missing hub", with(validShipment, "hub_id", "null"), ReasonMissingField, "hub_id"},
		{"missing carrier", with(validShipment, "carrier", `""`), ReasonMissingField, "carrier"},
		{"missing event_id", with(validShipment, "event_id", ""), ReasonMissingField, "event_id"},
		{"missing occurred_at", with(validShipment, "occurred_at", ""), ReasonMissingField, "occurred_at"},
		{"bad enum", with(validShipment, "event_type", `"payment.captured"`), ReasonBadEnum, "event_type"},
		{"weight float", with(validShipment, "weight_grams", "1.5"), ReasonBadType, "weight_grams"},
		{"weight string", with(validShipment, "weight_grams", `"12"`), ReasonBadType, "weight_grams"},
		{"eta float", with(validShipment, "eta_minutes", "2.0"), ReasonBadType, "eta_minutes"},
		{"lat string", with(validShipment, "lat", `"12"`), ReasonBadType, "lat"},
		{"route number", with(validShipment, "route", `5`), ReasonBadType, "route"},
		{"weight negative", with(validShipment, "weight_grams", "-5"), ReasonOutOfRange, "weight_grams"},
		{"eta negative", with(validShipment, "eta_minutes", "-1"), ReasonOutOfRange, "eta_minutes"},
		{"weight huge", with(validShipment, "weight_grams", "99999999999999999999"), ReasonOutOfRange, "weight_grams"},
		{"lat", with(validShipment, "lat", "90.5"), ReasonOutOfRange, "lat"},
		{"lon", with(validShipment, "lon", "-180.1"), ReasonOutOfRange, "lon"},
		{"lon huge", with(validShipment, "lon", "-1e400"), ReasonOutOfRange, "lon"},
		{"bad ts", with(validShipment, "occurred_at", `"2026-13-01T00:00:00Z"`), ReasonBadTimestamp, "occurred_at"},
		{"bad utf8", with(validShipment, "carrier", "\"\xed\xa0\x80\""), ReasonBadUTF8, "carrier"},
		{"too long", with(validShipment, "route", `"`+strings.Repeat("R", 2000)+`"`), ReasonStringTooLong, "route"},
	}
}

func TestDecodeShipmentRejects(t *testing.T) {
	for _, c := range shipmentRejects() {
		t.Run(c.name, func(t *testing.T) {
			var s Shipment
			checkReject(t, c, DecodeShipment([]byte(c.rec), &s, Limits{}))
		})
	}
}

func TestValidate(t *testing.T) {
	var p Payment
	if err := DecodePayment([]byte(validPayment), &p, Limits{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name          string
		mut           func(*Payment)
		reason, field string
	}{
		{"ok", func(*Payment) {}, "", ""},
		{"zero amount ok", func(p *Payment) { p.AmountMinor = 0 }, "", ""},
		{"zero time", func(p *Payment) { p.OccurredAt = time.Time{} }, ReasonMissingField, "occurred_at"},
		{"future", func(p *Payment) { p.OccurredAt = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC) }, ReasonOutOfRange, "occurred_at"},
		{"bad utf8", func(p *Payment) { p.Status = "\xff" }, ReasonBadUTF8, "status"},
		{"too long", func(p *Payment) { p.CustomerID = strings.Repeat("c", 1025) }, ReasonStringTooLong, "customer_id"},
		{"meta utf8", func(p *Payment) { p.Metadata = map[string]string{"k": "\xff"} }, ReasonBadUTF8, "metadata.k"},
		{"meta key", func(p *Payment) { p.Metadata = map[string]string{"\xff": ""} }, ReasonBadUTF8, "metadata"},
		{"negative", func(p *Payment) { p.AmountMinor = -1 }, ReasonOutOfRange, "amount_minor"},
		{"nan", func(p *Payment) { p.RiskScore = nanFloat() }, ReasonOutOfRange, "risk_score"},
		{"enum", func(p *Payment) { p.EventType = "x" }, ReasonBadEnum, "event_type"},
		{"currency", func(p *Payment) { p.Currency = "US" }, ReasonBadFormat, "currency"},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := p
			c.mut(&q)
			err := ValidatePayment(&q)
			if c.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			checkReject(t, rejectCase{c.name, "", c.reason, c.field}, err)
		})
	}
	var s Shipment
	if err := DecodeShipment([]byte(validShipment), &s, Limits{}); err != nil {
		t.Fatal(err)
	}
	if err := ValidateShipment(&s); err != nil {
		t.Fatal(err)
	}
	s.Lat = nanFloat()
	checkReject(t, rejectCase{"nan lat", "", ReasonOutOfRange, "lat"}, ValidateShipment(&s))
	s.Lat, s.Route = 0, "\xff"
	checkReject(t, rejectCase{"route utf8", "", ReasonBadUTF8, "route"}, ValidateShipment(&s))
}

func nanFloat() float64 { z := 0.0; return z / z }

func TestRollupTable(t *testing.T) {
	for w, want := range map[time.Duration]string{
		0: "payments_1m", time.Minute: "payments_1m", 5 * time.Minute: "payments_5m",
		time.Hour: "payments_1h", 30 * time.Second: "payments_30s", 24 * time.Hour: "payments_1d",
		90 * time.Second: "payments_90s", 1500 * time.Millisecond: "payments_1500ms",
	} {
		if got := RollupTable("payments", w); got != want {
			t.Errorf("RollupTable(%v) = %q, want %q", w, got, want)
		}
	}
}

// shortFloat agrees with strconv.ParseFloat bit for bit wherever it answers, and
// answers for the short decimals events carry.
func TestShortFloat(t *testing.T) {
	cases := []string{"0", "-0", "0.066", "-0.066", "1", "12.5", "0.1", "0.3", "123456789012345", "12345678901234.5",
		"0.000000000000001", "-999999999999999", "3.141592653589793", "1e3", "1.5E-7", "1234567890123456", "0.1234567890123456"}
	for i := range 20000 { // and a spread of three-decimal scores and amounts
		cases = append(cases, fmt.Sprintf("%d.%03d", i%7, i), fmt.Sprintf("-%d.%d", i*7919, i%100))
	}
	answered := 0
	for _, c := range cases {
		f, ok := shortFloat([]byte(c))
		if !ok {
			continue
		}
		answered++
		want, err := strconv.ParseFloat(c, 64)
		if err != nil || math.Float64bits(f) != math.Float64bits(want) {
			t.Fatalf("shortFloat(%s) = %v (%x), strconv says %v (%x, %v)", c, f, math.Float64bits(f), want, math.Float64bits(want), err)
		}
	}
	left := []string{"0.000000000000001", "3.141592653589793", "1e3", "1.5E-7", "1234567890123456", "0.1234567890123456"}
	if answered != len(cases)-len(left) {
		t.Fatalf("shortFloat answered %d of %d, want all but %q", answered, len(cases), left)
	}
	for _, c := range left {
		if _, ok := shortFloat([]byte(c)); ok {
			t.Fatalf("shortFloat(%s) answered; want it left to strconv", c)
		}
	}
}

// plainEnd finds the first byte that is not plain wherever it is: every byte
// value at every position of a run, after plain bytes and before bytes of any
// kind (so that a false flag of special above the first true one would show).
func TestPlainEnd(t *testing.T) {
	fill := []byte{'a', '"', '\\', 0x00, 0x1f, 0x7f, 0x80, 0xa2, 0xdc, 0xff, ' ', '!', '#', '[', ']', '~'}
	for n := range 20 {
		for at := range n {
			for c := range 256 {
				data := make([]byte, n)
				for i := range data {
					data[i] = fill[(i*7+c)%len(fill)]
					if i < at {
						data[i] = 'a' + byte(i%26)
					}
				}
				data[at] = byte(c)
				want := len(data)
				for i, b := range data {
					if strClass[b] != cPlain {
						want = i
						break
					}
				}
				for from := 0; from <= min(at, 3); from++ {
					if got := plainEnd(data, from); got != max(want, from) {
						t.Fatalf("plainEnd(%q, %d) = %d, want %d", data, from, got, max(want, from))
					}
				}
			}
		}
	}
}

// clock agrees with reading hh:mm:ss digit by digit: every byte value at every
// digit position, and every two-digit value of each field.
func TestClock(t *testing.T) {
	ref := func(b []byte) (int, int, int, bool) {
		h, ok1 := digits(b[0:2])
		m, ok2 := digits(b[3:5])
		s, ok3 := digits(b[6:8])
		return h, m, s, ok1 && ok2 && ok3 && h <= 23 && m <= 59 && s <= 59
	}
	check := func(b []byte) {
		h, m, s, ok := clock(binary.LittleEndian.Uint64(b))
		rh, rm, rs, rok := ref(b)
		if ok != rok || ok && (h != rh || m != rm || s != rs) {
			t.Fatalf("clock(%q) = %d %d %d %v, want %d %d %d %v", b, h, m, s, ok, rh, rm, rs, rok)
		}
	}
	for _, pos := range []int{0, 1, 3, 4, 6, 7} {
		for c := range 256 {
			b := []byte("12:34:56")
			b[pos] = byte(c)
			check(b)
			b = []byte("00:00:00")
			b[pos] = byte(c)
			check(b)
		}
	}
	for v := range 100 {
		for f := range 3 {
			b := []byte("09:09:09")
			b[3*f], b[3*f+1] = byte('0'+v/10), byte('0'+v%10)
			check(b)
		}
	}
}

// The fraction of an RFC 3339 time gives the nanoseconds of its first nine
// digits, whatever its length.
func TestRFC3339Fraction(t *testing.T) {
	const digs = "987654321012"
	for n := 1; n <= len(digs); n++ {
		frac := digs[:n]
		_, nsec, ok := rfc3339Unix([]byte("2026-03-01T10:15:30."+frac+"Z"), nil)
		want, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		if !ok || nsec != want {
			t.Fatalf(".%s: %d %v, want %d", frac, nsec, ok, want)
		}
	}
	for _, bad := range []string{"2026-03-01T10:15:30.Z", "2026-03-01T10:15:30.1x", "2026-03-01T24:00:00Z", "2026-03-01T10:60:00Z"} {
		if _, _, ok := rfc3339Unix([]byte(bad), nil); ok {
			t.Fatalf("%s accepted", bad)
		}
	}
}
