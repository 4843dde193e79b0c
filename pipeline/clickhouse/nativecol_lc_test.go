package clickhouse

import (
	"encoding/binary"
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
