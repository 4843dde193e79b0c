package schemas

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// slot holds one property's value in the record being decoded. It is valid only
// when gen is the decoder's current generation: a slot not written by this record
// reads as absent, so nothing is cleared between records.
type slot struct {
	gen uint32
	// next is the field table entry of the member that followed this one in
	// the last record (see fieldTable.find; tables have at most 1<<12
	// entries), kept here beside gen rather than in a slice of its own.
	next int16
	set  bool    // a non-null value (for strings: a non-empty one)
	s    string  // pStr
	i    int64   // pInt, pBool (0/1), pDec (scaled), pTime (Unix nanoseconds)
	f    float64 // pFloat
	// list holds a pMap's entries or a pArr's elements; allocated once, for those
	// kinds only, so that a slot stays small.
	list *listValues
}

// listValues are a map's entries (keys, vals) or an array's elements (strings in
// keys, numbers in ints or floats).
type listValues struct {
	keys, vals []string
	ints       []int64
	floats     []float64
}

// newSlots returns the slots of t's records.
func newSlots(t *EventType) []slot {
	slots := make([]slot, t.slots)
	for _, p := range allProps(t.props) {
		if p.kind == pMap || p.kind == pArr {
			slots[p.index].list = new(listValues)
		}
	}
	return slots
}

// recordDecoder decodes and validates the records of one EventType, reusing its
// scanner, arena and slots: once warm it allocates nothing per record.
type recordDecoder struct {
	d     decoder
	t     *EventType
	gen   uint32
	slots []slot
	elem  slot // an array element being decoded
	// firstHints[i] is the field table entry of the first member of object
	// property i (of the event at len(slots)) in the last record, as slot.next
	// is of the member that followed a property.
	firstHints  []int16
	unknownHint int16
	// strLim[k] is strMax of slot k's property (for members).
	strLim []int
	// outOfRange is the last timestamp decoded outside [1970, 2106), for the
	// Detail of its Invalid.
	outOfRange time.Time
	dates      dateCache // of the RFC 3339 timestamps
	// idProp, when not nil, is the event id, handed to pre once decoded.
	idProp *prop
	pre    idPrefetcher
}

// The range of event times, in Unix nanoseconds and seconds (see minOccurredAt,
// whole seconds).
var (
	minEventNs  = minOccurredAt.UnixNano()
	maxEventNs  = maxOccurredAt.UnixNano()
	minEventSec = minOccurredAt.Unix()
	maxEventSec = maxOccurredAt.Unix()
)

func (t *EventType) newRecordDecoder(lim Limits, chunk int) *recordDecoder {
	r := &recordDecoder{d: decoder{lim: lim.withDefaults(), chunk: chunk}}
	r.init(t)
	return r
}

// init gives r the slots and hints of t's records.
func (r *recordDecoder) init(t *EventType) {
	r.t, r.slots = t, newSlots(t)
	r.firstHints = make([]int16, t.slots+1)
	r.strLim = make([]int, t.slots)
	for _, p := range allProps(t.props) {
		r.strLim[p.index] = r.strMax(p)
	}
}

// here returns p's slot if this record gave p a non-null value, else nil.
func (r *recordDecoder) here(p *prop) *slot { return r.present(int32(p.index)) }

// present is slot k if this record gave it a non-null value, else nil (here by
// slot index).
func (r *recordDecoder) present(k int32) *slot {
	if s := &r.slots[k]; s.gen == r.gen && s.set {
		return s
	}
	return nil
}

// str is slot k's string, "" if this record gave it none.
func (r *recordDecoder) str(k int32) string {
	if s := r.present(k); s != nil {
		return s.s
	}
	return ""
}

// record decodes and validates one record into the slots.
func (r *recordDecoder) record(data []byte) *Invalid {
	if r.gen++; r.gen == 0 {
		for i := range r.slots {
			r.slots[i].gen = 0
		}
		r.gen = 1
	}
	if inv := r.d.begin(data); inv != nil {
		return inv
	}
	if inv := r.object(r.t.lookup, 1, &r.firstHints[len(r.slots)]); inv != nil {
		r.d.data = nil
		return inv
	}
	if inv := r.d.end(); inv != nil {
		return inv
	}
	return r.validate()
}

// object decodes the members of the object the scanner is in ('{' consumed);
// depth is its nesting depth (the event is 1). hint holds the field table entry
// expected for the first member, and is updated with the one found.
func (r *recordDecoder) object(ft *fieldTable, depth int, hint *int16) *Invalid {
	for first := true; ; first = false {
		var inv *Invalid
		if hint, first, inv = r.members(ft, depth, hint, first); inv != nil {
			return inv
		}
		var p *prop
		if e := *hint; uint32(e) < uint32(len(ft.entries)) && ft.entries[e].verbatim && r.d.quickKey(first, &ft.entries[e]) {
			p = ft.entries[e].p
			if inv := r.d.value(); inv != nil {
				return inv
			}
		} else {
			key, ok, inv := r.d.nextKey(first)
			if inv != nil {
				return inv
			}
			if !ok {
				return nil
			}
			var found int32
			p, found = ft.find(key, int32(e))
			*hint = int16(found)
			if p == nil {
				if inv := r.d.skip(depth); inv != nil {
					return inv
				}
				hint = &r.unknownHint
				continue
			}
		}
		hint = &r.slots[p.index].next
		if inv := r.member(p, depth); inv != nil {
			return inv
		}
	}
}

// member decodes the value the scanner is on into p's slot.
func (r *recordDecoder) member(p *prop, depth int) *Invalid {
	s := &r.slots[p.index]
	dup := r.claim(s)
	if inv := r.value(p, s, depth); inv != nil {
		return inv
	}
	if dup {
		return dupField(p)
	}
	return nil
}

// claim marks s as written by this record; true if it already was (a repeated
// field, reported once its value is decoded).
func (r *recordDecoder) claim(s *slot) (dup bool) {
	dup = s.gen == r.gen
	s.gen = r.gen
	return dup
}

func dupField(p *prop) *Invalid {
	return invalid(ReasonDuplicateField, p.path, "field appears more than once")
}

// members is object's common case, tried before each member: while the member
// at d.pos is the one the hints expect, written as its entry's compact form (no
// whitespace around its name), it decodes it; it returns the hint for the next
// member and first, false once it read one. It stops before any other member,
// and object reads that one as if members had not run.
//
// Records of one type tend to list the same fields in the same order, written
// the same way, so the name is confirmed by one masked comparison of three words,
// without scanning it as a string or looking it up. Most values that come that
// way are decoded in one pass, here (a plain string within its limit, pointed at
// in the record: transient decoders only) or by oneValue; the others, including
// every value that is wrong, go through value and member, so that every error is
// found and worded where it always is.
func (r *recordDecoder) members(ft *fieldTable, depth int, hint *int16, first bool) (*int16, bool, *Invalid) {
	// Locals, not fields of r: they stay in registers across the loop.
	d := &r.d
	data, entries, slots, lims, gen, transient := d.data, ft.entries, r.slots, r.strLim, r.gen, d.transient
	pos := d.pos
	for {
		e := uint(uint16(*hint)) // -1 (none) beyond every table
		if e >= uint(len(entries)) {
			break
		}
		fe := &entries[e]
		i := pos
		if !first {
			if i >= len(data) || data[i] != ',' {
				break
			}
			i++
		}
		if fe.compactN == 0 || i > len(data)-24 {
			break
		}
		w := data[i : i+24]
		if (binary.LittleEndian.Uint64(w)&fe.compactMask[0]^fe.compact[0])|
			(binary.LittleEndian.Uint64(w[8:])&fe.compactMask[1]^fe.compact[1])|
			(binary.LittleEndian.Uint64(w[16:])&fe.compactMask[2]^fe.compact[2]) != 0 {
			break
		}
		i += fe.compactN
		p := fe.p
		k := p.index
		s := &slots[k]
		hint, first = &s.next, false
		end := 0
		if p.kind == pStr && transient && i < len(data) && data[i] == '"' {
			// A plain string within its limit, pointed at where it is in
			// the record: plainEnd, its loop over words here (a call
			// would cost more than most strings' one or two words).
			j := i + 1
			var m uint64
			for ; j <= len(data)-8; j += 8 {
				if m = special(binary.LittleEndian.Uint64(data[j : j+8])); m != 0 {
					break
				}
			}
			if m != 0 {
				j += bits.TrailingZeros64(m) >> 3
			} else {
				j = plainEnd(data, j) // the last bytes
			}
			if n := j - (i + 1); j < len(data) && data[j] == '"' && n > 0 && n <= lims[k] {
				s.s, s.set = unsafe.String(&data[i+1], n), true
				if p == r.idProp {
					r.pre.Prefetch(s.s)
				}
				end = j + 1
			}
		} else if p.kind != pStr {
			end = r.oneValue(p, s, i)
		}
		if end > 0 {
			pos = end
			dup := s.gen == gen // claim, with gen in a register
			s.gen = gen
			if dup {
				d.pos = pos
				return hint, first, dupField(p)
			}
			continue
		}
		d.pos = i
		d.ws()
		if inv := d.value(); inv != nil {
			return hint, first, inv
		}
		if inv := r.member(p, depth); inv != nil {
			return hint, first, inv
		}
		pos = d.pos
	}
	d.pos = pos
	return hint, first, nil
}

// oneValue decodes the value at data[i] into s in one pass and returns where it
// ends, when it is an RFC 3339 time in range, or an integer within its range or
// a short number followed by a delimiter (a string is not checked for one: value
// leaves what follows it to the object): what the decoder's value and then value
// would take the same way. Otherwise it returns 0 with s as it was.
func (r *recordDecoder) oneValue(p *prop, s *slot, i int) (end int) {
	data := r.d.data
	if i >= len(data) {
		return 0
	}
	switch p.kind {
	case pTime:
		if data[i] != '"' || !p.rfc3339 {
			return 0
		}
		j := plainEnd(data, i+1)
		if j >= len(data) || data[j] != '"' {
			return 0
		}
		sec, nsec, ok := rfc3339Unix(data[i+1:j], &r.dates)
		if !ok || sec < minEventSec || sec >= maxEventSec {
			return 0
		}
		s.i, s.set = sec*1e9+nsec, true
		return j + 1
	case pInt, pFloat:
		neg, m, frac, j, ok := shortNumber(data, i)
		if !ok {
			return 0
		}
		if p.kind == pInt {
			v := int64(m)
			if neg {
				v = -v
			}
			if frac >= 0 || v < p.imin || v > p.imax {
				return 0
			}
			s.i = v
		} else {
			f := decimalFloat(neg, m, frac)
			if p.store == sFloat32 && math.Abs(f) > math.MaxFloat32 {
				return 0
			}
			s.f = f
		}
		s.set = true
		return j
	}
	return 0
}

// quickKey moves the scanner past the member name of e, its ':' and the
// whitespace after, when that name comes next, written as it is (e.verbatim):
// records of one type tend to list the same fields in the same order, so the
// member the hints expect is confirmed by comparing bytes, without scanning the
// name as a string or looking it up. Otherwise (another member, the object's end,
// anything malformed) it returns false with the scanner before the ',' or name,
// for nextKey to read. (A member written without whitespace around its name is
// members' to take.)
func (d *decoder) quickKey(first bool, e *fieldEntry) bool {
	d.ws()
	data, i := d.data, d.pos
	if !first {
		if i >= len(data) || data[i] != ',' {
			return false
		}
		for i++; i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r'); i++ {
		}
	}
	n := e.n
	end := i + 1 + n // the closing quote
	if end+1 >= len(data) || data[i] != '"' || data[end] != '"' {
		return false
	}
	if n <= 16 && i+17 <= len(data) {
		w := data[i+1 : i+17]
		head, tail := binary.LittleEndian.Uint64(w), binary.LittleEndian.Uint64(w[8:])
		if n <= 8 {
			head, tail = head&byteMask[n], 0
		} else {
			tail &= byteMask[n-8]
		}
		if head != e.head || tail != e.tail {
			return false
		}
	} else if string(data[i+1:end]) != e.name {
		return false
	}
	i = end + 1
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	if i >= len(data) || data[i] != ':' {
		return false
	}
	d.pos = i + 1
	d.ws()
	return true
}

// strMax is the byte limit of p's strings.
func (r *recordDecoder) strMax(p *prop) int {
	return bound(p.maxLen, r.d.lim.MaxStringBytes, p.isEventID)
}

// bound is a schema limit (0: none) under the deployment's: the smaller of the
// two, or the schema's alone when own (the event id, bounded by MaxEventIDBytes).
func bound(schema, deployment int, own bool) int {
	if schema > 0 && (own || schema < deployment) {
		return schema
	}
	return deployment
}

// value decodes the value the scanner is on into s, as p says.
func (r *recordDecoder) value(p *prop, s *slot, depth int) (inv *Invalid) {
	d := &r.d
	s.set = d.kind != kNull
	switch p.kind {
	case pStr:
		s.s, inv = d.str(p.path, r.strMax(p))
		s.set = s.s != ""
		if p == r.idProp && s.set {
			r.pre.Prefetch(s.s)
		}
	case pInt:
		s.i, s.set, inv = d.integer(p.path, p.imin, p.imax)
	case pFloat:
		s.f, inv = d.float64(p.path)
		if inv == nil && p.store == sFloat32 && math.Abs(s.f) > math.MaxFloat32 {
			inv = invalid(ReasonOutOfRange, p.path, quote(string(d.val()))+" is beyond Float32")
		}
	case pDec:
		s.i, inv = r.decimal(p)
	case pBool:
		switch d.kind {
		case kTrue:
			s.i = 1
		case kFalse:
			s.i = 0
		case kNull:
		default:
			inv = badType(p.path, "a boolean", d.kind)
		}
	case pTime:
		s.i, inv = r.timestamp(p)
	case pMap:
		inv = d.entries(p.path, r.mapMax(p), r.keyMax(p), r.strMax(p))
		l := s.list
		l.keys, d.mkeys = d.mkeys, l.keys[:0]
		l.vals, d.mvals = d.mvals, l.vals[:0]
		s.set = len(l.keys) > 0
	case pArr:
		inv = r.array(p, s)
	case pObj:
		switch d.kind {
		case kNull:
		case kObject:
			inv = r.object(p.lookup, depth+1, &r.firstHints[p.index])
		default:
			inv = badType(p.path, "an object", d.kind)
		}
	}
	return inv
}

func (r *recordDecoder) mapMax(p *prop) int {
	return bound(p.maxEntries, r.d.lim.MaxMetadataEntries, false)
}

func (r *recordDecoder) keyMax(p *prop) int {
	return bound(p.maxKey, r.d.lim.MaxStringBytes, false)
}

// timestamp decodes an RFC 3339 string or an epoch integer to Unix nanoseconds.
func (r *recordDecoder) timestamp(p *prop) (int64, *Invalid) {
	d := &r.d
	switch {
	case d.kind == kNull:
		return 0, nil
	case d.kind == kString && p.rfc3339:
		sec, nsec, inv := d.unixTime(p.path, &r.dates)
		if inv == nil && (sec < minEventSec || sec >= maxEventSec) {
			// Out of range (and perhaps of int64 nanoseconds): validate reports it.
			r.outOfRange = time.Unix(sec, nsec).UTC()
			return minEventNs - 1, nil
		}
		return sec*1e9 + nsec, inv
	case d.kind == kNumber && p.epoch != 0:
		// Bounded before scaling so that the product cannot overflow.
		v, _, inv := d.integer(p.path, 0, maxEventNs/p.epoch)
		return v * p.epoch, inv
	case p.rfc3339 && p.epoch != 0:
		return 0, badType(p.path, "an RFC 3339 string or an epoch integer", d.kind)
	case p.rfc3339:
		return 0, badType(p.path, "an RFC 3339 string", d.kind)
	}
	return 0, badType(p.path, "an epoch integer", d.kind)
}

// decimal decodes a decimal number or string, exactly.
func (r *recordDecoder) decimal(p *prop) (int64, *Invalid) {
	d := &r.d
	switch {
	case d.kind == kNull:
		return 0, nil
	case d.kind == kNumber && p.decNumber:
	case d.kind == kString && p.decString:
		if !d.plain || d.vs == d.ve {
			return 0, invalid(ReasonBadFormat, p.path, "want a decimal string, got "+quote(string(d.val())))
		}
	case p.decString && p.decNumber:
		return 0, badType(p.path, "a decimal number or string", d.kind)
	case p.decString:
		return 0, badType(p.path, "a decimal string", d.kind)
	default:
		return 0, badType(p.path, "a number", d.kind)
	}
	v, why := parseDecimal(d.val(), d.kind == kNumber, p.prec, p.scale)
	switch why {
	case "":
		return v, nil
	case decSyntax:
		return 0, invalid(ReasonBadFormat, p.path, "want a decimal, got "+quote(string(d.val())))
	}
	return 0, invalid(ReasonOutOfRange, p.path, quote(string(d.val()))+" "+why+" of "+p.chType)
}

// array decodes an array of scalars into s.
func (r *recordDecoder) array(p *prop, s *slot) *Invalid {
	d := &r.d
	l := s.list
	l.keys, l.ints, l.floats = l.keys[:0], l.ints[:0], l.floats[:0]
	switch d.kind {
	case kNull:
		return nil
	case kArray:
	default:
		return badType(p.path, "an array", d.kind)
	}
	it, tmp := p.item, &r.elem
	for n := 0; ; n++ {
		d.ws()
		if d.pos < len(d.data) && d.data[d.pos] == ']' && n == 0 {
			d.pos++
			break
		}
		if n > 0 {
			if d.pos >= len(d.data) {
				return d.malformed("unterminated array")
			}
			c := d.data[d.pos]
			d.pos++
			if c == ']' {
				break
			}
			if c != ',' {
				d.pos--
				return d.malformed("expected ',' or ']' in array")
			}
			d.ws()
		}
		if inv := d.value(); inv != nil {
			return inv
		}
		if p.maxItems > 0 && n == p.maxItems {
			return invalid(ReasonTooManyItems, p.path, "more than "+strconv.Itoa(p.maxItems)+" elements")
		}
		if d.kind == kNull || d.kind == kObject || d.kind == kArray {
			return badType(p.path, "an array of "+it.desc.Type+"s", d.kind)
		}
		if inv := r.value(it, tmp, 0); inv != nil {
			return inv
		}
		if inv := r.checkScalar(it, tmp); inv != nil {
			return inv
		}
		switch it.kind {
		case pStr:
			l.keys = append(l.keys, tmp.s)
		case pFloat:
			l.floats = append(l.floats, tmp.f)
		default:
			l.ints = append(l.ints, tmp.i)
		}
	}
	s.set = len(l.keys)+len(l.ints)+len(l.floats) > 0
	return nil
}

// validate applies the rules that need the whole record, in two passes so that the
// first failure reported is stable: every leaf in column order (required strings
// and timestamps, enums, lengths, patterns, ranges), then the presence of the
// other required properties (a number or boolean can be absent without a zero
// value telling).
func (r *recordDecoder) validate() *Invalid {
	for _, p := range r.t.rules {
		if p.parent != nil && r.here(p.parent) == nil {
			continue
		}
		s := r.here(p)
		if s == nil {
			if p.required && (p.kind == pStr || p.kind == pTime) {
				return invalid(ReasonMissingField, p.path, "required")
			}
			continue
		}
		switch {
		case p.presenceOnly:
		case p.kind == pTime && s.i >= minEventNs && s.i < maxEventNs: // in range
		default:
			if inv := r.checkScalar(p, s); inv != nil {
				return inv
			}
		}
	}
	for _, p := range r.t.checks {
		if (p.parent == nil || r.here(p.parent) != nil) && r.here(p) == nil {
			return invalid(ReasonMissingField, p.path, "required")
		}
	}
	return nil
}

// checkScalar applies p's value rules to a present value.
func (r *recordDecoder) checkScalar(p *prop, s *slot) *Invalid {
	switch p.kind {
	case pStr:
		if len(s.s) < p.minLen {
			return invalid(ReasonStringTooShort, p.path, strconv.Itoa(len(s.s))+" bytes, minimum "+strconv.Itoa(p.minLen))
		}
		if p.enum != nil && !slices.Contains(p.enum, s.s) {
			return invalid(ReasonBadEnum, p.path, badEnumDetail(s.s, strings.Join(p.enum, "|")))
		}
		if p.pattern != nil && !p.matches(s.s) {
			return invalid(ReasonBadFormat, p.path, quote(s.s)+" does not match "+quote(p.pattern.String()))
		}
	case pTime:
		if s.i < minEventNs || s.i >= maxEventNs {
			t := time.Unix(0, s.i)
			if s.i == minEventNs-1 {
				t = r.outOfRange
			}
			return timeInRange(p.path, t)
		}
	case pFloat:
		f := s.f
		if p.hasFMin && (f < p.fmin || p.fminExcl && f == p.fmin) || p.hasFMax && (f > p.fmax || p.fmaxExcl && f == p.fmax) {
			return invalid(ReasonOutOfRange, p.path, "must be within "+p.desc.rangeText()+", got "+strconv.FormatFloat(f, 'g', -1, 64))
		}
	case pDec:
		v := s.i
		if p.hasDMin && (v < p.dmin || p.dminExcl && v == p.dmin) || p.hasDMax && (v > p.dmax || p.dmaxExcl && v == p.dmax) {
			return invalid(ReasonOutOfRange, p.path, "must be within "+p.desc.rangeText()+", got "+formatDecimal(v, p.scale))
		}
	}
	return nil
}

func (p *prop) matches(s string) bool {
	if p.match != nil {
		return p.match(s)
	}
	return p.pattern.MatchString(s)
}

// rangeText describes a property's numeric bounds for a Detail.
func (p Property) rangeText() string {
	lo, hi := "(-∞", "+∞)"
	switch {
	case p.Minimum != "":
		lo = "[" + p.Minimum
	case p.ExclusiveMinimum != "":
		lo = "(" + p.ExclusiveMinimum
	}
	switch {
	case p.Maximum != "":
		hi = p.Maximum + "]"
	case p.ExclusiveMaximum != "":
		hi = p.ExclusiveMaximum + ")"
	}
	return lo + ", " + hi
}

// integer decodes the current value as a JSON integer within [lo, hi]. present is
// false for null.
func (d *decoder) integer(field string, lo, hi int64) (v int64, present bool, inv *Invalid) {
	switch {
	case d.kind == kNull:
		return 0, false, nil
	case d.kind != kNumber:
		return 0, false, badType(field, "an integer", d.kind)
	case d.float:
		return 0, false, invalid(ReasonBadType, field, "want an integer, got "+quote(string(d.val())))
	}
	v, ok := intValue(d.val())
	if !ok {
		return 0, false, invalid(ReasonOutOfRange, field, quote(string(d.val()))+" exceeds int64")
	}
	if v < lo {
		return 0, false, invalid(ReasonOutOfRange, field, "must be ≥ "+strconv.FormatInt(lo, 10)+", got "+quote(string(d.val())))
	}
	if v > hi {
		return 0, false, invalid(ReasonOutOfRange, field, "must be ≤ "+strconv.FormatInt(hi, 10)+", got "+quote(string(d.val())))
	}
	return v, true, nil
}

// intValue converts b, a JSON integer (syntax already checked); ok is false for
// a magnitude beyond math.MaxInt64.
func intValue(b []byte) (v int64, ok bool) {
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	var u uint64
	if len(b) <= 18 { // below 10^18: cannot overflow
		for _, c := range b {
			u = u*10 + uint64(c-'0')
		}
	} else {
		for _, c := range b {
			if u > (math.MaxInt64-uint64(c-'0'))/10 {
				return 0, false
			}
			u = u*10 + uint64(c-'0')
		}
	}
	v = int64(u)
	if neg {
		v = -v
	}
	return v, true
}

// decSyntax is parseDecimal's complaint about text that is not a decimal.
const decSyntax = "is not a decimal"

var pow10 = func() (t [19]uint64) {
	t[0] = 1
	for i := 1; i < len(t); i++ {
		t[i] = t[i-1] * 10
	}
	return t
}()

// parseDecimal parses -?digits(.digits)? (and, with exp, an exponent) into an
// integer scaled by 10^scale, exactly: it fails (why != "") on more fraction digits
// than scale unless they are zeros, and on a magnitude of 10^prec or more.
func parseDecimal(b []byte, exp bool, prec, scale int) (v int64, why string) {
	i := 0
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	intStart := i
	i = skipDigits(b, i)
	intPart := b[intStart:i]
	if len(intPart) == 0 {
		return 0, decSyntax
	}
	var frac []byte
	if i < len(b) && b[i] == '.' {
		fs := i + 1
		i = skipDigits(b, fs)
		if i == fs {
			return 0, decSyntax
		}
		frac = b[fs:i]
	}
	e := 0
	if exp && i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := i < len(b) && b[i] == '-'
		if i < len(b) && (b[i] == '-' || b[i] == '+') {
			i++
		}
		es := i
		for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
			if e < 10000 {
				e = e*10 + int(b[i]-'0')
			}
		}
		if i == es {
			return 0, decSyntax
		}
		if eneg {
			e = -e
		}
	}
	if i != len(b) {
		return 0, decSyntax
	}
	// The value is the digits of intPart and frac times 10^shift.
	shift := e + scale - len(frac)
	n := len(intPart) + len(frac)
	keep := n
	if shift < 0 {
		keep = max(n+shift, 0)
	}
	digit := func(j int) byte {
		if j < len(intPart) {
			return intPart[j] - '0'
		}
		return frac[j-len(intPart)] - '0'
	}
	for j := keep; j < n; j++ {
		if digit(j) != 0 {
			return 0, "has more than " + strconv.Itoa(scale) + " decimal places"
		}
	}
	limit := pow10[prec]
	var u uint64
	for j := range keep {
		u = u*10 + uint64(digit(j))
		if u >= limit {
			return 0, "is beyond the precision"
		}
	}
	for ; shift > 0 && u != 0; shift-- {
		if u *= 10; u >= limit {
			return 0, "is beyond the precision"
		}
	}
	v = int64(u)
	if neg {
		v = -v
	}
	return v, ""
}

// formatDecimal writes v / 10^scale with scale fraction digits.
func formatDecimal(v int64, scale int) string {
	neg := v < 0
	u := uint64(v)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u, 10)
	if scale > 0 {
		if len(s) <= scale {
			s = strings.Repeat("0", scale-len(s)+1) + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
