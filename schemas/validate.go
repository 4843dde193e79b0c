package schemas

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// Reasons an event is Invalid. They are stable, short and snake_case: safe to use as
// metric labels and dead-letter headers.
const (
	// ReasonMalformed: the record is not one syntactically valid JSON object.
	ReasonMalformed = "malformed_json"
	// ReasonTooDeep: the record nests arrays/objects deeper than MaxDepth.
	ReasonTooDeep = "too_deep"
	// ReasonDuplicateField: a known field (or a metadata key) appears twice.
	ReasonDuplicateField = "duplicate_field"
	// ReasonMissingField: a required field is absent, null or empty.
	ReasonMissingField = "missing_field"
	// ReasonBadType: a field has the wrong JSON type (e.g. a string or 1.5 for an integer).
	ReasonBadType = "bad_type"
	// ReasonBadEnum: a value (event_type) is not one of its property's enum.
	ReasonBadEnum = "bad_enum"
	// ReasonBadFormat: a string field does not have its required shape (currency, a
	// pattern).
	ReasonBadFormat = "bad_format"
	// ReasonOutOfRange: a number is negative, beyond its range, or not finite.
	ReasonOutOfRange = "out_of_range"
	// ReasonBadTimestamp: occurred_at is not an RFC 3339 timestamp.
	ReasonBadTimestamp = "bad_timestamp"
	// ReasonBadUTF8: a string is not valid UTF-8 (including escaped lone surrogates).
	ReasonBadUTF8 = "bad_utf8"
	// ReasonTooLarge: the record exceeds Limits.MaxRecordBytes.
	ReasonTooLarge = "too_large"
	// ReasonStringTooLong: a string exceeds Limits.MaxStringBytes (event_id: MaxEventIDBytes).
	ReasonStringTooLong = "string_too_long"
	// ReasonTooManyMetadata: metadata (or any map property) has more entries than
	// Limits.MaxMetadataEntries (or the property's maxProperties).
	ReasonTooManyMetadata = "too_many_metadata"
	// ReasonTooLate: occurred_at is older than Limits.MaxLateness before the record's
	// Kafka timestamp.
	ReasonTooLate = "too_late"
	// ReasonFromFuture: occurred_at is more than Limits.MaxClockSkew after the
	// record's Kafka timestamp.
	ReasonFromFuture = "from_future"
	// ReasonStringTooShort: a string is shorter than its property's minLength.
	ReasonStringTooShort = "string_too_short"
	// ReasonTooManyItems: an array has more elements than its property's maxItems.
	ReasonTooManyItems = "too_many_items"
)

// Fixed bounds of the schemas.
const (
	// MaxEventIDBytes bounds event_id whatever the Limits.
	MaxEventIDBytes = 64
	// MaxDepth bounds the nesting of arrays and objects in a record (the event object
	// itself is depth 1).
	MaxDepth = 32
)

// Default limits, used where a Limits field is zero.
const (
	DefaultMaxRecordBytes     = 64 << 10
	DefaultMaxStringBytes     = 1 << 10
	DefaultMaxMetadataEntries = 64
)

// occurred_at must fall in the range of ClickHouse DateTime('UTC'), which the rollup
// window_start column uses: [1970-01-01, 2106-01-01).
var (
	minOccurredAt = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxOccurredAt = time.Date(2106, 1, 1, 0, 0, 0, 0, time.UTC)
)

// withDefaults returns l with zero fields replaced by the defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxRecordBytes <= 0 {
		l.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if l.MaxStringBytes <= 0 {
		l.MaxStringBytes = DefaultMaxStringBytes
	}
	if l.MaxMetadataEntries <= 0 {
		l.MaxMetadataEntries = DefaultMaxMetadataEntries
	}
	return l
}

// checkTime applies the lateness and clock-skew limits to the event time field.
func (l *Limits) checkTime(field string, occurred time.Time, m *Meta) *Invalid {
	if m.Timestamp.IsZero() {
		return nil
	}
	if l.MaxLateness > 0 && occurred.Before(m.Timestamp.Add(-l.MaxLateness)) {
		return invalid(ReasonTooLate, field, "more than "+l.MaxLateness.String()+" before the record was published ("+m.Timestamp.UTC().Format(time.RFC3339)+")")
	}
	if l.MaxClockSkew > 0 && occurred.After(m.Timestamp.Add(l.MaxClockSkew)) {
		return invalid(ReasonFromFuture, field, "more than "+l.MaxClockSkew.String()+" after the record was published ("+m.Timestamp.UTC().Format(time.RFC3339)+")")
	}
	return nil
}

// nearSec bounds the times checkTimeNanos compares as integers: within ±nearSec
// seconds of the epoch (years 1843 to 2096) both times fit in int64 nanoseconds
// and their difference cannot overflow.
const nearSec = 4e9

// checkTimeNanos is checkTime for an event time in Unix nanoseconds, without
// time.Time arithmetic for an event that passes: while both times are near the
// epoch (nearSec) it compares their difference with the limits; anything else,
// and every event that fails a limit, goes to checkTime, which words the reason.
func (l *Limits) checkTimeNanos(field string, occurred int64, m *Meta) *Invalid {
	if m.Timestamp.IsZero() {
		return nil
	}
	if sec := m.Timestamp.Unix(); sec > -nearSec && sec < nearSec && occurred > -nearSec*1e9 && occurred < nearSec*1e9 {
		d := m.Timestamp.UnixNano() - occurred // > 0: the event is older than the record
		if (l.MaxLateness <= 0 || d <= int64(l.MaxLateness)) && (l.MaxClockSkew <= 0 || -d <= int64(l.MaxClockSkew)) {
			return nil
		}
	}
	return l.checkTime(field, time.Unix(0, occurred), m)
}

func invalid(reason, field, detail string) *Invalid {
	return &Invalid{Reason: reason, Field: field, Detail: detail}
}

// ValidatePayment checks an already-built Payment against the payments schema with the
// default Limits: the rules DecodePayment applies after decoding, so that publishers
// reject what consumers would dead-letter. It returns nil or an *Invalid.
//
// A Go value cannot tell a missing amount_minor from 0, so 0 is accepted; OccurredAt
// must be non-zero. Strings must be valid UTF-8.
func ValidatePayment(p *Payment) error {
	if inv := validatePayment(p, Limits{}.withDefaults(), true); inv != nil {
		return inv
	}
	return nil
}

// ValidateShipment checks an already-built Shipment against the shipments schema with
// the default Limits, like ValidatePayment. It returns nil or an *Invalid.
func ValidateShipment(s *Shipment) error {
	if inv := validateShipment(s, Limits{}.withDefaults(), true); inv != nil {
		return inv
	}
	return nil
}

// validatePayment applies the semantic rules. strs also checks UTF-8 and length of
// every string (the decoder has already done so while decoding).
func validatePayment(p *Payment, lim Limits, strs bool) *Invalid {
	if inv := checkEventID(p.EventID); inv != nil {
		return inv
	}
	switch p.EventType {
	case PaymentAuthorized, PaymentCaptured, PaymentFailed, PaymentRefunded:
	case "":
		return invalid(ReasonMissingField, "event_type", "required")
	default:
		return invalid(ReasonBadEnum, "event_type", badEnumDetail(p.EventType, "payment.authorized|captured|failed|refunded"))
	}
	if inv := checkOccurredAt(p.OccurredAt); inv != nil {
		return inv
	}
	if p.MerchantID == "" {
		return invalid(ReasonMissingField, "merchant_id", "required")
	}
	if p.AmountMinor < 0 {
		return invalid(ReasonOutOfRange, "amount_minor", "must be ≥ 0, got "+strconv.FormatInt(p.AmountMinor, 10))
	}
	if p.Currency == "" {
		return invalid(ReasonMissingField, "currency", "required")
	}
	if !isCurrency(p.Currency) {
		return invalid(ReasonBadFormat, "currency", "must be 3 uppercase ASCII letters, got "+quote(p.Currency))
	}
	if math.IsNaN(p.RiskScore) || p.RiskScore < 0 || p.RiskScore > 1 {
		return invalid(ReasonOutOfRange, "risk_score", "must be within [0, 1], got "+strconv.FormatFloat(p.RiskScore, 'g', -1, 64))
	}
	if len(p.Metadata) > lim.MaxMetadataEntries {
		return invalid(ReasonTooManyMetadata, "metadata", strconv.Itoa(len(p.Metadata))+" entries, limit "+strconv.Itoa(lim.MaxMetadataEntries))
	}
	if !strs {
		return nil
	}
	for _, f := range [...]struct{ name, v string }{
		{"event_id", p.EventID}, {"merchant_id", p.MerchantID}, {"customer_id", p.CustomerID},
		{"method", p.Method}, {"status", p.Status}, {"country", p.Country}, {"city", p.City},
	} {
		if inv := checkString(f.name, f.v, lim.MaxStringBytes); inv != nil {
			return inv
		}
	}
	for k, v := range p.Metadata {
		if inv := checkString("metadata", k, lim.MaxStringBytes); inv != nil {
			inv.Detail = "key: " + inv.Detail
			return inv
		}
		if inv := checkString("metadata."+k, v, lim.MaxStringBytes); inv != nil {
			return inv
		}
	}
	return nil
}

// validateShipment is validatePayment for shipments.
func validateShipment(s *Shipment, lim Limits, strs bool) *Invalid {
	if inv := checkEventID(s.EventID); inv != nil {
		return inv
	}
	switch s.EventType {
	case ShipmentCreated, ShipmentPickedUp, ShipmentScanned, ShipmentOutForDelivery, ShipmentDelivered, ShipmentException:
	case "":
		return invalid(ReasonMissingField, "event_type", "required")
	default:
		return invalid(ReasonBadEnum, "event_type", badEnumDetail(s.EventType, "shipment.created|picked_up|scanned|out_for_delivery|delivered|exception"))
	}
	if inv := checkOccurredAt(s.OccurredAt); inv != nil {
		return inv
	}
	switch {
	case s.ShipmentID == "":
		return invalid(ReasonMissingField, "shipment_id", "required")
	case s.HubID == "":
		return invalid(ReasonMissingField, "hub_id", "required")
	case s.Carrier == "":
		return invalid(ReasonMissingField, "carrier", "required")
	case s.WeightGrams < 0:
		return invalid(ReasonOutOfRange, "weight_grams", "must be ≥ 0, got "+strconv.FormatInt(s.WeightGrams, 10))
	case s.ETAMinutes < 0:
		return invalid(ReasonOutOfRange, "eta_minutes", "must be ≥ 0, got "+strconv.FormatInt(s.ETAMinutes, 10))
	case math.IsNaN(s.Lat) || s.Lat < -90 || s.Lat > 90:
		return invalid(ReasonOutOfRange, "lat", "must be within [-90, 90], got "+strconv.FormatFloat(s.Lat, 'g', -1, 64))
	case math.IsNaN(s.Lon) || s.Lon < -180 || s.Lon > 180:
		return invalid(ReasonOutOfRange, "lon", "must be within [-180, 180], got "+strconv.FormatFloat(s.Lon, 'g', -1, 64))
	}
	if !strs {
		return nil
	}
	for _, f := range [...]struct{ name, v string }{
		{"event_id", s.EventID}, {"shipment_id", s.ShipmentID}, {"hub_id", s.HubID},
		{"carrier", s.Carrier}, {"route", s.Route},
	} {
		if inv := checkString(f.name, f.v, lim.MaxStringBytes); inv != nil {
			return inv
		}
	}
	return nil
}

func checkEventID(id string) *Invalid {
	if id == "" {
		return invalid(ReasonMissingField, "event_id", "required")
	}
	if len(id) > MaxEventIDBytes {
		return invalid(ReasonStringTooLong, "event_id", strconv.Itoa(len(id))+" bytes, limit "+strconv.Itoa(MaxEventIDBytes))
	}
	return nil
}

func checkOccurredAt(t time.Time) *Invalid {
	if t.IsZero() {
		return invalid(ReasonMissingField, "occurred_at", "required")
	}
	return timeInRange("occurred_at", t)
}

// timeInRange refuses a time outside what DateTime('UTC') holds.
func timeInRange(field string, t time.Time) *Invalid {
	if t.Before(minOccurredAt) || !t.Before(maxOccurredAt) {
		return invalid(ReasonOutOfRange, field, t.UTC().Format(time.RFC3339Nano)+" is outside [1970-01-01, 2106-01-01)")
	}
	return nil
}

func checkString(field, v string, max int) *Invalid {
	if len(v) > max {
		return invalid(ReasonStringTooLong, field, strconv.Itoa(len(v))+" bytes, limit "+strconv.Itoa(max))
	}
	if !utf8.ValidString(v) {
		return invalid(ReasonBadUTF8, field, "string is not valid UTF-8")
	}
	return nil
}

func isCurrency(s string) bool {
	return len(s) == 3 && isUpper(s[0]) && isUpper(s[1]) && isUpper(s[2])
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

func badEnumDetail(got, want string) string {
	return "got " + quote(got) + ", want " + want
}

// quote quotes s for a Detail, truncating hostile lengths.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}
