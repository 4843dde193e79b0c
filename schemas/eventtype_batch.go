package schemas

import (
	"slices"
	"strings"
	"time"
)

// typeBatch implements Batch for an EventType.
type typeBatch struct {
	t      *EventType
	o      Options
	r      recordDecoder
	events int
	bytes  int
	shrink shrinker
	blocks []Block
	names  []string

	// Raw rows: one column per leaf property, then the Kafka provenance.
	cols       rawColumns
	topic      DictColumn
	topicID    DictColumn
	partition  []int32
	offset     []int64
	ingestedAt MillisColumn
	timestamp  MillisColumn
	// run is the topic, topic id and partition of the last rows added, which
	// a partition's rows share: they reach their columns as a run, when they
	// change and in Blocks, so that a row costs a comparison, not three appends.
	run provenanceRun

	rolls []rollupState
	flush string // the token rollup blocks are marked with (SetFlush); "" for none
}

// rollupState accumulates one rollup's partials: group g has window wins[g], its
// dimension values in dims[d].s[g] or dims[d].i[g], and its measures in
// meas[m].u/i/f[g].
type rollupState struct {
	spec   *rollupSpec
	table  string
	names  []string
	window int64 // ns
	group  int   // the memory a group takes (groupBytes)
	index  groupIndex
	key    []byte // scratch: the key being looked up
	offs   []int  // scratch: where each string dimension sits in key (-1: escaped)
	wins   []int64
	dims   []dimValues
	meas   []measureAcc
	order  []keyRef // scratch: the groups in key order
	out    []anyCol // the Block's columns after window_start, sorted
	outWin []time.Time
	outFl  []uint64 // FlushColumn, when the block is marked
	marked []string // names and FlushColumn
}

type dimValues struct {
	s []string // pStr: substrings of the group's key
	i []int64  // pInt, pBool
}

type measureAcc struct {
	u []uint64
	i []int64
	f []float64
}

func newTypeBatch(t *EventType, o Options) Batch {
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		panic(err)
	}
	b := &typeBatch{
		t:     t,
		o:     o,
		r:     recordDecoder{d: decoder{lim: o.Limits, chunk: arenaChunk, transient: true}},
		names: t.ColumnNames(),
	}
	b.r.init(t)
	if pre, ok := o.Dedup.(idPrefetcher); ok && t.eventID != nil {
		b.r.idProp, b.r.pre = t.eventID, pre
	}
	b.cols = newRawColumns(t.leaves)
	for i, r := range t.rollups {
		spec := t.rolls[i]
		rs := rollupState{
			spec:   spec,
			table:  r.TableFor(t.table, o.Window),
			window: int64(r.WindowFor(o.Window)),
			dims:   make([]dimValues, len(spec.dims)),
			meas:   make([]measureAcc, len(spec.meas)),
			group:  groupBytes(spec),
		}
		for _, c := range r.Columns() {
			rs.names = append(rs.names, c.Name)
		}
		rs.marked = append(slices.Clip(rs.names), FlushColumn)
		for _, p := range spec.dims {
			c := newAnyCol(p)
			c.plainS = p.kind == pStr
			rs.out = append(rs.out, c)
		}
		for _, m := range spec.meas {
			c := anyCol{store: m.out}
			if m.field != nil {
				c.scale = m.field.scale
			}
			rs.out = append(rs.out, c)
		}
		b.rolls = append(b.rolls, rs)
	}
	return b
}

func (b *typeBatch) Add(value []byte, m *Meta) error {
	r := &b.r
	if inv := r.record(value); inv != nil {
		return inv
	}
	t := b.t
	var ns int64
	if t.evTime != nil {
		ns = r.slots[t.evTime.index].i // required: present
		if inv := b.o.Limits.checkTimeNanos(t.evTime.path, ns, m); inv != nil {
			return inv
		}
	}
	// The filter's horizon is on Kafka timestamps, as the stored ids' are.
	if b.o.Dedup != nil && t.eventID != nil && !b.o.Dedup.Admit(r.slots[t.eventID.index].s, m.Timestamp.UnixNano(), m.Offset) {
		return ErrDuplicate
	}
	b.events++
	if b.o.Raw {
		n := b.cols.appendRow(r)
		if r := &b.run; r.rows == 0 || m.Partition != r.partition || m.Topic != r.topic || m.TopicID != r.topicID {
			b.endRun()
			r.topic, r.topicID, r.partition = m.Topic, m.TopicID, m.Partition
		}
		b.run.rows++
		push(&b.offset, m.Offset)
		push(&b.ingestedAt, m.IngestedAt.UnixMilli())
		push(&b.timestamp, m.timestampMillis())
		b.bytes += n + 4 + 4 + 4 + 8 + 8 + 8
	}
	if b.o.SkipRollups {
		return nil
	}
	for i := range b.rolls {
		b.bytes += b.rolls[i].add(r, ns)
	}
	return nil
}

// add adds the record in r, at event time ns, to the rollup; it returns the memory
// a new group takes (0 for an existing one).
func (rs *rollupState) add(r *recordDecoder, ns int64) (grew int) {
	w := windowStartNs(ns, rs.window)
	k := appendKeyInt(rs.key[:0], w)
	offs := rs.offs[:0]
	for _, p := range rs.spec.dims {
		s := r.here(p)
		if p.kind == pStr {
			v := ""
			if s != nil {
				v = s.s
			}
			start := len(k)
			var plain bool
			if k, plain = appendKeyStr(k, v); !plain {
				start = -1
			}
			offs = append(offs, start)
			continue
		}
		var v int64
		if s != nil {
			v = s.i
		}
		k = appendKeyInt(k, v)
	}
	rs.key, rs.offs = k, offs
	g, h, ok := rs.index.lookup(k)
	if !ok {
		g = rs.newGroup(w, r, h)
		grew = rs.group
	}
	for j := range rs.spec.meas {
		m := &rs.spec.meas[j]
		a := &rs.meas[j]
		if m.fn == aCount {
			a.u[g]++
			continue
		}
		var v int64
		var f float64
		if s := r.here(m.field); s != nil {
			v, f = scalarInt(m.field, s.i), s.f
		}
		switch m.acc {
		case accU64:
			switch u := uint64(v); {
			case m.fn == aSum:
				a.u[g] += u
			case !ok || m.fn == aMin && u < a.u[g] || m.fn == aMax && u > a.u[g]:
				a.u[g] = u
			}
		case accI64:
			switch {
			case m.fn == aSum:
				a.i[g] += v
			case !ok || m.fn == aMin && v < a.i[g] || m.fn == aMax && v > a.i[g]:
				a.i[g] = v
			}
		default:
			switch {
			case m.fn == aSum:
				a.f[g] += f
			case !ok || m.fn == aMin && f < a.f[g] || m.fn == aMax && f > a.f[g]:
				a.f[g] = f
			}
		}
	}
	return grew
}

// groupBytes is the memory one group of a rollup takes: its window and partials
// (wins, dims, meas), its key in the index's arena (a string dimension's value
// counted as 16 bytes), its place in the index (two slots at most half full, its
// hash and key header) and in the sorted order, and its row of the block a flush
// builds (window_start as a time.Time, the dimensions and measures, the flush
// column). The hand-written batches count their groups alike (paymentAggBytes).
func groupBytes(spec *rollupSpec) int {
	n := groupFixedBytes
	for _, p := range spec.dims {
		if p.kind == pStr {
			n += groupStrBytes
		} else {
			n += groupIntBytes
		}
	}
	return n + groupMeasureBytes*len(spec.meas)
}

// The parts of groupBytes.
const (
	groupFixedBytes   = 8 + 8 + 2*4 + 8 + 16 + 24 + 24 + 8 // window, its key, index, order, block row
	groupStrBytes     = 16 + 16 + 16                       // partial, key, block
	groupIntBytes     = 8 + 8 + 8
	groupMeasureBytes = 8 + 8
)

// newGroup adds the group of the key in rs.key, of hash h. The key is copied
// once, into the index's arena; its string dimensions are substrings of the copy
// (a value holding a NUL, escaped in the key, is copied on its own).
func (rs *rollupState) newGroup(w int64, r *recordDecoder, h uint64) int32 {
	key := rs.index.add(rs.key, h)
	g := int32(len(rs.wins))
	push(&rs.wins, w)
	si := 0
	for d, p := range rs.spec.dims {
		dv := &rs.dims[d]
		if p.kind == pStr {
			start := rs.offs[si]
			si++
			v := ""
			if s := r.here(p); s != nil {
				v = s.s
			}
			if start >= 0 {
				v = key[start : start+len(v)]
			} else {
				v = strings.Clone(v)
			}
			push(&dv.s, v)
			continue
		}
		var v int64
		if s := r.here(p); s != nil {
			v = s.i
		}
		push(&dv.i, v)
	}
	for j := range rs.meas {
		a := &rs.meas[j]
		switch rs.spec.meas[j].acc {
		case accU64:
			push(&a.u, 0)
		case accI64:
			push(&a.i, 0)
		default:
			push(&a.f, 0)
		}
	}
	return g
}

func (b *typeBatch) Events() int { return b.events }

func (b *typeBatch) Bytes() int { return b.bytes }

// provenanceRun is rows rows of one topic, topic id and partition.
type provenanceRun struct {
	topic, topicID string
	partition      int32
	rows           int
}

// endRun appends the rows of b.run to the provenance columns.
func (b *typeBatch) endRun() {
	r := &b.run
	if r.rows == 0 {
		return
	}
	b.topic.AppendN(r.topic, r.rows)
	b.topicID.AppendN(r.topicID, r.rows)
	pushN(&b.partition, r.partition, r.rows)
	r.rows = 0
}

func (b *typeBatch) Blocks() []Block {
	b.endRun()
	b.blocks = b.blocks[:0]
	if b.o.Raw && len(b.offset) > 0 {
		cols := b.cols.values(make([]any, 0, len(b.cols.ops)+len(metaColumns)))
		cols = append(cols, b.topic, b.topicID, b.partition, b.offset, b.ingestedAt, b.timestamp)
		b.blocks = append(b.blocks, Block{Table: b.t.table, Names: b.names, Columns: cols, Rows: len(b.offset)})
	}
	for i := range b.rolls {
		if blk, ok := b.rolls[i].block(b.flush); ok {
			b.blocks = append(b.blocks, blk)
		}
	}
	return b.blocks
}

// Sizes implements Sizer: the raw columns' sizes, then the rows.
func (b *typeBatch) Sizes(dst []int) []int {
	return append(b.cols.sizes(dst), len(b.offset))
}

// Reserve implements Sizer.
func (b *typeBatch) Reserve(sizes []int) {
	if !b.o.Raw || cap(b.offset) > 0 || len(sizes) != b.cols.nsizes()+1 {
		return
	}
	rows := b.cols.reserve(sizes)[0]
	reserve(&b.topic.Keys, rows)
	reserve(&b.topicID.Keys, rows)
	reserve(&b.partition, rows)
	reserve(&b.offset, rows)
	reserve(&b.ingestedAt, rows)
	reserve(&b.timestamp, rows)
}

// SetFlush implements FlushMarker.
func (b *typeBatch) SetFlush(token string) { b.flush = token }

// block sorts the groups by (window, dimensions) and returns them as a Block; with
// a flush token, followed by FlushColumn and a marker per table partition (see
// FlushColumn). The keys' bytes compare in that order (groupIndex).
func (rs *rollupState) block(flush string) (Block, bool) {
	n := len(rs.wins)
	if n == 0 {
		return Block{}, false
	}
	rs.order = rs.index.sortedGroups(rs.order)
	size := n
	if flush != "" {
		size += 2 // the markers of a block within two months, without growing
	}
	rs.outWin = slices.Grow(rs.outWin[:0], size)
	for i := range rs.out {
		rs.out[i].reset(false)
		rs.out[i].reserve(size)
	}
	nd := len(rs.spec.dims)
	for _, ref := range rs.order {
		g := ref.g
		rs.outWin = append(rs.outWin, time.Unix(rs.wins[g], 0).UTC())
		for d, p := range rs.spec.dims {
			if p.kind == pStr {
				rs.out[d].appendStr(rs.dims[d].s[g])
			} else {
				rs.out[d].appendInt(rs.dims[d].i[g])
			}
		}
		for j := range rs.meas {
			a, c := &rs.meas[j], &rs.out[nd+j]
			switch rs.spec.meas[j].acc {
			case accU64:
				c.appendInt(int64(a.u[g]))
			case accI64:
				c.appendInt(a.i[g])
			default:
				c.appendFloat(a.f[g])
			}
		}
	}
	names := rs.names
	if flush != "" {
		n += rs.mark(flush)
		names = rs.marked
	}
	cols := make([]any, 0, 2+len(rs.out))
	cols = append(cols, rs.outWin)
	for i := range rs.out {
		cols = append(cols, rs.out[i].value())
	}
	if flush != "" {
		cols = append(cols, rs.outFl)
	}
	return Block{Table: rs.table, Names: names, Columns: cols, Rows: n}, true
}

// mark appends FlushColumn to the sorted rows of the block being built (0 on each)
// and one marker row per table partition they fall in, with the key of the
// partition's first row, and returns the markers added.
func (rs *rollupState) mark(flush string) int {
	rs.outFl = rs.outFl[:0]
	for range rs.outWin {
		rs.outFl = append(rs.outFl, 0)
	}
	nd, rows, added := len(rs.spec.dims), len(rs.outWin), 0
	month := int32(-1)
	for i := range rows {
		w := rs.outWin[i] // sorted: a partition's first window comes first
		m := RollupMonth(w)
		if m == month {
			continue
		}
		month = m
		g := rs.order[i].g
		rs.outWin = append(rs.outWin, w)
		for d, p := range rs.spec.dims {
			if p.kind == pStr {
				rs.out[d].appendStr(rs.dims[d].s[g])
			} else {
				rs.out[d].appendInt(rs.dims[d].i[g])
			}
		}
		for j, ms := range rs.spec.meas {
			appendNeutral(&rs.out[nd+j], ms)
		}
		rs.outFl = append(rs.outFl, FlushID(flush, m))
		added++
	}
	return added
}

func (b *typeBatch) Reset() {
	b.flush = ""
	drop := b.shrink.release(b.events)
	b.events, b.bytes, b.run.rows = 0, 0, 0
	b.cols.reset(drop)
	if drop {
		b.topic, b.topicID, b.partition, b.offset, b.ingestedAt, b.timestamp = DictColumn{}, DictColumn{}, nil, nil, nil, nil
	} else {
		b.topic.Reset()
		b.topicID.Reset()
		b.partition, b.offset, b.ingestedAt, b.timestamp = b.partition[:0], b.offset[:0], b.ingestedAt[:0], b.timestamp[:0]
	}
	for i := range b.rolls {
		rs := &b.rolls[i]
		rs.index.reset(drop)
		if drop {
			rs.wins, rs.order, rs.outWin, rs.outFl = nil, nil, nil, nil
			clear(rs.dims)
			clear(rs.meas)
			for j := range rs.out {
				rs.out[j].reset(true)
			}
			continue
		}
		rs.wins = rs.wins[:0]
		for d := range rs.dims {
			clear(rs.dims[d].s) // the keys' memory
			rs.dims[d].s, rs.dims[d].i = rs.dims[d].s[:0], rs.dims[d].i[:0]
		}
		for j := range rs.meas {
			a := &rs.meas[j]
			a.u, a.i, a.f = a.u[:0], a.i[:0], a.f[:0]
		}
	}
}

// row returns the decoded record as column → plain value (see EventType.Decode).
func (r *recordDecoder) row() map[string]any {
	out := make(map[string]any, len(r.t.leaves))
	for _, p := range r.t.leaves {
		c := newAnyCol(p)
		c.appendSlot(p, r.here(p))
		out[p.column] = ColumnValue(c.value(), 0)
	}
	return out
}
