package schemas

import (
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
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

// decoder walks one record with a scanner written for these schemas (no token
// stack, no pooled state) and copies the strings it keeps into an append-only arena.
// Strings are built with unsafe.String over arena bytes that are never written again,
// so they are ordinary immutable strings; the arena is never rewound below a
// handed-out string, only replaced by a fresh chunk when full.
//
// The scanner checks the full JSON grammar (RFC 8259) of everything it walks,
// unknown fields included: whitespace is only space, tab, CR and LF; strings have no
// raw control characters and only the escapes \" \\ \/ \b \f \n \r \t \uXXXX;
// numbers are -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?; a scalar must be
// followed by whitespace, ',', '}', ']' or the end.
type decoder struct {
	data  []byte
	pos   int // next unread byte of data
	lim   Limits
	arena []byte
	chunk int    // size of a new arena chunk (0: exactly what is asked)
	key   []byte // scratch for escaped object keys
	// keyInData: the key nextKey returned is a slice of data (it had no escapes),
	// not of key.
	keyInData bool
	mkeys     []string // scratch: metadata keys of the current record (when !build)
	mvals     []string // scratch: metadata values of the current record (when !build)
	build     bool     // metadata builds meta rather than filling mkeys/mvals
	// transient reuses the arena from the start for every record: the strings of a
	// record are valid only until the next one is decoded, and a plain string is
	// not copied at all but points into the record. Batches copy what they keep
	// into their columns, so their decoder allocates nothing once warm.
	transient bool
	meta      map[string]string

	// The value token the scanner is on (set by value).
	// Offsets rather than a []byte: a pointer written through d would cost a GC
	// write barrier per token while the collector runs.
	kind   kind
	vs, ve int  // string: the body between the quotes is data[vs:ve]; number: its text
	plain  bool // string: no escapes and only ASCII, so the body is the decoded string
	float  bool // number: has a fraction or an exponent
}

// kind is the type of a JSON value token.
type kind uint8

const (
	kNull kind = iota
	kFalse
	kTrue
	kNumber
	kString
	kObject // '{' consumed
	kArray  // '[' consumed
)

func (k kind) String() string {
	return [...]string{"null", "boolean", "boolean", "number", "string", "object", "array"}[k]
}

// Byte classes inside a string.
const (
	cPlain   = iota // printable ASCII other than '"' and '\\'
	cQuote          // '"'
	cEscape         // '\\'
	cControl        // < 0x20: not allowed raw
	cHigh           // >= 0x80: part of a multi-byte sequence, checked later
)

var strClass = func() (t [256]uint8) {
	for i := range t {
		switch {
		case i < 0x20:
			t[i] = cControl
		case i == '"':
			t[i] = cQuote
		case i == '\\':
			t[i] = cEscape
		case i >= 0x80:
			t[i] = cHigh
		}
	}
	return t
}()

// delim reports whether c may follow a scalar value.
var delim = func() (t [256]bool) {
	for _, c := range " \t\r\n,]}" {
		t[c] = true
	}
	return t
}()

func (d *decoder) ws() {
	for d.pos < len(d.data) {
		// Every byte that may start a token is above ' ': one comparison
		// settles the usual case, no whitespace at all.
		if c := d.data[d.pos]; c > ' ' || c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return
		}
		d.pos++
	}
}

// begin checks the record size and positions the scanner inside the top-level object.
func (d *decoder) begin(data []byte) *Invalid {
	if len(data) > d.lim.MaxRecordBytes {
		return invalid(ReasonTooLarge, "", strconv.Itoa(len(data))+" bytes, limit "+strconv.Itoa(d.lim.MaxRecordBytes))
	}
	d.data, d.pos = data, 0
	if d.transient {
		d.arena = d.arena[:0]
	}
	d.ws()
	if d.pos == len(data) {
		return d.malformed("empty record")
	}
	if data[d.pos] != '{' {
		return d.malformed("top-level value must be an object")
	}
	d.pos++
	return nil
}

// end checks that nothing but whitespace follows the top-level object.
func (d *decoder) end() *Invalid {
	d.ws()
	if d.pos != len(d.data) {
		return d.malformed("unexpected data after the event object")
	}
	d.data = nil
	return nil
}

func (d *decoder) malformed(what string) *Invalid {
	if d.pos < len(d.data) {
		what += " at offset " + strconv.Itoa(d.pos)
	}
	d.data = nil
	return invalid(ReasonMalformed, "", what)
}

// scanString scans the string whose opening quote is at d.pos and leaves d.pos after
// its closing quote. It returns where the closing quote is (the body is
// d.data[old d.pos+1:end]) and whether the body is plain (no escapes, ASCII).
func (d *decoder) scanString() (end int, plain bool, ok bool) {
	data := d.data
	plain = true
	for i := d.pos + 1; ; {
		if i = plainEnd(data, i); i >= len(data) {
			break
		}
		switch strClass[data[i]] {
		case cQuote:
			d.pos = i + 1
			return i, plain, true
		case cEscape:
			plain = false
			if i+1 >= len(data) {
				d.pos = i
				return 0, false, false
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := hex4(data[i+2:]); !ok {
					d.pos = i
					return 0, false, false
				}
				i += 6
			default:
				d.pos = i
				return 0, false, false
			}
		case cControl:
			d.pos = i
			return 0, false, false
		default: // cHigh
			plain = false
			i++
		}
	}
	d.pos = len(data)
	return 0, false, false
}

// plainEnd returns the index of the first byte of data at or after i (0 ≤ i ≤
// len(data)) that is not plain (see cPlain), or len(data). It tests 8 bytes at a
// time and goes straight to the first that is not plain: special's lowest flag is
// always a true one.
func plainEnd(data []byte, i int) int {
	rest := data[i:]
	// Words read through a pointer within rest, each checked to end within it
	// by the loop's condition: no bounds check in the loop.
	p := unsafe.Pointer(unsafe.SliceData(rest))
	j, last := 0, len(rest)-8
	for ; j <= last; j += 8 {
		w := binary.LittleEndian.Uint64((*[8]byte)(unsafe.Add(p, j))[:])
		if m := special(w); m != 0 {
			return i + j + bits.TrailingZeros64(m)>>3
		}
	}
	for ; j < len(rest); j++ {
		if strClass[rest[j]] != cPlain {
			return i + j
		}
	}
	return len(data)
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special is non-zero if a byte of x is '"', '\\', a control character (< 0x20) or
// not ASCII (>= 0x80), its lowest flag (0x80 in a byte) on the first such byte;
// flags above it may be wrong. Byte by byte, without borrows, y-1 has its high bit
// set when y is 0 or above 0x80, and y-0x20 when y is below 0x20 or above 0x9f: so
// (x^'"')-1, (x^'\\')-1 and x-0x20 flag the three, and wrongly only bytes of x
// above 0x7f, which x itself flags anyway. A borrow starts only at a byte that is
// flagged, and only propagates upwards, so below the first flag there is none.
func special(x uint64) uint64 {
	return (((x ^ (ones * '"')) - ones) | ((x ^ (ones * '\\')) - ones) | (x - ones*0x20) | x) & highs
}

// skipDigits returns the index of the first byte at or after i that is not an
// ASCII digit.
func skipDigits(data []byte, i int) int {
	for i < len(data) && '0' <= data[i] && data[i] <= '9' {
		i++
	}
	return i
}

// numberEnd scans the number starting at data[i] and returns where it ends and
// whether it has a fraction or an exponent; if it is not a number (RFC 8259), ok
// is false and end is where that shows.
func numberEnd(data []byte, i int) (end int, float, ok bool) {
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && '1' <= data[i] && data[i] <= '9':
		i = skipDigits(data, i+1)
	default:
		return i, false, false
	}
	if i < len(data) && data[i] == '.' {
		float = true
		j := i + 1
		if i = skipDigits(data, j); i == j {
			return i, false, false
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		float = true
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := i
		if i = skipDigits(data, j); i == j {
			return i, false, false
		}
	}
	return i, float, true
}

// val is the text of the current string (its body) or number token.
func (d *decoder) val() []byte { return d.data[d.vs:d.ve] }

// value scans the value token at d.pos (whitespace already skipped) into d.kind,
// d.vs, d.ve, d.plain and d.float. For an object or array only the opening bracket is
// consumed. It fails (malformed) on anything that does not start a valid value.
func (d *decoder) value() *Invalid {
	data := d.data
	if d.pos >= len(data) {
		return d.malformed("expected value")
	}
	switch c := data[d.pos]; c {
	case '"':
		start := d.pos + 1
		end, plain, ok := d.scanString()
		if !ok {
			return d.malformed("invalid string")
		}
		d.kind, d.vs, d.ve, d.plain = kString, start, end, plain
		return nil
	case '{':
		d.pos++
		d.kind = kObject
		return nil
	case '[':
		d.pos++
		d.kind = kArray
		return nil
	case 'n', 't', 'f':
		var lit string
		switch c {
		case 'n':
			lit, d.kind = "null", kNull
		case 't':
			lit, d.kind = "true", kTrue
		default:
			lit, d.kind = "false", kFalse
		}
		if len(data)-d.pos < len(lit) || string(data[d.pos:d.pos+len(lit)]) != lit {
			return d.malformed("invalid literal")
		}
		d.pos += len(lit)
	default:
		if c != '-' && (c < '0' || c > '9') {
			return d.malformed("expected value")
		}
		start := d.pos
		end, float, ok := numberEnd(data, start)
		d.pos = end
		if !ok {
			return d.malformed("invalid number")
		}
		d.kind, d.vs, d.ve, d.float = kNumber, start, end, float
	}
	if d.pos < len(data) && !delim[data[d.pos]] {
		return d.malformed("invalid value")
	}
	return nil
}

// nextKey reads the next member name of the object being walked (the '{' or previous
// value consumed), the ':' after it and the first token of its value. It returns
// ok == false at the closing '}'. The key is valid until the next call.
func (d *decoder) nextKey(first bool) (key []byte, ok bool, inv *Invalid) {
	d.ws()
	if d.pos >= len(d.data) {
		return nil, false, d.malformed("unterminated object")
	}
	if d.data[d.pos] == '}' {
		d.pos++
		return nil, false, nil
	}
	if !first {
		if d.data[d.pos] != ',' {
			return nil, false, d.malformed("expected ',' or '}' after object member")
		}
		d.pos++
		d.ws()
	}
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return nil, false, d.malformed("expected object key")
	}
	start := d.pos + 1
	end, plain, ok := d.scanString()
	if !ok {
		return nil, false, d.malformed("invalid object key")
	}
	key = d.data[start:end]
	d.keyInData = plain
	if !plain {
		var bad bool
		d.key, bad = unescape(d.key[:0], key)
		if bad || !utf8.Valid(d.key) {
			return nil, false, invalid(ReasonBadUTF8, "", "object key is not valid UTF-8")
		}
		key = d.key
	}
	d.ws()
	if d.pos >= len(d.data) || d.data[d.pos] != ':' {
		return nil, false, d.malformed("expected ':' after object key")
	}
	d.pos++
	d.ws()
	if inv := d.value(); inv != nil {
		return nil, false, inv
	}
	return key, true, nil
}

// skip consumes the value the scanner is on (its first token already read by
// value), checking its grammar. depth is the nesting depth of the container holding
// the value.
func (d *decoder) skip(depth int) *Invalid {
	var obj [MaxDepth]bool // obj[i]: the container at level i is an object
	n := 0
	for {
		// d is on the first token of a value.
		switch d.kind {
		case kString:
			if !d.plain && !utf8.Valid(d.val()) {
				d.data = nil
				return invalid(ReasonBadUTF8, "", "a string in an unknown field is not valid UTF-8")
			}
		case kObject, kArray:
			if depth+n+1 > MaxDepth {
				d.data = nil
				return invalid(ReasonTooDeep, "", "nesting deeper than "+strconv.Itoa(MaxDepth))
			}
			obj[n] = d.kind == kObject
			n++
			d.ws()
			if d.pos >= len(d.data) {
				return d.malformed("unterminated value")
			}
			if c := d.data[d.pos]; (obj[n-1] && c == '}') || (!obj[n-1] && c == ']') {
				d.pos++
				n-- // empty container
				break
			}
			if inv := d.member(obj[n-1]); inv != nil {
				return inv
			}
			continue
		}
		// A value ended: expect ',' or the close of its container.
		for {
			if n == 0 {
				return nil
			}
			d.ws()
			if d.pos >= len(d.data) {
				return d.malformed("unterminated value")
			}
			c := d.data[d.pos]
			d.pos++
			if (obj[n-1] && c == '}') || (!obj[n-1] && c == ']') {
				n--
				continue
			}
			if c != ',' {
				d.pos--
				return d.malformed("expected ',' or closing delimiter")
			}
			d.ws()
			if inv := d.member(obj[n-1]); inv != nil {
				return inv
			}
			break
		}
	}
}

// member reads the next element of a container being skipped: for an object a key
// and ':' (names of unknown fields are not checked for UTF-8) then, for both, the
// first token of the value.
func (d *decoder) member(inObject bool) *Invalid {
	if inObject {
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return d.malformed("expected object key")
		}
		if _, _, ok := d.scanString(); !ok {
			return d.malformed("invalid object key")
		}
		d.ws()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return d.malformed("expected ':' after object key")
		}
		d.pos++
		d.ws()
	}
	return d.value()
}

// str decodes the current value as a string (null: ""), copying it into the arena
// (transient: only if it had escapes).
func (d *decoder) str(field string, max int) (string, *Invalid) {
	switch d.kind {
	case kNull:
		return "", nil
	case kString:
	default:
		return "", badType(field, "a string", d.kind)
	}
	raw := d.val()
	if len(raw) == 0 {
		return "", nil
	}
	if d.plain && len(raw) > max {
		return "", invalid(ReasonStringTooLong, field, strconv.Itoa(len(raw))+" bytes, limit "+strconv.Itoa(max))
	}
	if d.plain && d.transient {
		// Valid until the next record, like the arena's strings: no copy.
		return unsafe.String(&raw[0], len(raw)), nil
	}
	d.reserve(len(raw))
	start := len(d.arena)
	if d.plain {
		d.arena = d.arena[:start+len(raw)] // reslicing in place: no write barrier
		copy(d.arena[start:], raw)         // ASCII: valid UTF-8
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
		if n == 0 {
			return "", nil
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
	return d.integer(field, 0, math.MaxInt64)
}

// float decodes the current value as a finite JSON number (null: 0).
func (d *decoder) float64(field string) (float64, *Invalid) {
	switch d.kind {
	case kNull:
		return 0, nil
	case kNumber:
	default:
		return 0, badType(field, "a number", d.kind)
	}
	v := d.val()
	if f, ok := shortFloat(v); ok {
		return f, nil
	}
	f, err := strconv.ParseFloat(unsafe.String(&v[0], len(v)), 64)
	if err != nil {
		return 0, invalid(ReasonOutOfRange, field, quote(string(d.val()))+" is beyond float64")
	}
	return f, nil
}

// exactPow10 are the powers of ten a float64 holds exactly.
var exactPow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// shortFloat converts the JSON number b (syntax already checked) when it has at
// most 15 digits and no exponent (see shortNumber); ok is false for anything
// else, to be left to strconv.
func shortFloat(b []byte) (f float64, ok bool) {
	neg, m, frac, _, ok := shortNumber(b, 0)
	if !ok {
		return 0, false
	}
	return decimalFloat(neg, m, frac), true
}

// shortNumber reads the number at data[i] when it is -?(0|[1-9][0-9]*)(.[0-9]+)?
// with at most 15 digits, followed by a delimiter or the end: its sign, its
// digits as one integer m, how many of them follow the point (-1: no point) and
// where it ends. ok is false for anything else (an exponent, more digits, not a
// number), which numberEnd and strconv read.
func shortNumber(data []byte, i int) (neg bool, m uint64, frac, end int, ok bool) {
	if i < len(data) && data[i] == '-' {
		neg = true
		i++
	}
	start := i
	for ; i < len(data) && data[i]-'0' <= 9; i++ {
		m = m*10 + uint64(data[i]-'0')
	}
	n := i - start
	if n == 0 || (n > 1 && data[start] == '0') {
		return false, 0, 0, 0, false
	}
	frac = -1
	if i < len(data) && data[i] == '.' {
		i++
		fs := i
		for ; i < len(data) && data[i]-'0' <= 9; i++ {
			m = m*10 + uint64(data[i]-'0')
		}
		if frac = i - fs; frac == 0 {
			return false, 0, 0, 0, false
		}
		n += frac
	}
	if n > 15 || (i < len(data) && !delim[data[i]]) {
		return false, 0, 0, 0, false
	}
	return neg, m, frac, i, true
}

// decimalFloat is shortNumber's number as a float64, as strconv.ParseFloat's
// exact path converts it: m (below 10^15) and the power of ten are both exact
// float64s, so their quotient is the correctly rounded value.
func decimalFloat(neg bool, m uint64, frac int) float64 {
	f := float64(m)
	if frac > 0 {
		f /= exactPow10[frac]
	}
	if neg {
		f = -f
	}
	return f
}

// time decodes the current value as an RFC 3339 timestamp (null: zero time).
func (d *decoder) time(field string) (time.Time, *Invalid) {
	switch d.kind {
	case kNull:
		return time.Time{}, nil
	case kString:
	default:
		return time.Time{}, badType(field, "an RFC 3339 string", d.kind)
	}
	ts, ok := parseRFC3339(d.val())
	if !ok || !d.plain {
		return time.Time{}, d.badTime(field)
	}
	return ts, nil
}

// unixTime is time for a string value already known to be one, as Unix seconds
// and nanoseconds, the date's conversion cached in dc.
func (d *decoder) unixTime(field string, dc *dateCache) (sec, nsec int64, inv *Invalid) {
	sec, nsec, ok := rfc3339Unix(d.val(), dc)
	if !ok || !d.plain {
		return 0, 0, d.badTime(field)
	}
	return sec, nsec, nil
}

func (d *decoder) badTime(field string) *Invalid {
	return invalid(ReasonBadTimestamp, field, "want RFC 3339, got "+quote(string(d.val())))
}

// metadata decodes the current value as an object of strings into d.meta (when
// d.build; nil when empty) or d.mkeys/d.mvals, within the Limits.
func (d *decoder) metadata(field string) *Invalid {
	return d.entries(field, d.lim.MaxMetadataEntries, d.lim.MaxStringBytes, d.lim.MaxStringBytes)
}

// entries is metadata with explicit bounds: at most maxEntries entries, keys of at
// most maxKey bytes, values of at most maxVal bytes.
func (d *decoder) entries(field string, maxEntries, maxKey, maxVal int) *Invalid {
	d.mkeys, d.mvals, d.meta = d.mkeys[:0], d.mvals[:0], nil
	switch d.kind {
	case kNull:
		return nil
	case kObject:
	default:
		return badType(field, "an object", d.kind)
	}
	for first := true; ; first = false {
		if d.transient && !d.build && d.plainEntries(first, maxEntries, maxKey, maxVal) {
			first = false
		}
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
		if len(d.mkeys)+len(d.meta) == maxEntries {
			return invalid(ReasonTooManyMetadata, field, "more than "+strconv.Itoa(maxEntries)+" entries")
		}
		if len(key) > maxKey {
			return invalid(ReasonStringTooLong, field, "key of "+strconv.Itoa(len(key))+" bytes, limit "+strconv.Itoa(maxKey))
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
		switch {
		case len(key) == 0:
		case d.transient && d.keyInData:
			// Valid until the next record, like the values: no copy.
			ks = unsafe.String(&key[0], len(key))
		default:
			d.reserve(len(key))
			start := len(d.arena)
			d.arena = d.arena[:start+len(key)]
			copy(d.arena[start:], key)
			ks = unsafe.String(&d.arena[start], len(key))
		}
		if d.kind != kString {
			return badType(field+"."+ks, "a string", d.kind)
		}
		v, inv := d.str(field, maxVal)
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

// plainEntries is entries' common case for a transient decoder, tried before
// each entry: while the entry at d.pos is written without whitespace, its key and
// its string value plain (so kept where they are in the record), within the
// bounds and its key not seen before, it appends it to d.mkeys and d.mvals. It
// reports whether it read one, and stops before any other entry, which entries
// reads as if plainEntries had not run.
func (d *decoder) plainEntries(first bool, maxEntries, maxKey, maxVal int) (read bool) {
	data := d.data
	for {
		i := d.pos
		if !first {
			if i >= len(data) || data[i] != ',' {
				return read
			}
			i++
		}
		if i >= len(data) || data[i] != '"' {
			return read
		}
		ke := plainEnd(data, i+1) // the key's closing quote
		if ke+2 >= len(data) || data[ke] != '"' || data[ke+1] != ':' || data[ke+2] != '"' {
			return read
		}
		ve := plainEnd(data, ke+3) // the value's
		if ve >= len(data) || data[ve] != '"' {
			return read
		}
		key, val := data[i+1:ke], data[ke+3:ve]
		if len(d.mkeys) == maxEntries || len(key) > maxKey || len(val) > maxVal {
			return read
		}
		for _, k := range d.mkeys {
			if k == string(key) {
				return read
			}
		}
		var ks, vs string
		if len(key) > 0 {
			ks = unsafe.String(&key[0], len(key))
		}
		if len(val) > 0 {
			vs = unsafe.String(&val[0], len(val))
		}
		d.mkeys = append(d.mkeys, ks)
		d.mvals = append(d.mvals, vs)
		d.pos, first, read = ve+1, false, true
	}
}

func badType(field, want string, k kind) *Invalid {
	return invalid(ReasonBadType, field, "want "+want+", got "+k.String())
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
	sec, nsec, ok := rfc3339Unix(b, nil)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(sec, nsec).UTC(), true
}

// dateCache holds the last date rfc3339Unix converted (its ten bytes as two
// words): the timestamps of a stream mostly fall on the same day.
type dateCache struct {
	head uint64 // YYYY-MM-
	tail uint16 // DD
	days int64  // since 1970-01-01; 0 with head 0: nothing cached
}

// rfc3339Unix is parseRFC3339 as Unix seconds and nanoseconds; dc, when not nil,
// caches the conversion of the date.
func rfc3339Unix(b []byte, dc *dateCache) (unix, nsec int64, ok bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return 0, 0, false
	}
	var days int64
	head, tail := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint16(b[8:])
	if dc != nil && dc.head == head && dc.tail == tail {
		days = dc.days
	} else {
		year, ok1 := digits(b[0:4])
		month, ok2 := digits(b[5:7])
		day, ok3 := digits(b[8:10])
		if !(ok1 && ok2 && ok3) || month < 1 || month > 12 || day < 1 || day > daysIn(time.Month(month), year) {
			return 0, 0, false
		}
		days = daysSinceEpoch(year, month, day)
		if dc != nil {
			*dc = dateCache{head: head, tail: tail, days: days}
		}
	}
	hour, minute, sec, ok := clock(binary.LittleEndian.Uint64(b[11:19]))
	if !ok {
		return 0, 0, false
	}
	b = b[19:]
	if b[0] == '.' {
		// Nine digits at most make the nanoseconds; the rest are truncated.
		i := 1
		for ; i < len(b) && b[i]-'0' <= 9; i++ {
			if i <= 9 {
				nsec = nsec*10 + int64(b[i]-'0')
			}
		}
		if i == 1 {
			return 0, 0, false
		}
		nsec *= int64(pow10[10-min(i, 10)])
		b = b[i:]
	}
	var offset int
	switch {
	case len(b) == 1 && (b[0] == 'Z' || b[0] == 'z'):
	case len(b) == 6 && (b[0] == '+' || b[0] == '-') && b[3] == ':':
		oh, ok1 := digits(b[1:3])
		om, ok2 := digits(b[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, 0, false
		}
		offset = (oh*60 + om) * 60
		if b[0] == '-' {
			offset = -offset
		}
	default:
		return 0, 0, false
	}
	return days*86400 + int64(hour*3600+minute*60+sec-offset), nsec, true
}

// clock reads hh:mm:ss from w, its eight bytes in order with the colons already
// checked, all at once: ok is false unless the six others are digits and the
// time is within 23:59:59. Less '0', a digit byte is 0-9 and anything else
// either wraps above 0x7f or, with 0x76 added, reaches 0x80; a byte below '0'
// is flagged itself, whatever its borrow does to the next.
func clock(w uint64) (hour, minute, sec int, ok bool) {
	const digitBytes = 0xffff_00ff_ff00_ffff // all but the colons
	t := w - ones*'0'
	if (t|(t+ones*0x76))&highs&digitBytes != 0 {
		return 0, 0, 0, false
	}
	hour = int(t&0xff)*10 + int(t>>8&0xff)
	minute = int(t>>24&0xff)*10 + int(t>>32&0xff)
	sec = int(t>>48&0xff)*10 + int(t>>56&0xff)
	return hour, minute, sec, hour <= 23 && minute <= 59 && sec <= 59
}

// daysSinceEpoch is the number of days from 1970-01-01 to the given date of the
// proleptic Gregorian calendar (year in [0, 9999]), without time.Date's
// normalisation (Howard Hinnant's days_from_civil).
func daysSinceEpoch(year, month, day int) int64 {
	y := int64(year)
	if month <= 2 {
		y--
	}
	era := (y+400)/400 - 1 // floor(y/400) for y >= -1
	yoe := y - era*400
	mp := int64(month+9) % 12 // March is 0
	doy := (153*mp+2)/5 + int64(day) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
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
