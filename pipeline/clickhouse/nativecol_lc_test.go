package clickhouse

import (
	"encoding/binary"
	"io"
	"strconv"
	"testing"

	"github.com/ClickHouse/ch-go/proto"
)

// TestPutLowCardinalityWidths decodes what putLowCardinality writes for
// dictionaries that need 1-, 2- and 4-byte keys: the key width in the flags, the
// dictionary and every key come back as they went in.
func TestPutLowCardinalityWidths(t *testing.T) {
	// distinct values → the width the flags give (0, 1, 2: UInt8, UInt16, UInt32 keys)
	widths := map[int]uint64{3: 0, 256: 0, 257: 1, 65536: 1, 65537: 2}
	for distinct, width := range widths {
		dict := make([]string, distinct)
		for i := range dict {
			dict[i] = "v" + strconv.Itoa(i)
		}
		keys := make([]uint32, 2*distinct+5)
		for i := range keys {
			keys[i] = uint32((i * 7919) % distinct)
		}
		keys[0] = uint32(distinct - 1) // the widest key
		var b proto.Buffer
		b.PutString("before") // the encoder appends to what the buffer holds
		putLowCardinality(&b, dict, keys)
		buf := b.Buf[len("before")+1:]
		u64 := func() uint64 {
			v := binary.LittleEndian.Uint64(buf)
			buf = buf[8:]
			return v
		}
		if flags := u64(); flags != lcHasAdditionalKeys|lcNeedUpdateDictionary|width {
			t.Fatalf("%d distinct: flags %#x, want width %d", distinct, flags, width)
		}
		if n := u64(); n != uint64(distinct) {
			t.Fatalf("%d distinct: dictionary of %d", distinct, n)
		}
		for i, want := range dict {
			n, m := binary.Uvarint(buf)
			if got := string(buf[m : m+int(n)]); got != want {
				t.Fatalf("%d distinct: dictionary entry %d = %q, want %q", distinct, i, got, want)
			}
			buf = buf[m+int(n):]
		}
		if n := u64(); n != uint64(len(keys)) {
			t.Fatalf("%d distinct: %d keys, want %d", distinct, n, len(keys))
		}
		size := 1 << width
		if len(buf) != len(keys)*size {
			t.Fatalf("%d distinct: %d key bytes, want %d", distinct, len(buf), len(keys)*size)
		}
		for i, want := range keys {
			var got uint32
			switch size {
			case 1:
				got = uint32(buf[i])
			case 2:
				got = uint32(binary.LittleEndian.Uint16(buf[2*i:]))
			default:
				got = binary.LittleEndian.Uint32(buf[4*i:])
			}
			if got != want {
				t.Fatalf("%d distinct: key %d = %d, want %d", distinct, i, got, want)
			}
		}
	}
}

// TestBlockSize: a column that knows its size (sizer) puts no more than it into
// the writer's buffer (WriteColumn, as an uncompressed insert sends it), chunk by
// chunk of a raw payments block, and the block not much less, so that the buffer
// grown by blockSize holds the block without growing again.
func TestBlockSize(t *testing.T) {
	blk := benchPaymentsBlock(t, 2*nativeChunkRows+1000)
	cols := paymentCols(t, blk)
	var buf proto.Buffer
	for lo := 0; lo < blk.Rows; lo += nativeChunkRows {
		hi := min(lo+nativeChunkRows, blk.Rows)
		buf.Reset()
		for _, c := range cols {
			c.window(lo, hi)
		}
		need := blockSize(cols)
		known := 0
		for i, c := range cols {
			if p, ok := c.(proto.Preparable); ok {
				if err := p.Prepare(); err != nil {
					t.Fatal(err)
				}
			}
			if s, ok := c.(proto.StateEncoder); ok {
				s.EncodeState(&buf)
			}
			start := len(buf.Buf)
			c.WriteColumn(proto.NewWriter(io.Discard, &buf))
			s, ok := c.(sizer)
			if !ok || s.size() == 0 {
				continue
			}
			if wrote := len(buf.Buf) - start; wrote > s.size() {
				t.Fatalf("rows %d–%d: column %s wrote %d bytes, its size %d", lo, hi, blk.Names[i], wrote, s.size())
			}
			known++
		}
		if known < len(cols)/2 || need < len(buf.Buf)/2 || need > 3*len(buf.Buf) {
			t.Fatalf("rows %d–%d: %d of %d columns sized, block size %d for %d bytes written", lo, hi, known, len(cols), need, len(buf.Buf))
		}
	}
}
