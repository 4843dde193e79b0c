package schemas

// The tokenizer-based decoder that decode.go replaced, kept as a reference: the
// differential test and fuzz targets check that the hand-written scanner accepts and
// rejects exactly what it did, for the same reasons.

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/segmentio/encoding/json"
)

func refBadType(field, want string, k json.Kind) *Invalid {
	return invalid(ReasonBadType, field, "want "+want+", got "+refKindName(k))
}

func refKindName(k json.Kind) string {
	switch k.Class() {
	case json.Null:
		return "null"
	case json.Bool:
		return "boolean"
	case json.Num:
		return "number"
	case json.String:
		return "string"
	case json.Array:
		return "array"
	case json.Object:
		return "object"
	}
	return "unknown"
}

// refDecoder walks one record with segmentio's Tokenizer and copies the strings it keeps
// into an append-only arena. Strings are built with unsafe.String over arena bytes that
// are never written again, so they are ordinary immutable strings; the arena is never
// rewound below a handed-out string, only replaced by a fresh chunk when full.
type refDecoder struct {
	tok   json.Tokenizer
	lim   Limits
	arena []byte
	chunk int      // size of a new arena chunk (0: exactly what is asked)
	key   []byte   // scratch for escaped object keys
	mkeys []string // scratch: metadata keys of the current record (when !build)
	mvals []string // scratch: metadata values of the current record (when !build)
	build bool     // metadata builds meta rather than filling mkeys/mvals
	meta  map[string]string
}

// begin checks the record size and positions the tokenizer inside the top-level object.
func (d *refDecoder) begin(data []byte) *Invalid {
	if len(data) > d.lim.MaxRecordBytes {
		return invalid(ReasonTooLarge, "", strconv.Itoa(len(data))+" bytes, limit "+strconv.Itoa(d.lim.MaxRecordBytes))
	}
	d.tok.Reset(data)
	if !d.tok.Next() {
		return d.malformed("empty record")
	}
	if d.tok.Delim != '{' {
		return invalid(ReasonMalformed, "", "top-level value must be an object")
	}
	return nil
}

// end checks that nothing but whitespace follows the top-level object.
func (d *refDecoder) end() *Invalid {
	if d.tok.Next() || d.tok.Err != nil {
		d.tok.Reset(nil)
		return invalid(ReasonMalformed, "", "unexpected data after the event object")
	}
	return nil
}

func (d *refDecoder) malformed(what string) *Invalid {
	if d.tok.Err != nil {
		what = d.tok.Err.Error()
	}
	d.tok.Reset(nil) // release the tokenizer's pooled stack
	return invalid(ReasonMalformed, "", what)
}

// nextKey reads the next member name of the object being walked (the '{' or previous
// value consumed) and the ':' after it. It returns ok == false at the closing '}'.
// The key is valid until the next call.
func (d *refDecoder) nextKey(first bool) (key []byte, ok bool, inv *Invalid) {
	t := &d.tok
	if !t.Next() {
		return nil, false, d.malformed("unterminated object")
	}
	if t.Delim == '}' {
		return nil, false, nil
	}
	if !first {
		if t.Delim != ',' || !t.Next() {
			return nil, false, d.malformed("expected ',' or '}' after object member")
		}
	}
	if t.Delim != 0 || t.Kind().Class() != json.String {
		return nil, false, d.malformed("expected object key")
	}
	key = t.Value[1 : len(t.Value)-1]
	if t.Kind() != json.Unescaped {
		var bad bool
		d.key, bad = unescape(d.key[:0], key)
		if bad {
			return nil, false, invalid(ReasonBadUTF8, "", "object key is not valid UTF-8")
		}
		if !utf8.Valid(d.key) {
			bad = true
		}
		if bad {
			return nil, false, invalid(ReasonBadUTF8, "", "object key is not valid UTF-8")
		}
		key = d.key
	}
	if !t.Next() || t.Delim != ':' {
		return nil, false, d.malformed("expected ':' after object key")
	}
	if !t.Next() {
		return nil, false, d.malformed("expected value")
	}
	if t.Delim != 0 && t.Delim != '{' && t.Delim != '[' {
		return nil, false, d.malformed("expected value")
	}
	return key, true, nil
}

// skip consumes the value the tokenizer is positioned on, checking its grammar.
// depth is the nesting depth of the container holding the value.
func (d *refDecoder) skip(depth int) *Invalid {
	t := &d.tok
	var obj [MaxDepth]bool // obj[i]: the container at level i is an object
	n := 0
	for {
		// t is on the first token of a value.
		switch t.Delim {
		case 0:
			if t.Kind() == json.String && !utf8.Valid(t.Value) {
				t.Reset(nil)
				return invalid(ReasonBadUTF8, "", "a string in an unknown field is not valid UTF-8")
			}
		case '{', '[':
			if depth+n+1 > MaxDepth {
				t.Reset(nil)
				return invalid(ReasonTooDeep, "", "nesting deeper than "+strconv.Itoa(MaxDepth))
			}
			obj[n] = t.Delim == '{'
			n++
			if !t.Next() {
				return d.malformed("unterminated value")
			}
			if (obj[n-1] && t.Delim == '}') || (!obj[n-1] && t.Delim == ']') {
				n-- // empty container
				break
			}
			if obj[n-1] {
				if inv := d.memberName(); inv != nil {
					return inv
				}
			}
			continue
		default:
			return d.malformed("expected value")
		}
		// A value ended: expect ',' or the close of its container.
		for {
			if n == 0 {
				return nil
			}
			if !t.Next() {
				return d.malformed("unterminated value")
			}
			if (obj[n-1] && t.Delim == '}') || (!obj[n-1] && t.Delim == ']') {
				n--
				continue
			}
			if t.Delim != ',' {
				return d.malformed("expected ',' or closing delimiter")
			}
			if !t.Next() {
				return d.malformed("unterminated value")
			}
			if obj[n-1] {
				if inv := d.memberName(); inv != nil {
					return inv
				}
			}
			break
		}
	}
}

// memberName checks that t is on an object key followed by ':' and moves to the value.
func (d *refDecoder) memberName() *Invalid {
	t := &d.tok
	if t.Delim != 0 || t.Kind().Class() != json.String || !t.Next() || t.Delim != ':' || !t.Next() {
		return d.malformed("expected object key, ':' and value")
	}
	return nil
}

// str decodes the current value as a string (null: ""), copying it into the arena.
func (d *refDecoder) str(field string, max int) (string, *Invalid) {
	t := &d.tok
	k := t.Kind()
	if k == json.Null {
		return "", nil
	}
	if k.Class() != json.String || t.Delim != 0 {
		return "", refBadType(field, "a string", k)
	}
	raw := t.Value[1 : len(t.Value)-1]
	if len(raw) == 0 {
		return "", nil
	}
	if k == json.Unescaped && len(raw) > max {
		return "", invalid(ReasonStringTooLong, field, strconv.Itoa(len(raw))+" bytes, limit "+strconv.Itoa(max))
	}
	d.reserve(len(raw))
	start := len(d.arena)
	if k == json.Unescaped {
		d.arena = append(d.arena, raw...) // ASCII printable: valid UTF-8
	} else {
		var bad bool
		d.arena, bad = unescape(d.arena, raw) // never longer than raw: stays in place
		n := len(d.arena) - start
		if bad || !utf8.Valid(d.arena[start:]) {
			d.arena = d.arena[:start]
			return "", invalid(ReasonBadUTF8, field, "string is not valid UTF-8")
		}
		if n > max {
			d.arena = d.arena[:start]
			return "", invalid(ReasonStringTooLong, field, strconv.Itoa(n)+" bytes, limit "+strconv.Itoa(max))
		}
	}
	b := d.arena[start:]
	return unsafe.String(&b[0], len(b)), nil
}

// reserve makes room for n more arena bytes without moving bytes already handed out.
func (d *refDecoder) reserve(n int) {
	if cap(d.arena)-len(d.arena) >= n {
		return
	}
	d.arena = make([]byte, 0, max(n, d.chunk))
}

// uint decodes the current value as a non-negative JSON integer. present is false for
// null.
func (d *refDecoder) uint(field string) (v int64, present bool, inv *Invalid) {
	t := &d.tok
	k := t.Kind()
	switch {
	case k == json.Null:
		return 0, false, nil
	case t.Delim != 0 || k.Class() != json.Num:
		return 0, false, refBadType(field, "an integer", k)
	case k == json.Float:
		return 0, false, invalid(ReasonBadType, field, "want an integer, got "+quote(string(t.Value)))
	}
	b := t.Value
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	for _, c := range b {
		if v > (math.MaxInt64-int64(c-'0'))/10 {
			return 0, false, invalid(ReasonOutOfRange, field, quote(string(t.Value))+" exceeds int64")
		}
		v = v*10 + int64(c-'0')
	}
	if neg && v != 0 {
		return 0, false, invalid(ReasonOutOfRange, field, "must be ≥ 0, got "+quote(string(t.Value)))
	}
	return v, true, nil
}

// float decodes the current value as a finite JSON number (null: 0).
func (d *refDecoder) float(field string) (float64, *Invalid) {
	t := &d.tok
	k := t.Kind()
	switch {
	case k == json.Null:
		return 0, nil
	case t.Delim != 0 || k.Class() != json.Num:
		return 0, refBadType(field, "a number", k)
	}
	f, err := strconv.ParseFloat(unsafe.String(&t.Value[0], len(t.Value)), 64)
	if err != nil {
		return 0, invalid(ReasonOutOfRange, field, quote(string(t.Value))+" is beyond float64")
	}
	return f, nil
}

// time decodes the current value as an RFC 3339 timestamp (null: zero time).
func (d *refDecoder) time(field string) (time.Time, *Invalid) {
	t := &d.tok
	k := t.Kind()
	switch {
	case k == json.Null:
		return time.Time{}, nil
	case t.Delim != 0 || k.Class() != json.String:
		return time.Time{}, refBadType(field, "an RFC 3339 string", k)
	}
	raw := t.Value[1 : len(t.Value)-1]
	ts, ok := parseRFC3339(raw)
	if !ok || k != json.Unescaped {
		return time.Time{}, invalid(ReasonBadTimestamp, field, "want RFC 3339, got "+quote(string(raw)))
	}
	return ts, nil
}

// metadata decodes the current value as an object of strings into d.meta (when
// d.build; nil when empty) or d.mkeys/d.mvals.
func (d *refDecoder) metadata(field string) *Invalid {
	d.mkeys, d.mvals, d.meta = d.mkeys[:0], d.mvals[:0], nil
	t := &d.tok
	if t.Kind() == json.Null {
		return nil
	}
	if t.Delim != '{' {
		return refBadType(field, "an object", t.Kind())
	}
	for first := true; ; first = false {
		key, ok, inv := d.nextKey(first)
		if inv != nil {
			if inv.Reason == ReasonBadUTF8 {
				inv.Field = field
			}
			return inv
		}
		if !ok {
			return nil
		}
		if len(d.mkeys)+len(d.meta) == d.lim.MaxMetadataEntries {
			return invalid(ReasonTooManyMetadata, field, "more than "+strconv.Itoa(d.lim.MaxMetadataEntries)+" entries")
		}
		if len(key) > d.lim.MaxStringBytes {
			return invalid(ReasonStringTooLong, field, "key of "+strconv.Itoa(len(key))+" bytes, limit "+strconv.Itoa(d.lim.MaxStringBytes))
		}
		if !utf8.Valid(key) {
			return invalid(ReasonBadUTF8, field, "key is not valid UTF-8")
		}
		dup := false
		if d.build {
			_, dup = d.meta[string(key)]
		} else {
			for _, k := range d.mkeys {
				dup = dup || k == string(key)
			}
		}
		if dup {
			return invalid(ReasonDuplicateField, field, "repeated key "+quote(string(key)))
		}
		var ks string
		if len(key) > 0 {
			d.reserve(len(key))
			start := len(d.arena)
			d.arena = append(d.arena, key...)
			ks = unsafe.String(&d.arena[start], len(key))
		}
		if t.Delim != 0 || t.Kind().Class() != json.String {
			return refBadType(field+"."+ks, "a string", t.Kind())
		}
		v, inv := d.str(field, d.lim.MaxStringBytes)
		if inv != nil {
			inv.Field = field + "." + ks // built only on failure: no allocation per entry
			return inv
		}
		if !d.build {
			d.mkeys = append(d.mkeys, ks)
			d.mvals = append(d.mvals, v)
			continue
		}
		if d.meta == nil {
			d.meta = make(map[string]string)
		}
		d.meta[ks] = v
	}
}

// payment decodes and validates data into *p. Without d.build, p.Metadata stays nil
// (metadata is checked and left in d.mkeys/d.mvals).
func (d *refDecoder) payment(data []byte, p *Payment) *Invalid {
	*p = Payment{}
	if inv := d.begin(data); inv != nil {
		return inv
	}
	var seen uint32
	for first := true; ; first = false {
		key, ok, inv := d.nextKey(first)
		if inv != nil {
			return inv
		}
		if !ok {
			break
		}
		var bit uint32
		lim := d.lim.MaxStringBytes
		switch string(key) {
		case "event_id":
			bit = pfEventID
			p.EventID, inv = d.str("event_id", MaxEventIDBytes)
		case "event_type":
			bit = pfEventType
			p.EventType, inv = d.str("event_type", lim)
		case "occurred_at":
			bit = pfOccurredAt
			p.OccurredAt, inv = d.time("occurred_at")
		case "merchant_id":
			bit = pfMerchantID
			p.MerchantID, inv = d.str("merchant_id", lim)
		case "customer_id":
			bit = pfCustomerID
			p.CustomerID, inv = d.str("customer_id", lim)
		case "amount_minor":
			bit = pfAmountMinor
			var present bool
			p.AmountMinor, present, inv = d.uint("amount_minor")
			if !present {
				bit |= 1 << 31 // seen, but null: still missing
			}
		case "currency":
			bit = pfCurrency
			p.Currency, inv = d.str("currency", lim)
		case "method":
			bit = pfMethod
			p.Method, inv = d.str("method", lim)
		case "status":
			bit = pfStatus
			p.Status, inv = d.str("status", lim)
		case "country":
			bit = pfCountry
			p.Country, inv = d.str("country", lim)
		case "city":
			bit = pfCity
			p.City, inv = d.str("city", lim)
		case "risk_score":
			bit = pfRiskScore
			p.RiskScore, inv = d.float("risk_score")
		case "metadata":
			bit = pfMetadata
			inv = d.metadata("metadata")
		default:
			inv = d.skip(1)
		}
		if inv != nil {
			d.tok.Reset(nil)
			return inv
		}
		if seen&bit&^(1<<31) != 0 {
			d.tok.Reset(nil)
			return invalid(ReasonDuplicateField, string(key), "field appears more than once")
		}
		seen |= bit
	}
	if inv := d.end(); inv != nil {
		return inv
	}
	p.Metadata = d.meta
	if inv := validatePayment(p, d.lim, false); inv != nil {
		return inv
	}
	// Checked after validatePayment so that earlier required fields report first;
	// 0 is a valid amount, absent or null is not.
	if seen&(1<<31) != 0 || seen&pfAmountMinor == 0 {
		return invalid(ReasonMissingField, "amount_minor", "required")
	}
	return nil
}

func (d *refDecoder) shipment(data []byte, s *Shipment) *Invalid {
	*s = Shipment{}
	if inv := d.begin(data); inv != nil {
		return inv
	}
	var seen uint32
	for first := true; ; first = false {
		key, ok, inv := d.nextKey(first)
		if inv != nil {
			return inv
		}
		if !ok {
			break
		}
		var bit uint32
		lim := d.lim.MaxStringBytes
		switch string(key) {
		case "event_id":
			bit = sfEventID
			s.EventID, inv = d.str("event_id", MaxEventIDBytes)
		case "event_type":
			bit = sfEventType
			s.EventType, inv = d.str("event_type", lim)
		case "occurred_at":
			bit = sfOccurredAt
			s.OccurredAt, inv = d.time("occurred_at")
		case "shipment_id":
			bit = sfShipmentID
			s.ShipmentID, inv = d.str("shipment_id", lim)
		case "hub_id":
			bit = sfHubID
			s.HubID, inv = d.str("hub_id", lim)
		case "carrier":
			bit = sfCarrier
			s.Carrier, inv = d.str("carrier", lim)
		case "route":
			bit = sfRoute
			s.Route, inv = d.str("route", lim)
		case "weight_grams":
			bit = sfWeightGrams
			s.WeightGrams, _, inv = d.uint("weight_grams")
		case "lat":
			bit = sfLat
			s.Lat, inv = d.float("lat")
		case "lon":
			bit = sfLon
			s.Lon, inv = d.float("lon")
		case "eta_minutes":
			bit = sfETAMinutes
			s.ETAMinutes, _, inv = d.uint("eta_minutes")
		default:
			inv = d.skip(1)
		}
		if inv != nil {
			d.tok.Reset(nil)
			return inv
		}
		if seen&bit != 0 {
			d.tok.Reset(nil)
			return invalid(ReasonDuplicateField, string(key), "field appears more than once")
		}
		seen |= bit
	}
	if inv := d.end(); inv != nil {
		return inv
	}
	return validateShipment(s, d.lim, false)
}
