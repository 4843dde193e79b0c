package schemas

import (
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/segmentio/encoding/json"
)

// Decoding rules shared by both schemas (see DecodePayment):
//
//   - The record must be exactly one JSON object, optionally surrounded by whitespace;
//     anything else (trailing bytes, a second value, NaN/Infinity) is malformed_json.
//   - Unknown fields are skipped after their syntax is checked; nesting is bounded by
//     MaxDepth.
//   - A known field that appears twice is rejected (duplicate_field); so is a
//     repeated metadata key. Last-wins would let two readers see different events.
//   - null means absent, for required and optional fields alike.
//   - Strings of known fields must be valid UTF-8 after unescaping; an escaped lone
//     surrogate (\ud800) is bad_utf8.
//   - Integers must be written as JSON integers (no fraction, no exponent): 1.5, 1e3
//     and "7" are bad_type; beyond int64 is out_of_range. Floats beyond float64
//     (1e400) are out_of_range.
//   - occurred_at is RFC 3339 (T/t, Z/z or ±hh:mm, fraction of any length, truncated
//     to nanoseconds) and is stored in UTC.

// decoder walks one record with segmentio's Tokenizer and copies the strings it keeps
// into an append-only arena. Strings are built with unsafe.String over arena bytes that
// are never written again, so they are ordinary immutable strings; the arena is never
// rewound below a handed-out string, only replaced by a fresh chunk when full.
type decoder struct {
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
func (d *decoder) begin(data []byte) *Invalid {
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
func (d *decoder) end() *Invalid {
	if d.tok.Next() || d.tok.Err != nil {
		d.tok.Reset(nil)
		return invalid(ReasonMalformed, "", "unexpected data after the event object")
	}
	return nil
}

func (d *decoder) malformed(what string) *Invalid {
	if d.tok.Err != nil {
		what = d.tok.Err.Error()
	}
	d.tok.Reset(nil) // release the tokenizer's pooled stack
	return invalid(ReasonMalformed, "", what)
}

// nextKey reads the next member name of the object being walked (the '{' or previous
// value consumed) and the ':' after it. It returns ok == false at the closing '}'.
// The key is valid until the next call.
func (d *decoder) nextKey(first bool) (key []byte, ok bool, inv *Invalid) {
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
func (d *decoder) skip(depth int) *Invalid {
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
func (d *decoder) memberName() *Invalid {
	t := &d.tok
	if t.Delim != 0 || t.Kind().Class() != json.String || !t.Next() || t.Delim != ':' || !t.Next() {
		return d.malformed("expected object key, ':' and value")
	}
	return nil
}

// str decodes the current value as a string (null: ""), copying it into the arena.
func (d *decoder) str(field string, max int) (string, *Invalid) {
	t := &d.tok
	k := t.Kind()
	if k == json.Null {
		return "", nil
	}
	if k.Class() != json.String || t.Delim != 0 {
		return "", badType(field, "a string", k)
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
func (d *decoder) reserve(n int) {
	if cap(d.arena)-len(d.arena) >= n {
		return
	}
	d.arena = make([]byte, 0, max(n, d.chunk))
}

// uint decodes the current value as a non-negative JSON integer. present is false for
// null.
func (d *decoder) uint(field string) (v int64, present bool, inv *Invalid) {
	t := &d.tok
	k := t.Kind()
	switch {
	case k == json.Null:
		return 0, false, nil
	case t.Delim != 0 || k.Class() != json.Num:
		return 0, false, badType(field, "an integer", k)
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
func (d *decoder) float(field string) (float64, *Invalid) {
	t := &d.tok
	k := t.Kind()
	switch {
	case k == json.Null:
		return 0, nil
	case t.Delim != 0 || k.Class() != json.Num:
		return 0, badType(field, "a number", k)
	}
	f, err := strconv.ParseFloat(unsafe.String(&t.Value[0], len(t.Value)), 64)
	if err != nil {
		return 0, invalid(ReasonOutOfRange, field, quote(string(t.Value))+" is beyond float64")
	}
	return f, nil
}

// time decodes the current value as an RFC 3339 timestamp (null: zero time).
func (d *decoder) time(field string) (time.Time, *Invalid) {
	t := &d.tok
	k := t.Kind()
	switch {
	case k == json.Null:
		return time.Time{}, nil
	case t.Delim != 0 || k.Class() != json.String:
		return time.Time{}, badType(field, "an RFC 3339 string", k)
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
func (d *decoder) metadata(field string) *Invalid {
	d.mkeys, d.mvals, d.meta = d.mkeys[:0], d.mvals[:0], nil
	t := &d.tok
	if t.Kind() == json.Null {
		return nil
	}
	if t.Delim != '{' {
		return badType(field, "an object", t.Kind())
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
			return badType(field+"."+ks, "a string", t.Kind())
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

func badType(field, want string, k json.Kind) *Invalid {
	return invalid(ReasonBadType, field, "want "+want+", got "+kindName(k))
}

func kindName(k json.Kind) string {
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

// unescape appends the JSON string body s (without quotes, syntax already checked by
// the tokenizer) to dst, decoding escapes. bad reports an escaped lone surrogate.
// The output is never longer than s.
func unescape(dst, s []byte) (out []byte, bad bool) {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return dst, true
		}
		switch e := s[i+1]; e {
		case '"', '\\', '/':
			dst = append(dst, e)
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'u':
			r, ok := hex4(s[i+2:])
			if !ok {
				return dst, true
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r >= 0xdc00 || i+6 > len(s) || s[i] != '\\' || s[i+1] != 'u' {
					return dst, true
				}
				r2, ok := hex4(s[i+2:])
				if r = utf16.DecodeRune(r, r2); !ok || r == utf8.RuneError {
					return dst, true
				}
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return dst, true
		}
		i += 2
	}
	return dst, false
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// parseRFC3339 parses YYYY-MM-DD(T|t)hh:mm:ss[.frac](Z|z|±hh:mm) into a UTC time
// without allocating (time.Parse allocates a zone for numeric offsets).
func parseRFC3339(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(time.Month(month), year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	b = b[19:]
	nsec := 0
	if b[0] == '.' {
		i := 1
		for scale := 100_000_000; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
			nsec += int(b[i]-'0') * scale
			scale /= 10
		}
		if i == 1 {
			return time.Time{}, false
		}
		b = b[i:]
	}
	var offset int
	switch {
	case len(b) == 1 && (b[0] == 'Z' || b[0] == 'z'):
	case len(b) == 6 && (b[0] == '+' || b[0] == '-') && b[3] == ':':
		oh, ok1 := digits(b[1:3])
		om, ok2 := digits(b[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = (oh*60 + om) * 60
		if b[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), true
}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(m time.Month, year int) int {
	if m == time.February {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 31 - int(m-1)%7%2
}
