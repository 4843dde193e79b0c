package loadgen

import (
	"bytes"
	"strconv"

	"github.com/sluicehq/sluice/producers"
	"github.com/sluicehq/sluice/schemas"
)

// Invalid record kinds, the values of Record.InvalidKind.
const (
	MalformedJSON   = "malformed_json"  // valid JSON cut short
	MissingField    = "missing_field"   // a required field removed
	BadEnum         = "bad_enum"        // unknown event_type
	NegativeAmount  = "negative_amount" // amount_minor / weight_grams below zero
	BadCurrency     = "bad_currency"    // not an ISO 4217 code
	BadTimestamp    = "bad_timestamp"   // occurred_at not RFC 3339
	WrongType       = "wrong_type"      // a number sent as a string, a string as a number
	NotJSON         = "not_json"        // binary bytes
	EmptyRecordBody = "empty"           // zero-length value
)

var (
	paymentInvalidKinds  = []string{MalformedJSON, MissingField, BadEnum, NegativeAmount, BadCurrency, BadTimestamp, WrongType, NotJSON, EmptyRecordBody}
	shipmentInvalidKinds = []string{MalformedJSON, MissingField, BadEnum, NegativeAmount, BadTimestamp, WrongType, NotJSON, EmptyRecordBody}
	paymentRequired      = []string{"event_id", "event_type", "occurred_at", "merchant_id", "currency"}
	shipmentRequired     = []string{"event_id", "event_type", "occurred_at", "shipment_id", "hub_id", "carrier"}
	badTimestamps        = []string{`"31/12/2025 10:00"`, `"yesterday"`, `"2026-13-45T25:61:00Z"`, `""`, `1767603600`}
	badCurrencies        = []string{`"RUPEE"`, `"inr"`, `"RS"`, `"12$"`, `""`}
)

func (g *Generator) invalidPayment() Record {
	p := g.newPayment()
	typ := []string{schemas.PaymentAuthorized, schemas.PaymentCaptured, schemas.PaymentFailed}[g.rng.IntN(3)]
	at, _ := g.eventTime(p.last)
	ev := schemas.Payment{
		EventID: producers.EventID("payment", p.id, typ), EventType: typ, OccurredAt: at,
		MerchantID: p.merchant.id, CustomerID: p.customer, AmountMinor: p.amount, Currency: p.currency,
		Method: p.method, Status: typ[len("payment."):], Country: p.country, City: p.city,
		Metadata: map[string]string{"order_id": p.orderID, "channel": p.channel},
	}
	kind := paymentInvalidKinds[g.rng.IntN(len(paymentInvalidKinds))]
	js := mustJSON(&ev)
	switch kind {
	case MissingField:
		js = dropField(js, paymentRequired[g.rng.IntN(len(paymentRequired))])
	case BadEnum:
		js = setField(js, "event_type", `"payment.teleported"`)
	case NegativeAmount:
		js = setField(js, "amount_minor", "-"+strconv.FormatInt(ev.AmountMinor, 10))
	case BadCurrency:
		js = setField(js, "currency", badCurrencies[g.rng.IntN(len(badCurrencies))])
	case BadTimestamp:
		js = setField(js, "occurred_at", badTimestamps[g.rng.IntN(len(badTimestamps))])
	case WrongType:
		if g.rng.IntN(2) == 0 {
			js = setField(js, "amount_minor", strconv.Quote(strconv.FormatInt(ev.AmountMinor, 10)))
		} else {
			js = setField(js, "merchant_id", strconv.Itoa(1+g.rng.IntN(99999)))
		}
	default:
		js = g.corruptBytes(kind, js)
	}
	return Record{Key: []byte(ev.MerchantID), Value: js, InvalidKind: kind}
}

func (g *Generator) invalidShipment() Record {
	s := g.newShipment()
	typ := []string{schemas.ShipmentCreated, schemas.ShipmentScanned, schemas.ShipmentDelivered}[g.rng.IntN(3)]
	at, _ := g.eventTime(s.last)
	ev := schemas.Shipment{
		EventID: producers.EventID("shipment", s.id, "1", typ), EventType: typ, OccurredAt: at,
		ShipmentID: s.id, HubID: hubID(s.hubs[0]), Carrier: s.carrier, Route: s.route,
		WeightGrams: s.weight, Lat: 12.97, Lon: 77.59, ETAMinutes: 600,
	}
	kind := shipmentInvalidKinds[g.rng.IntN(len(shipmentInvalidKinds))]
	js := mustJSON(&ev)
	switch kind {
	case MissingField:
		js = dropField(js, shipmentRequired[g.rng.IntN(len(shipmentRequired))])
	case BadEnum:
		js = setField(js, "event_type", `"shipment.teleported"`)
	case NegativeAmount:
		js = setField(js, "weight_grams", "-"+strconv.FormatInt(ev.WeightGrams, 10))
	case BadTimestamp:
		js = setField(js, "occurred_at", badTimestamps[g.rng.IntN(len(badTimestamps))])
	case WrongType:
		if g.rng.IntN(2) == 0 {
			js = setField(js, "weight_grams", `"`+strconv.FormatInt(ev.WeightGrams, 10)+`g"`)
		} else {
			js = setField(js, "hub_id", strconv.Itoa(s.hubs[0]))
		}
	default:
		js = g.corruptBytes(kind, js)
	}
	return Record{Key: []byte(ev.ShipmentID), Value: js, InvalidKind: kind}
}

// corruptBytes handles the kinds that do not depend on the schema.
func (g *Generator) corruptBytes(kind string, js []byte) []byte {
	switch kind {
	case MalformedJSON:
		return js[:1+g.rng.IntN(len(js)-2)] // always loses at least the closing brace
	case NotJSON:
		b := make([]byte, 16+g.rng.IntN(48))
		for i := range b {
			b[i] = byte(g.rng.Uint32())
		}
		b[0] = 0x08 // a protobuf field tag: never the start of a JSON value
		return b
	default: // EmptyRecordBody
		return []byte{}
	}
}

// fieldSpan returns where `"name":value` sits in js, including one adjacent comma,
// assuming generated values (no '"' or ',' inside strings, no nesting before metadata).
func fieldSpan(js []byte, name string) (start, valStart, valEnd, end int) {
	start = bytes.Index(js, []byte(`"`+name+`":`))
	if start < 0 {
		panic("loadgen: field " + name + " not in generated JSON")
	}
	valStart = start + len(name) + 3
	valEnd = valStart
	if js[valEnd] == '"' {
		valEnd += 1 + bytes.IndexByte(js[valEnd+1:], '"') + 1
	} else {
		for valEnd < len(js) && js[valEnd] != ',' && js[valEnd] != '}' {
			valEnd++
		}
	}
	return start, valStart, valEnd, valEnd
}

func setField(js []byte, name, raw string) []byte {
	_, vs, ve, _ := fieldSpan(js, name)
	out := make([]byte, 0, len(js)+len(raw))
	out = append(append(append(out, js[:vs]...), raw...), js[ve:]...)
	return out
}

func dropField(js []byte, name string) []byte {
	s, _, _, e := fieldSpan(js, name)
	if e < len(js) && js[e] == ',' {
		e++ // drop the following comma
	} else if s > 0 && js[s-1] == ',' {
		s-- // last field: drop the preceding comma
	}
	out := make([]byte, 0, len(js))
	return append(append(out, js[:s]...), js[e:]...)
}
