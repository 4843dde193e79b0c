package jsonschema_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sluicehq/sluice/producers/loadgen"
	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/schemas/jsonschema"
)

// eventSchema ties a document to its Go type and decoder.
type eventSchema struct {
	name   string
	doc    []byte
	typ    reflect.Type
	decode func([]byte) error
	enum   []string
	topic  string
	// full is a valid event with every known field set.
	full string
}

var eventSchemas = []eventSchema{
	{
		name: "payment", doc: jsonschema.Payment(), typ: reflect.TypeFor[schemas.Payment](),
		decode: func(b []byte) error { var p schemas.Payment; return schemas.DecodePayment(b, &p, schemas.Limits{}) },
		enum:   []string{schemas.PaymentAuthorized, schemas.PaymentCaptured, schemas.PaymentFailed, schemas.PaymentRefunded},
		topic:  "payments",
		full: `{"event_id":"p-1","event_type":"payment.captured","occurred_at":"2026-01-05T09:00:00.123Z",
			"merchant_id":"m_1","customer_id":"c_1","amount_minor":1999,"currency":"INR","method":"upi",
			"status":"captured","country":"IN","city":"Pune","risk_score":0.25,"metadata":{"order_id":"o_1"}}`,
	},
	{
		name: "shipment", doc: jsonschema.Shipment(), typ: reflect.TypeFor[schemas.Shipment](),
		decode: func(b []byte) error { var s schemas.Shipment; return schemas.DecodeShipment(b, &s, schemas.Limits{}) },
		enum: []string{schemas.ShipmentCreated, schemas.ShipmentPickedUp, schemas.ShipmentScanned,
			schemas.ShipmentOutForDelivery, schemas.ShipmentDelivered, schemas.ShipmentException},
		topic: "shipments",
		full: `{"event_id":"s-1","event_type":"shipment.scanned","occurred_at":"2026-01-05T09:00:00+05:30",
			"shipment_id":"sh_1","hub_id":"hub_001","carrier":"bluedart","route":"hub_001>hub_002",
			"weight_grams":1200,"lat":12.97,"lon":77.59,"eta_minutes":600}`,
	},
}

func (e eventSchema) root(t *testing.T) node {
	t.Helper()
	v, err := parseJSON(e.doc)
	if err != nil {
		t.Fatalf("%s schema: %v", e.name, err)
	}
	return v.(node)
}

func (e eventSchema) required(t *testing.T) []string {
	var req []string
	for _, f := range e.root(t)["required"].([]any) {
		req = append(req, f.(string))
	}
	return req
}

func jsonTags(typ reflect.Type) []string {
	var tags []string
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			tags = append(tags, name)
		}
	}
	return tags
}

func TestDocumentsMatchGoTypes(t *testing.T) {
	for _, e := range eventSchemas {
		t.Run(e.name, func(t *testing.T) {
			root := e.root(t)
			if root["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
				t.Errorf("$schema = %v, want draft 2020-12", root["$schema"])
			}
			if root["additionalProperties"] != true {
				t.Errorf("additionalProperties = %v, want true (unknown fields are ignored)", root["additionalProperties"])
			}
			props := root["properties"].(node)
			var names []string
			for name := range props {
				names = append(names, name)
			}
			slices.Sort(names)
			tags := jsonTags(e.typ)
			slices.Sort(tags)
			if !slices.Equal(names, tags) {
				t.Errorf("schema properties %v, Go json tags %v", names, tags)
			}
			var enum []string
			for _, v := range props["event_type"].(node)["enum"].([]any) {
				enum = append(enum, v.(string))
			}
			slices.Sort(enum)
			want := slices.Sorted(slices.Values(e.enum))
			if !slices.Equal(enum, want) {
				t.Errorf("event_type enum %v, schemas constants %v", enum, want)
			}
		})
	}
}

// TestRequired removes each field from a valid event with every field set: the Go
// decoder must report missing_field for exactly the fields the schema requires.
func TestRequired(t *testing.T) {
	for _, e := range eventSchemas {
		t.Run(e.name, func(t *testing.T) {
			var full map[string]json.RawMessage
			if err := json.Unmarshal([]byte(e.full), &full); err != nil {
				t.Fatal(err)
			}
			if err := e.decode([]byte(e.full)); err != nil {
				t.Fatalf("full event: %v", err)
			}
			if len(full) != len(jsonTags(e.typ)) {
				t.Fatalf("full event sets %d fields, the Go type has %d", len(full), len(jsonTags(e.typ)))
			}
			req := e.required(t)
			for name := range full {
				without := make(map[string]json.RawMessage, len(full))
				for k, v := range full {
					if k != name {
						without[k] = v
					}
				}
				b, err := json.Marshal(without)
				if err != nil {
					t.Fatal(err)
				}
				err = e.decode(b)
				if !slices.Contains(req, name) {
					if err != nil {
						t.Errorf("without optional %s: %v", name, err)
					}
					continue
				}
				if inv, ok := errors.AsType[*schemas.Invalid](err); !ok || inv.Reason != schemas.ReasonMissingField || inv.Field != name {
					t.Errorf("without required %s: got %v, want missing_field (%s)", name, err, name)
				}
			}
		})
	}
}

// verdict returns the schema's verdict on data, or skip != "" when data holds what
// JSON Schema cannot judge.
func verdict(t *testing.T, s node, data []byte) (err error, skip string) {
	t.Helper()
	switch {
	case len(data) > schemas.DefaultMaxRecordBytes:
		return nil, "too large"
	case !utf8.Valid(data):
		return nil, "not UTF-8"
	case !json.Valid(data):
		return nil, "not JSON"
	case hasDuplicateKeys(data):
		return nil, "duplicate key"
	}
	v, err := parseJSON(data)
	if err != nil {
		t.Fatalf("json.Valid but %v", err)
	}
	return validate(s, v, "$"), ""
}

// TestLoadgenAgreement runs the schema and the Go decoder over a loadgen stream and
// requires the same verdict on every record the schema can judge.
func TestLoadgenAgreement(t *testing.T) {
	g, err := loadgen.NewGenerator(loadgen.Config{Seed: 1, Payments: 1000, Shipments: 1000, InvalidRate: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	byTopic := map[string]eventSchema{}
	roots := map[string]node{}
	for _, e := range eventSchemas {
		byTopic[e.topic] = e
		roots[e.topic] = e.root(t)
	}
	var total, judged, valid int
	skipped := map[string]int{}
	for {
		rec, ok := g.Next()
		if !ok {
			break
		}
		total++
		e, ok := byTopic[rec.Topic]
		if !ok {
			t.Fatalf("record on unknown topic %q", rec.Topic)
		}
		goErr := e.decode(rec.Value)
		schemaErr, skip := verdict(t, roots[rec.Topic], rec.Value)
		if skip != "" {
			skipped[skip]++
			if goErr == nil {
				t.Errorf("%s record %d (%s): Go decoder accepts what the test skipped as %s: %q",
					e.name, total, rec.InvalidKind, skip, rec.Value)
			}
			continue
		}
		judged++
		if goErr == nil {
			valid++
		}
		if (goErr == nil) != (schemaErr == nil) {
			t.Errorf("%s record %d (%s): Go: %v; schema: %v\n%s", e.name, total, rec.InvalidKind, goErr, schemaErr, rec.Value)
		}
	}
	if total != 2000 {
		t.Errorf("loadgen emitted %d records, want 2000", total)
	}
	if valid == 0 || valid == judged {
		t.Errorf("%d of %d judged records valid: the stream must hold both", valid, judged)
	}
	t.Logf("%d records: %d judged (%d valid, %d invalid), skipped %v", total, judged, valid, judged-valid, skipped)
}

// TestEdgeCases compares the verdicts on hand-written records, including the known
// differences that JSON Schema cannot express (want differ).
func TestEdgeCases(t *testing.T) {
	p := eventSchemas[0]
	sh := eventSchemas[1]
	pay := func(field, raw string) string { return with(t, p.full, field, raw) }
	ship := func(field, raw string) string { return with(t, sh.full, field, raw) }
	for _, tc := range []struct {
		e      eventSchema
		record string
		differ bool // the schema accepts what the Go decoder rejects
	}{
		{p, pay("customer_id", "null"), false},
		{p, pay("merchant_id", "null"), false},
		{p, pay("merchant_id", `""`), false},
		{p, pay("amount_minor", "null"), false},
		{p, pay("amount_minor", "0"), false},
		{p, pay("amount_minor", "-0"), false},
		{p, pay("amount_minor", "-1"), false},
		{p, pay("amount_minor", "1.5"), false},
		{p, pay("amount_minor", `"7"`), false},
		{p, pay("amount_minor", "9223372036854775807"), false},
		{p, pay("amount_minor", "9223372036854775808"), false},
		{p, pay("currency", `"inr"`), false},
		{p, pay("currency", `"INRX"`), false},
		{p, pay("event_type", `"payment.teleported"`), false},
		{p, pay("event_type", "null"), false},
		{p, pay("event_id", `"`+strings.Repeat("x", 64)+`"`), false},
		{p, pay("event_id", `"`+strings.Repeat("x", 65)+`"`), false},
		{p, pay("city", `"`+strings.Repeat("x", 1025)+`"`), false},
		{p, pay("risk_score", "1"), false},
		{p, pay("risk_score", "1.0000001"), false},
		{p, pay("risk_score", "-0.1"), false},
		{p, pay("risk_score", "1e400"), false},
		{p, pay("metadata", "null"), false},
		{p, pay("metadata", `{"a":1}`), false},
		{p, pay("metadata", `{"a":null}`), false},
		{p, pay("metadata", `[]`), false},
		{p, pay("metadata", metadata(64)), false},
		{p, pay("metadata", metadata(65)), false},
		{p, pay("occurred_at", `"2026-01-05t09:00:00z"`), false},
		{p, pay("occurred_at", `"2026-01-05T09:00:00.123456789123-07:00"`), false},
		{p, pay("occurred_at", `"2026-01-05 09:00:00Z"`), false},
		{p, pay("occurred_at", `"2026-02-30T09:00:00Z"`), false},
		{p, pay("occurred_at", `"2026-01-05T09:00:60Z"`), false},
		{p, pay("occurred_at", `"1969-12-31T23:59:59Z"`), false},
		{p, pay("occurred_at", `"2106-01-01T00:00:00Z"`), false},
		{p, pay("occurred_at", "1767603600"), false},
		{p, pay("unknown", `{"nested":[1,{"x":null}]}`), false},
		{p, `[]`, false},
		// Known differences: JSON Schema integers include 1.0 and 1e3; lengths count
		// characters, the decoder bytes; the range applies after the offset.
		{p, pay("amount_minor", "1.0"), true},
		{p, pay("amount_minor", "1e3"), true},
		{p, pay("event_id", `"`+strings.Repeat("é", 64)+`"`), true},
		{p, pay("occurred_at", `"1970-01-01T00:30:00+01:00"`), true},
		{sh, ship("lat", "-90"), false},
		{sh, ship("lat", "90.5"), false},
		{sh, ship("lon", "-180.01"), false},
		{sh, ship("lon", "null"), false},
		{sh, ship("weight_grams", "-1"), false},
		{sh, ship("weight_grams", `"12g"`), false},
		{sh, ship("eta_minutes", "null"), false},
		{sh, ship("eta_minutes", "-5"), false},
		{sh, ship("hub_id", "17"), false},
		{sh, ship("carrier", `""`), false},
	} {
		goErr := tc.e.decode([]byte(tc.record))
		schemaErr, skip := verdict(t, tc.e.root(t), []byte(tc.record))
		if skip != "" {
			t.Fatalf("skipped (%s): %s", skip, tc.record)
		}
		agree := (goErr == nil) == (schemaErr == nil)
		switch {
		case tc.differ && (agree || schemaErr != nil):
			t.Errorf("known difference no longer holds: Go: %v; schema: %v\n%s", goErr, schemaErr, tc.record)
		case !tc.differ && !agree:
			t.Errorf("Go: %v; schema: %v\n%s", goErr, schemaErr, tc.record)
		}
	}
}

// with returns the JSON object record with field set to raw.
func with(t *testing.T, record, field, raw string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(record), &m); err != nil {
		t.Fatal(err)
	}
	m[field] = json.RawMessage(raw)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("%s=%s: %v", field, raw, err)
	}
	return string(b)
}

func metadata(n int) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":"v"`, i)
	}
	b.WriteByte('}')
	return b.String()
}
